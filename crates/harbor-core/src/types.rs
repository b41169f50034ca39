//! Column data types and the values a normalized row holds.

use serde::{Deserialize, Serialize};

/// The logical type of a column, independent of any destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataType {
    /// `true` / `false`.
    Bool,
    /// 64-bit signed integer.
    Bigint,
    /// 64-bit float.
    Double,
    /// UTF-8 text.
    Text,
    /// Instant in UTC, microsecond precision.
    Timestamp,
    /// A JSON document kept as text.
    Json,
}

impl DataType {
    /// Every data type, in a stable order.
    pub const ALL: [DataType; 6] = [
        DataType::Bool,
        DataType::Bigint,
        DataType::Double,
        DataType::Text,
        DataType::Timestamp,
        DataType::Json,
    ];

    /// The short name used in variant column names (`score__v_text`) and in config files.
    pub fn name(self) -> &'static str {
        match self {
            DataType::Bool => "bool",
            DataType::Bigint => "bigint",
            DataType::Double => "double",
            DataType::Text => "text",
            DataType::Timestamp => "timestamp",
            DataType::Json => "json",
        }
    }

    /// Parses a name produced by [`DataType::name`].
    pub fn from_name(name: &str) -> Option<DataType> {
        DataType::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl std::fmt::Display for DataType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One value of a normalized row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Absent or JSON `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A float (or an integer too large for 64 bits).
    Float(f64),
    /// A string.
    Text(String),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// A serialized JSON document.
    Json(String),
}

impl Cell {
    /// The natural type of this value, `None` for null.
    pub fn natural_type(&self) -> Option<DataType> {
        match self {
            Cell::Null => None,
            Cell::Bool(_) => Some(DataType::Bool),
            Cell::Int(_) => Some(DataType::Bigint),
            Cell::Float(_) => Some(DataType::Double),
            Cell::Text(_) => Some(DataType::Text),
            Cell::Timestamp(_) => Some(DataType::Timestamp),
            Cell::Json(_) => Some(DataType::Json),
        }
    }

    /// Converts this value so it can be stored in a column of type `target`, if that loses nothing.
    ///
    /// Integers fit double columns, integral doubles fit bigint columns, and epoch seconds (integer or
    /// float) fit timestamp columns. Anything else is a conflict that goes to a variant column.
    pub fn coerce(self, target: DataType) -> Result<Cell, Cell> {
        match (self, target) {
            (Cell::Null, _) => Ok(Cell::Null),
            (c @ Cell::Bool(_), DataType::Bool)
            | (c @ Cell::Int(_), DataType::Bigint)
            | (c @ Cell::Float(_), DataType::Double)
            | (c @ Cell::Text(_), DataType::Text)
            | (c @ Cell::Timestamp(_), DataType::Timestamp)
            | (c @ Cell::Json(_), DataType::Json) => Ok(c),
            (Cell::Int(i), DataType::Double) => Ok(Cell::Float(i as f64)),
            (Cell::Float(f), DataType::Bigint) if is_exact_int(f) => Ok(Cell::Int(f as i64)),
            (Cell::Int(i), DataType::Timestamp) => {
                i.checked_mul(1_000_000).map(Cell::Timestamp).ok_or(Cell::Int(i))
            }
            (Cell::Float(f), DataType::Timestamp) => epoch_float_to_micros(f)
                .map(Cell::Timestamp)
                .ok_or(Cell::Float(f)),
            (c, _) => Err(c),
        }
    }
}

/// Converts epoch seconds (as Reddit sends them, often `1700000000.0`) to microseconds.
pub fn epoch_float_to_micros(f: f64) -> Option<i64> {
    // Range check keeps the cast well-defined: years 0001..9999.
    if f.is_finite() && (-62_135_596_800.0..253_402_300_800.0).contains(&f) {
        Some((f * 1_000_000.0).round() as i64)
    } else {
        None
    }
}

fn is_exact_int(f: f64) -> bool {
    f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coercion_rules() {
        assert_eq!(Cell::Int(3).coerce(DataType::Double), Ok(Cell::Float(3.0)));
        assert_eq!(Cell::Float(3.0).coerce(DataType::Bigint), Ok(Cell::Int(3)));
        assert_eq!(Cell::Float(3.5).coerce(DataType::Bigint), Err(Cell::Float(3.5)));
        assert_eq!(
            Cell::Float(1_700_000_000.5).coerce(DataType::Timestamp),
            Ok(Cell::Timestamp(1_700_000_000_500_000))
        );
        assert_eq!(
            Cell::Text("x".into()).coerce(DataType::Bigint),
            Err(Cell::Text("x".into()))
        );
        assert_eq!(Cell::Bool(true).coerce(DataType::Text), Err(Cell::Bool(true)));
    }

    #[test]
    fn names_round_trip() {
        for t in DataType::ALL {
            assert_eq!(DataType::from_name(t.name()), Some(t));
        }
    }
}
