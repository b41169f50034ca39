//! Helpers for Reddit "things": `{"kind": "t3", "data": {...}}` JSON objects.

use serde_json::Value;

/// The `data` object of a thing (or the value itself when it has no `data`).
pub fn data(thing: &Value) -> &Value {
    thing.get("data").unwrap_or(thing)
}

/// The thing's kind (`t1`, `t3`, `more`, `Listing`...).
pub fn kind(thing: &Value) -> Option<&str> {
    thing.get("kind").and_then(Value::as_str)
}

/// The base-36 id (`data.id`).
pub fn id(thing: &Value) -> Option<&str> {
    data(thing).get("id").and_then(Value::as_str)
}

/// The fullname (`data.name`, or kind + `_` + id).
pub fn fullname(thing: &Value) -> Option<String> {
    let d = data(thing);
    if let Some(name) = d.get("name").and_then(Value::as_str) {
        return Some(name.to_owned());
    }
    Some(format!("{}_{}", kind(thing)?, id(thing)?))
}

/// `created_utc` as epoch seconds (Reddit sends a float).
pub fn created_utc(thing: &Value) -> Option<f64> {
    data(thing).get("created_utc").and_then(Value::as_f64)
}

/// Adds the `t3_` prefix to a bare post id (leaves fullnames as they are).
pub fn post_fullname(id: &str) -> String {
    if id.starts_with("t3_") {
        id.to_owned()
    } else {
        format!("t3_{id}")
    }
}

/// Strips any `tN_` prefix.
pub fn bare_id(fullname: &str) -> &str {
    match fullname.split_once('_') {
        Some((prefix, rest)) if prefix.len() == 2 && prefix.starts_with('t') => rest,
        _ => fullname,
    }
}

/// The children of a `Listing` thing.
pub fn listing_children(listing: &Value) -> Option<&Vec<Value>> {
    data(listing).get("children").and_then(Value::as_array)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names() {
        let t = json!({"kind":"t3","data":{"id":"abc","created_utc":1.5e9}});
        assert_eq!(fullname(&t).as_deref(), Some("t3_abc"));
        assert_eq!(created_utc(&t), Some(1.5e9));
        assert_eq!(bare_id("t1_xyz"), "xyz");
        assert_eq!(bare_id("xyz"), "xyz");
        assert_eq!(post_fullname("abc"), "t3_abc");
    }
}
