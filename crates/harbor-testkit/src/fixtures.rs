//! The recorded Reddit responses in `../shared/fixtures`, for tests.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The shared fixtures directory (`<repo>/../shared/fixtures`).
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

/// Every recorded API exchange with status 200 and a JSON body, as (path relative to `api/`, body),
/// sorted by path.
pub fn api_bodies() -> Vec<(String, Value)> {
    let root = fixtures_dir().join("api");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                let Ok(bytes) = std::fs::read(&p) else { continue };
                let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
                    continue;
                };
                if v["status"] == 200 && (v["body"].is_object() || v["body"].is_array()) {
                    let rel = p.strip_prefix(&root).unwrap_or(&p).display().to_string();
                    out.push((rel, v["body"].clone()));
                }
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Ids of the things of `kind` (`t1`, `t3`) anywhere in a body, including nested replies and
/// morechildren answers.
pub fn thing_ids(v: &Value, kind: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if m.get("kind").and_then(Value::as_str) == Some(kind)
                && let Some(id) = m.get("data").and_then(|d| d.get("id")).and_then(Value::as_str)
            {
                out.insert(id.to_owned());
            }
            for x in m.values() {
                thing_ids(x, kind, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| thing_ids(x, kind, out)),
        _ => {}
    }
}
