//! The column budget inside resolving: the overflow column that values past the budget go to,
//! and the paths kept as one JSON column (marked, settled and folded into their column).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::flatten::{FlatColumn, RAW_SEP};
use super::resolve::{ResolveOptions, ResolveStats, column_candidate, data_column};
use crate::schema::{C_OVERFLOW, JsonPath, JsonReason, Schema, TableSchema};
use crate::types::{Cell, DataType};

/// Whether `table` may get one more column within `budget`, keeping a place for the overflow
/// column the values that do not fit go to.
pub(super) fn has_room(table: &TableSchema, budget: usize) -> bool {
    let reserve = usize::from(table.column(C_OVERFLOW).is_none());
    table.columns.len() + reserve < budget
}

/// The index of the table's overflow column, created if needed (it is always within the budget,
/// see [`has_room`]).
pub(super) fn overflow_column(schema: &mut Schema, table_name: &str) -> usize {
    let Some(table) = schema.tables.get_mut(table_name) else {
        // Invariant: the caller resolved rows of this table, so it exists.
        unreachable!("table `{table_name}` is in the schema")
    };
    if let Some(i) = table.columns.iter().position(|c| c.name == C_OVERFLOW) {
        return i;
    }
    table.names.reserve(C_OVERFLOW);
    table
        .columns
        .push(data_column(C_OVERFLOW.to_owned(), DataType::Json, false, None));
    schema.version += 1;
    table.columns.len() - 1
}

pub(super) fn note_overflow(stats: &mut ResolveStats, table: &str, segments: &[String]) {
    let set = stats.overflowed.entry(table.to_owned()).or_default();
    if set.len() < 100_000 {
        set.insert(segments.join("."));
    }
}

/// Records that objects at `segments` of `table` are one JSON column from now on.
pub(super) fn mark_json_path(
    schema: &mut Schema,
    table_name: &str,
    segments: &[String],
    reason: JsonReason,
    opts: &ResolveOptions,
    stats: &mut ResolveStats,
) {
    let Some(table) = schema.tables.get_mut(table_name) else {
        return;
    };
    let raw = segments.join(&RAW_SEP.to_string());
    if table.json_paths.contains_key(&raw) {
        return;
    }
    let column = match table.names.get(&raw) {
        Some(n) => n.to_owned(),
        None if raw == C_OVERFLOW => C_OVERFLOW.to_owned(),
        None => crate::naming::shorten(&column_candidate(segments), opts.max_identifier_len),
    };
    stats
        .json_columns
        .push((table_name.to_owned(), column.clone(), reason));
    table.json_paths.insert(raw, JsonPath { column, reason });
    schema.version += 1;
}

/// After routing: a JSON path records the column that really holds it (its own, or the overflow
/// column when the table was full).
pub(super) fn settle_json_paths(schema: &mut Schema, table_name: &str) {
    let Some(table) = schema.tables.get_mut(table_name) else {
        return;
    };
    for (raw, p) in table.json_paths.iter_mut() {
        let actual = match table.names.get(raw) {
            Some(n) => n.to_owned(),
            None => C_OVERFLOW.to_owned(),
        };
        if p.column != actual && table.columns.iter().any(|c| c.name == actual) {
            p.column = actual;
        }
    }
}

/// One JSON object per row.
pub(super) type RowObjects = BTreeMap<u32, Map<String, Value>>;

/// Folds flat columns that lie under a JSON path of `table` back into one JSON value per row at
/// that path, and moves the cells of a flattened overflow column (ids kept by phase one) into the
/// rows' overflow objects. Other columns pass through unchanged, in order.
pub(super) fn fold_json_paths(
    table: &TableSchema,
    columns: Vec<FlatColumn>,
    overflow: &mut RowObjects,
) -> Vec<FlatColumn> {
    let mut out = Vec::with_capacity(columns.len());
    // Folded objects per JSON path, in first-seen order.
    let mut folded: Vec<(Vec<String>, RowObjects)> = Vec::new();
    let sep = RAW_SEP.to_string();
    for fc in columns {
        if fc.segments.len() == 1 && fc.segments[0] == C_OVERFLOW {
            for (row, cell) in fc.cells {
                let obj = overflow.entry(row).or_default();
                match cell_value(cell) {
                    Value::Object(m) => obj.extend(m),
                    other => {
                        obj.insert(C_OVERFLOW.to_owned(), other);
                    }
                }
            }
            continue;
        }
        let prefix = if table.json_paths.is_empty() {
            None
        } else {
            (1..fc.segments.len()).find(|&n| table.json_paths.contains_key(&fc.segments[..n].join(&sep)))
        };
        let Some(n) = prefix else {
            out.push(fc);
            continue;
        };
        let path = &fc.segments[..n];
        let slot = match folded.iter().position(|(p, _)| p.as_slice() == path) {
            Some(i) => i,
            None => {
                folded.push((path.to_vec(), BTreeMap::new()));
                folded.len() - 1
            }
        };
        let rest = &fc.segments[n..];
        for (row, cell) in fc.cells {
            overflow_insert(folded[slot].1.entry(row).or_default(), rest, cell);
        }
    }
    for (segments, rows) in folded {
        out.push(FlatColumn {
            segments,
            registry: None,
            cells: rows
                .into_iter()
                .map(|(row, obj)| (row, Cell::Json(Value::Object(obj).to_string())))
                .collect(),
        });
    }
    out
}

/// Puts `cell` at `path` inside `obj`, creating nested objects as needed.
pub(super) fn overflow_insert(obj: &mut Map<String, Value>, path: &[String], cell: Cell) {
    let value = cell_value(cell);
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    if !path_is_free(obj, parents) {
        // A scalar already sits where an object is needed (cannot happen for one JSON record);
        // keep the value under its dotted path instead of losing either.
        obj.insert(path.join("."), value);
        return;
    }
    let mut cur = obj;
    for seg in parents {
        let entry = cur
            .entry(seg.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(m) = entry else {
            unreachable!("checked by path_is_free")
        };
        cur = m;
    }
    cur.insert(last.clone(), value);
}

/// Whether every prefix of `parents` is either absent or an object in `obj`.
pub(super) fn path_is_free(obj: &Map<String, Value>, parents: &[String]) -> bool {
    let mut cur = obj;
    for seg in parents {
        match cur.get(seg) {
            None => return true,
            Some(Value::Object(m)) => cur = m,
            Some(_) => return false,
        }
    }
    true
}

/// A cell as JSON.
pub(super) fn cell_value(cell: Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Bool(b) => Value::Bool(b),
        Cell::Int(i) => Value::from(i),
        Cell::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        Cell::Text(s) => Value::String(s),
        Cell::Timestamp(us) => Value::from(us),
        Cell::Json(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
    }
}
