//! Recognizes the shapes Reddit data arrives in and hands each thing to the flattener.
//!
//! Accepted: bare objects (dump lines), `{"kind","data"}` things, Listing pages, arrays of those (the
//! `/comments/{id}` response), and `/api/morechildren` answers (`{"json":{"data":{"things":[...]}}}`).
//! Comments nested in `replies` become rows of `comments`; `more` stubs are counted and skipped.

use serde_json::{Map, Value};

use super::flatten::{FlatChunk, FlattenOptions, Reject, SourceRef};
use crate::registry;

/// How to route bare objects (those without `kind`).
#[derive(Debug, Clone, Default)]
pub struct Routing {
    /// Table for bare objects; `None` detects submissions or comments from their fields.
    pub default_table: Option<String>,
}

impl FlatChunk {
    /// Adds one input record (a line or a whole document) in any accepted shape.
    pub fn add_record(&mut self, value: Value, source: SourceRef, routing: &Routing, opts: &FlattenOptions) {
        match value {
            Value::Array(items) => {
                for v in items {
                    self.add_record(v, source, routing, opts);
                }
            }
            Value::Object(obj) => self.add_object(obj, source, routing, opts),
            other => self.rejects.push(Reject {
                source,
                reason: format!("expected a JSON object or array, found {}", json_kind(&other)),
            }),
        }
    }

    fn add_object(
        &mut self,
        mut obj: Map<String, Value>,
        source: SourceRef,
        routing: &Routing,
        opts: &FlattenOptions,
    ) {
        let kind = match obj.get("kind") {
            Some(Value::String(k)) if obj.get("data").is_some_and(Value::is_object) => Some(k.clone()),
            _ => None,
        };
        match kind.as_deref() {
            Some("Listing") => {
                if let Some(Value::Object(mut data)) = obj.remove("data") {
                    match data.remove("children") {
                        Some(Value::Array(children)) => {
                            for c in children {
                                self.add_record(c, source, routing, opts);
                            }
                        }
                        _ => self.rejects.push(Reject {
                            source,
                            reason: "a Listing without `children`".into(),
                        }),
                    }
                }
            }
            Some("more") => self.more_stubs += 1,
            Some(k) => {
                let table = match registry::table_for_kind(k) {
                    Some(t) => t.to_owned(),
                    None => k.to_owned(),
                };
                if let Some(Value::Object(data)) = obj.remove("data") {
                    self.add_thing(&table, data, source, routing, opts);
                }
            }
            None => {
                if let Some(things) = morechildren_things(&mut obj) {
                    for t in things {
                        self.add_record(t, source, routing, opts);
                    }
                    return;
                }
                let table = match &routing.default_table {
                    Some(t) => t.clone(),
                    None => match detect_table(&obj) {
                        Some(t) => t.to_owned(),
                        None => {
                            self.rejects.push(Reject {
                                source,
                                reason:
                                    "cannot tell which table this object belongs to (no `kind`, and neither \
                                         `title` nor `body`); pass --table"
                                        .into(),
                            });
                            return;
                        }
                    },
                };
                self.add_thing(&table, obj, source, routing, opts);
            }
        }
    }

    fn add_thing(
        &mut self,
        table: &str,
        mut data: Map<String, Value>,
        source: SourceRef,
        routing: &Routing,
        opts: &FlattenOptions,
    ) {
        if table == "comments" {
            match data.remove("replies") {
                Some(Value::String(s)) if s.is_empty() => {}
                Some(Value::Null) | None => {}
                Some(replies @ Value::Object(_)) => {
                    self.add_root(table, data, source, opts);
                    self.add_record(replies, source, routing, opts);
                    return;
                }
                Some(other) => {
                    data.insert("replies".to_owned(), other);
                }
            }
        }
        self.add_root(table, data, source, opts);
    }
}

fn morechildren_things(obj: &mut Map<String, Value>) -> Option<Vec<Value>> {
    let json = obj.get_mut("json")?.as_object_mut()?;
    let things = json.get_mut("data")?.as_object_mut()?.remove("things")?;
    match things {
        Value::Array(a) => Some(a),
        _ => None,
    }
}

/// Submissions have a `title`; comments have a `body` and a `link_id` or `parent_id`.
pub fn detect_table(obj: &Map<String, Value>) -> Option<&'static str> {
    if obj.contains_key("body") && (obj.contains_key("link_id") || obj.contains_key("parent_id")) {
        Some("comments")
    } else if obj.contains_key("title") && (obj.contains_key("selftext") || obj.contains_key("url")) {
        Some("submissions")
    } else {
        None
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
