//! Recorded Reddit exchanges (`../shared/fixtures/api/**.json`) and how the fake serves them.
//!
//! GET exchanges are matched on the path (trailing slash ignored) and, when recorded, the `after`
//! and `before` parameters. `/api/morechildren` exchanges are matched by the ids they asked for: a
//! request is answered when the recorded calls whose ids it contains cover exactly its ids, so a
//! client that batches several stubs into one call gets the recorded things of all of them.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde_json::Value;

/// One recorded exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path without trailing slash (`/comments/n49rw`).
    pub path: String,
    /// Query parameters.
    pub query: HashMap<String, String>,
    /// Form body fields (non-GET requests).
    pub form: HashMap<String, String>,
    /// Status.
    pub status: u16,
    /// Headers worth replaying (content-type, retry-after, location, www-authenticate).
    pub headers: Vec<(String, String)>,
    /// Body: JSON is re-serialized; strings (HTML, text, truncated JSON) are sent as is.
    pub body: Value,
}

/// Errors loading recordings.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The file could not be read.
    #[error("cannot read recording {path}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a recorded exchange.
    #[error("recording {path} is malformed: {what}")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong.
        what: String,
    },
}

const REPLAYED_HEADERS: [&str; 4] = ["content-type", "retry-after", "location", "www-authenticate"];

impl Recorded {
    /// Loads one fixture file.
    pub fn load(path: &Path) -> Result<Self, ReplayError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ReplayError::Io {
            path: shown.clone(),
            source,
        })?;
        let json: Value = serde_json::from_str(&text).map_err(|e| ReplayError::Malformed {
            path: shown.clone(),
            what: e.to_string(),
        })?;
        let malformed = |what: &str| ReplayError::Malformed {
            path: shown.clone(),
            what: what.to_owned(),
        };
        let request = json.get("request").ok_or_else(|| malformed("no request"))?;
        let url = request
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("no url"))?;
        let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let path_and_query = without_scheme.find('/').map_or("/", |i| &without_scheme[i..]);
        let (raw_path, raw_query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let form = match request.get("body") {
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect(),
            _ => HashMap::new(),
        };
        let headers = json
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| {
                h.iter()
                    .filter(|(k, _)| REPLAYED_HEADERS.contains(&k.as_str()))
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            method: request
                .get("method")
                .and_then(Value::as_str)
                .unwrap_or("GET")
                .to_owned(),
            path: normalize_path(raw_path),
            query: form_urlencoded::parse(raw_query.as_bytes())
                .into_owned()
                .collect(),
            form,
            status: json
                .get("status")
                .and_then(Value::as_u64)
                .ok_or_else(|| malformed("no status"))? as u16,
            headers,
            body: json.get("body").cloned().unwrap_or(Value::Null),
        })
    }

    /// Loads every `*.json` of a directory, in file-name order.
    pub fn load_dir(dir: &Path) -> Result<Vec<Self>, ReplayError> {
        let io = |source| ReplayError::Io {
            path: dir.display().to_string(),
            source,
        };
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files.iter().map(|p| Self::load(p)).collect()
    }

    /// The body bytes as the fake sends them.
    pub fn body_bytes(&self) -> Vec<u8> {
        match &self.body {
            Value::String(s) => s.clone().into_bytes(),
            Value::Null => Vec::new(),
            other => other.to_string().into_bytes(),
        }
    }

    fn children(&self) -> BTreeSet<String> {
        self.form
            .get("children")
            .or_else(|| self.query.get("children"))
            .map(|c| {
                c.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Strips the trailing slash (keeps `/`).
pub(crate) fn normalize_path(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// The recordings the fake serves before falling back to its synthetic corpus.
#[derive(Debug, Default)]
pub(crate) struct ReplayTable {
    entries: Vec<Recorded>,
}

/// What the replay table answers.
pub(crate) enum ReplayAnswer {
    /// A recorded exchange.
    One(Recorded),
    /// A `/api/morechildren` answer assembled from several recorded calls.
    Things(Value),
}

impl ReplayTable {
    pub(crate) fn add(&mut self, recorded: Vec<Recorded>) {
        self.entries.extend(recorded);
    }

    pub(crate) fn find(
        &self,
        method: &str,
        path: &str,
        query: &HashMap<String, String>,
        form: &HashMap<String, String>,
    ) -> Option<ReplayAnswer> {
        if path == "/api/morechildren" {
            return self.more_children(query, form);
        }
        self.entries
            .iter()
            .find(|r| {
                r.method.eq_ignore_ascii_case(method)
                    && r.path.eq_ignore_ascii_case(path)
                    && ["after", "before"]
                        .iter()
                        .all(|k| r.query.get(*k) == query.get(*k))
            })
            .cloned()
            .map(ReplayAnswer::One)
    }

    fn more_children(
        &self,
        query: &HashMap<String, String>,
        form: &HashMap<String, String>,
    ) -> Option<ReplayAnswer> {
        let field = |k: &str| form.get(k).or_else(|| query.get(k)).cloned().unwrap_or_default();
        let wanted: BTreeSet<String> = field("children")
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let link = field("link_id");
        let mut covered = BTreeSet::new();
        let mut things = Vec::new();
        for r in self.entries.iter().filter(|r| r.path == "/api/morechildren") {
            let ids = r.children();
            if r.form.get("link_id").is_some_and(|l| *l != link) || ids.is_empty() || !ids.is_subset(&wanted)
            {
                continue;
            }
            if let Some(list) = r.body.pointer("/json/data/things").and_then(Value::as_array) {
                things.extend(list.iter().cloned());
            }
            covered.extend(ids);
        }
        (covered == wanted && !wanted.is_empty()).then(|| {
            ReplayAnswer::Things(serde_json::json!({"json": {"errors": [], "data": {"things": things}}}))
        })
    }
}
