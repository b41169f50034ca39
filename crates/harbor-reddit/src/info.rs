//! Batch refresh through `/api/info` (100 fullnames a call) and deletion detection.

use std::collections::HashSet;

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use crate::client::{Call, RedditClient};
use crate::error::{Error, Result};
use crate::listing::parse_listing;
use crate::stats::Endpoint;
use crate::thing;

/// Most fullnames `/api/info` accepts in one call.
pub const INFO_BATCH: usize = 100;

/// The result of refreshing a set of fullnames.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InfoRefresh {
    /// Current versions of the things Reddit returned.
    pub things: Vec<Value>,
    /// Fullnames Reddit returned nothing for (gone entirely, or invalid).
    pub missing: Vec<String>,
    /// Calls made.
    pub calls: usize,
}

/// How content disappeared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Removal {
    /// The author deleted it (`[deleted]` author and text).
    Deleted,
    /// A moderator, admin or Reddit removed it (`[removed]` text or `removed_by_category`).
    Removed,
}

/// Detects `[deleted]` / `[removed]` content in a post or comment.
pub fn removal(thing: &Value) -> Option<Removal> {
    let d = thing::data(thing);
    let text = d
        .get("body")
        .or_else(|| d.get("selftext"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let author = d.get("author").and_then(Value::as_str).unwrap_or("");
    let category = d.get("removed_by_category").and_then(Value::as_str);
    match (text, category) {
        (_, Some("deleted")) => Some(Removal::Deleted),
        ("[removed]", _) | (_, Some(_)) => Some(Removal::Removed),
        ("[deleted]", _) if author == "[deleted]" => Some(Removal::Deleted),
        ("[deleted]", _) => Some(Removal::Removed),
        _ => None,
    }
}

impl RedditClient {
    /// Fetches the current version of `fullnames` (`t3_...`, `t1_...`), 100 per call, in order.
    pub async fn info(&self, fullnames: &[String]) -> Result<InfoRefresh> {
        let mut unique = Vec::new();
        let mut seen = HashSet::new();
        for name in fullnames {
            if seen.insert(name.as_str()) {
                unique.push(name.clone());
            }
        }
        let mut out = InfoRefresh::default();
        for batch in unique.chunks(INFO_BATCH) {
            let query = [("id", batch.join(","))];
            let call = Call {
                endpoint: Endpoint::Info,
                method: Method::GET,
                path: "/api/info",
                query: &query,
                form: None,
            };
            let value = self.send(call).await?;
            out.calls += 1;
            let page = parse_listing(&value).ok_or_else(|| Error::Shape {
                request: format!("GET /api/info ({} ids)", batch.len()),
                what: "expected a Listing".into(),
            })?;
            let returned: HashSet<String> = page.things.iter().filter_map(thing::fullname).collect();
            out.missing
                .extend(batch.iter().filter(|n| !returned.contains(*n)).cloned());
            out.things.extend(page.things);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn detects_removals() {
        let deleted = json!({"kind":"t1","data":{"author":"[deleted]","body":"[deleted]"}});
        let removed = json!({"kind":"t1","data":{"author":"x","body":"[removed]"}});
        let by_mod =
            json!({"kind":"t3","data":{"author":"x","selftext":"","removed_by_category":"moderator"}});
        let fine = json!({"kind":"t3","data":{"author":"x","selftext":"hello","removed_by_category":null}});
        assert_eq!(removal(&deleted), Some(Removal::Deleted));
        assert_eq!(removal(&removed), Some(Removal::Removed));
        assert_eq!(removal(&by_mod), Some(Removal::Removed));
        assert_eq!(removal(&fine), None);
    }
}
