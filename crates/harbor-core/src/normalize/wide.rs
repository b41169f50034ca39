//! Objects that must not become one column per key: objects keyed by ids, and objects wider than
//! the column budget. Both are stored as one JSON column (see [`crate::schema::JsonReason`]).
//!
//! The rule for id keys is a pure function of one object, so it gives the same answer on every
//! worker and in every load: an object with at least [`MIN_ID_KEYS`] keys of which at least
//! [`ID_KEY_SHARE_PERCENT`] percent look like ids ([`looks_like_id`]). The minimum count keeps small
//! ordinary objects (`{"x": 1, "y": 2}`, `{"2019": ..}` alone) as columns; the share tolerates a few
//! ordinary keys beside the ids (`{"count": 3, "t3_abc": .., ...}`).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use crate::schema::DEFAULT_MAX_COLUMNS;

/// Fewest keys an object needs before its keys are judged as ids.
pub const MIN_ID_KEYS: usize = 8;

/// Share (percent) of an object's keys that must look like ids.
pub const ID_KEY_SHARE_PERCENT: usize = 90;

/// The column budget: the most columns a table gets, per raw root table name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnBudget {
    /// Budget of tables not listed in `tables`.
    pub default: usize,
    /// Budget per raw root table name; child tables use their root's.
    pub tables: BTreeMap<String, usize>,
}

impl Default for ColumnBudget {
    fn default() -> Self {
        Self {
            default: DEFAULT_MAX_COLUMNS,
            tables: BTreeMap::new(),
        }
    }
}

impl ColumnBudget {
    /// The budget of the tables under the raw root table `root`.
    pub fn for_root(&self, root: &str) -> usize {
        self.tables.get(root).copied().unwrap_or(self.default)
    }
}

/// Whether a key looks like an id rather than a field name: a number, a Reddit fullname (`t3_abc`),
/// a UUID, a hex hash (16+ hex digits), or a short token of letters and digits with at least one of
/// each (Reddit base36 ids, media ids, other services' ids). Field names have underscores, spaces or
/// no digits (`created_utc`, `title`, `over_18`) and do not match.
pub fn looks_like_id(key: &str) -> bool {
    let b = key.as_bytes();
    if b.is_empty() || b.len() > 64 {
        return false;
    }
    if b.len() <= 20 && b.iter().all(u8::is_ascii_digit) {
        return true;
    }
    // Reddit fullname: t1_ .. t6_ and a base36 id.
    if b.len() > 3
        && b[0] == b't'
        && (b'1'..=b'6').contains(&b[1])
        && b[2] == b'_'
        && b[3..]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
    {
        return true;
    }
    if is_uuid(b) {
        return true;
    }
    if b.len() >= 16 && b.iter().all(u8::is_ascii_hexdigit) && b.iter().any(u8::is_ascii_digit) {
        return true;
    }
    (5..=32).contains(&b.len())
        && b.iter().all(u8::is_ascii_alphanumeric)
        && b.iter().any(u8::is_ascii_digit)
        && b.iter().any(u8::is_ascii_alphabetic)
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Whether the keys of `obj` are ids (see the module docs).
pub fn is_id_keyed(obj: &Map<String, Value>) -> bool {
    let n = obj.len();
    if n < MIN_ID_KEYS {
        return false;
    }
    let ids = obj.keys().filter(|k| looks_like_id(k)).count();
    ids * 100 >= n * ID_KEY_SHARE_PERCENT
}

/// Whether `obj` holds more than `limit` leaf values (scalars, nulls, lists counted as one each: a
/// list becomes a child table, not columns). Stops counting once past the limit.
pub fn wider_than(obj: &Map<String, Value>, limit: usize) -> bool {
    fn count(v: &Value, left: &mut usize) -> bool {
        match v {
            Value::Object(m) => m.values().any(|c| count(c, left)),
            _ => {
                if *left == 0 {
                    return true;
                }
                *left -= 1;
                false
            }
        }
    }
    let mut left = limit;
    obj.values().any(|c| count(c, &mut left))
}

/// Splits the keys of a table row that look like ids from the others, for a row object that is
/// itself keyed by ids: the ids go into one JSON object (the table's overflow column), the rest are
/// flattened as usual. Returns the id part.
pub fn split_id_keys(
    obj: &mut Map<String, Value>,
    keep: &HashMap<String, String>,
    table: &str,
) -> Map<String, Value> {
    let pk = keep.get(table);
    let ids: Vec<String> = obj
        .keys()
        .filter(|k| looks_like_id(k) && Some(*k) != pk)
        .cloned()
        .collect();
    let mut out = Map::new();
    for k in ids {
        if let Some(v) = obj.remove(&k) {
            out.insert(k, v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_and_field_names() {
        for id in [
            "1",
            "1234567890",
            "t3_1abcd",
            "t1_k2x9",
            "abc12",
            "1f4xq9z",
            "dQw4w9WgXcQ",
            "3f2b8c1d9e0a4b7c",
            "0b6a2f9e-3c1d-4e8f-9a7b-1c2d3e4f5a6b",
        ] {
            assert!(looks_like_id(id), "{id} should look like an id");
        }
        for name in [
            "title",
            "created_utc",
            "over_18",
            "t3",
            "a1",
            "x264",
            "author_flair_text",
            "media",
            "selftext_html",
            "",
            "score",
            "ups",
            "id",
            "url",
        ] {
            assert!(!looks_like_id(name), "{name} should not look like an id");
        }
    }

    #[test]
    fn id_keyed_needs_enough_keys_and_a_large_share() {
        let few = json!({"1": 1, "2": 2, "3": 3});
        assert!(!is_id_keyed(few.as_object().expect("object")));
        let mut m = Map::new();
        for i in 0..20 {
            m.insert(format!("t3_abc{i}"), json!(i));
        }
        assert!(is_id_keyed(&m));
        m.insert("count".into(), json!(20));
        assert!(is_id_keyed(&m), "one ordinary key beside 20 ids");
        for i in 0..10 {
            m.insert(format!("field_{i}"), json!(i));
        }
        assert!(!is_id_keyed(&m), "a third ordinary keys");
    }

    #[test]
    fn width_counts_leaves_and_stops_early() {
        let v = json!({"a": {"b": 1, "c": [1, 2, 3]}, "d": null});
        let m = v.as_object().expect("object");
        assert!(!wider_than(m, 3));
        assert!(wider_than(m, 2));
    }
}
