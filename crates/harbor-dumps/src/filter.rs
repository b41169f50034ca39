//! Which records of a dump to keep, decided before the record is parsed in full.

use std::collections::HashSet;
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::keywords::KeywordFilter;
use crate::probe::{Probe, ProbeText};
use crate::stream::Payload;

/// Record filters and a field projection. The default keeps everything, unchanged.
#[derive(Debug, Clone, Default)]
pub struct DumpFilter {
    subreddits: Option<HashSet<String>>,
    authors: Option<HashSet<String>>,
    from: Option<f64>,
    to: Option<f64>,
    keywords: Option<KeywordFilter>,
    fields: Option<HashSet<String>>,
}

/// The verdict on one line.
#[derive(Debug)]
pub enum Verdict {
    /// Keep the record, in this form.
    Keep(Payload),
    /// Filtered out.
    Drop,
}

fn norm_subreddit(s: &str) -> String {
    let s = s.trim();
    let s = s
        .strip_prefix("/r/")
        .or_else(|| s.strip_prefix("r/"))
        .unwrap_or(s);
    s.to_lowercase()
}

fn norm_author(s: &str) -> String {
    let s = s.trim();
    let s = s
        .strip_prefix("/u/")
        .or_else(|| s.strip_prefix("u/"))
        .unwrap_or(s);
    s.to_lowercase()
}

impl DumpFilter {
    /// Keeps records of these subreddits (case-insensitive; `r/` prefixes allowed). Adds to earlier
    /// calls.
    pub fn subreddits<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
        let set = self.subreddits.get_or_insert_with(HashSet::new);
        set.extend(names.into_iter().map(norm_subreddit).filter(|s| !s.is_empty()));
        self
    }

    /// Adds the subreddits listed in a file: one per line, blank lines and `#` comments ignored.
    pub fn subreddits_file(self, path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Filter(format!("cannot read subreddits file {}: {e}", path.display())))?;
        let names: Vec<&str> = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .collect();
        if names.iter().all(|n| n.is_empty()) {
            return Err(Error::Filter(format!(
                "subreddits file {} lists no subreddit",
                path.display()
            )));
        }
        Ok(self.subreddits(names))
    }

    /// Keeps records by these authors (case-insensitive; `u/` prefixes allowed).
    pub fn authors<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
        let set = self.authors.get_or_insert_with(HashSet::new);
        set.extend(names.into_iter().map(norm_author).filter(|s| !s.is_empty()));
        self
    }

    /// Keeps records with `from <= created_utc < to` (epoch seconds; either bound optional).
    pub fn time_range(mut self, from: Option<f64>, to: Option<f64>) -> Self {
        self.from = from;
        self.to = to;
        self
    }

    /// Keeps records whose title, self text or body contains one of the keywords.
    pub fn keywords(mut self, keywords: KeywordFilter) -> Self {
        self.keywords = Some(keywords);
        self
    }

    /// Keeps only these top-level fields of each record (`id` is always kept: rows merge on it).
    pub fn fields<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
        let set = self.fields.get_or_insert_with(HashSet::new);
        set.extend(
            names
                .into_iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
        );
        set.insert("id".to_owned());
        self
    }

    /// Whether any record can be dropped (a record filter is set).
    pub fn filters_records(&self) -> bool {
        self.subreddits.is_some()
            || self.authors.is_some()
            || self.from.is_some()
            || self.to.is_some()
            || self.keywords.is_some()
    }

    /// Whether records are reshaped (a projection is set).
    pub fn projects(&self) -> bool {
        self.fields.is_some()
    }

    /// Decides on one non-blank line. Lines that are not JSON are kept as they are, so the normalizer
    /// rejects them with their line number.
    pub fn apply(&self, line: Vec<u8>) -> Verdict {
        if self.filters_records() {
            let keep = if self.keywords.is_some() {
                match serde_json::from_slice::<ProbeText>(&line) {
                    Ok(p) => self.decide(
                        p.subreddit.as_str(),
                        p.author.as_str(),
                        p.created_utc.0,
                        p.title.as_str(),
                        p.selftext.as_str().or(p.body.as_str()),
                    ),
                    Err(_) => return self.apply_slow(line),
                }
            } else {
                match serde_json::from_slice::<Probe>(&line) {
                    Ok(p) => self.decide(
                        p.subreddit.as_str(),
                        p.author.as_str(),
                        p.created_utc.0,
                        None,
                        None,
                    ),
                    Err(_) => return self.apply_slow(line),
                }
            };
            if !keep {
                return Verdict::Drop;
            }
        }
        self.project(line)
    }

    /// The path for lines the probe could not read: duplicate keys, or not JSON at all.
    fn apply_slow(&self, line: Vec<u8>) -> Verdict {
        let Ok(value) = serde_json::from_slice::<Value>(&line) else {
            return Verdict::Keep(Payload::Bytes(line));
        };
        let s = |k: &str| value.get(k).and_then(Value::as_str);
        let created = value.get("created_utc").and_then(|v| match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        });
        let text = s("selftext").or(s("body"));
        if !self.decide(s("subreddit"), s("author"), created, s("title"), text) {
            return Verdict::Drop;
        }
        Verdict::Keep(self.project_value(value))
    }

    fn decide(
        &self,
        subreddit: Option<&str>,
        author: Option<&str>,
        created: Option<f64>,
        title: Option<&str>,
        text: Option<&str>,
    ) -> bool {
        if let Some(set) = &self.subreddits {
            match subreddit {
                Some(s) if set.contains(&s.to_lowercase()) => {}
                _ => return false,
            }
        }
        if let Some(set) = &self.authors {
            match author {
                Some(a) if set.contains(&a.to_lowercase()) => {}
                _ => return false,
            }
        }
        if self.from.is_some() || self.to.is_some() {
            let Some(t) = created else { return false };
            if self.from.is_some_and(|f| t < f) || self.to.is_some_and(|to| t >= to) {
                return false;
            }
        }
        if let Some(k) = &self.keywords
            && !k.is_match(title.unwrap_or(""), text.unwrap_or(""))
        {
            return false;
        }
        true
    }

    fn project(&self, line: Vec<u8>) -> Verdict {
        if self.fields.is_none() {
            return Verdict::Keep(Payload::Bytes(line));
        }
        match serde_json::from_slice::<Value>(&line) {
            Ok(v) => Verdict::Keep(self.project_value(v)),
            Err(_) => Verdict::Keep(Payload::Bytes(line)),
        }
    }

    fn project_value(&self, mut value: Value) -> Payload {
        if let (Some(fields), Value::Object(map)) = (&self.fields, &mut value) {
            map.retain(|k, _| fields.contains(k));
        }
        Payload::Value(value)
    }
}

/// Parses a time bound: `2019-08`, `2019-08-01`, `2019-08-01T12:00:00` (UTC), RFC 3339 with an
/// offset, or epoch seconds.
pub fn parse_time(s: &str) -> Result<f64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>()
        && n.is_finite()
        && !s.contains('-')
    {
        return Ok(n);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp() as f64 + f64::from(t.timestamp_subsec_millis()) / 1000.0);
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc().timestamp() as f64);
        }
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d"));
    match date.ok().and_then(|d| d.and_hms_opt(0, 0, 0)) {
        Some(t) => Ok(t.and_utc().timestamp() as f64),
        None => Err(Error::Filter(format!(
            "cannot read time `{s}`: expected YYYY-MM, YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS, RFC 3339 or epoch seconds"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_times() {
        assert_eq!(parse_time("2019-08-01").ok(), Some(1_564_617_600.0));
        assert_eq!(parse_time("2019-08").ok(), Some(1_564_617_600.0));
        assert_eq!(parse_time("2019-08-01T00:00:01Z").ok(), Some(1_564_617_601.0));
        assert_eq!(
            parse_time("2019-08-01T02:00:00+02:00").ok(),
            Some(1_564_617_600.0)
        );
        assert_eq!(parse_time("1564617600").ok(), Some(1_564_617_600.0));
        assert!(parse_time("yesterday").is_err());
    }

    fn kept(f: &DumpFilter, line: &str) -> bool {
        matches!(f.apply(line.as_bytes().to_vec()), Verdict::Keep(_))
    }

    #[test]
    fn filters_and_projects() {
        let f = DumpFilter::default()
            .subreddits(["r/AskReddit"])
            .time_range(Some(100.0), Some(200.0));
        assert!(kept(&f, r#"{"subreddit":"askreddit","created_utc":"150"}"#));
        assert!(!kept(&f, r#"{"subreddit":"askreddit","created_utc":200}"#));
        assert!(!kept(&f, r#"{"subreddit":"pics","created_utc":150}"#));
        assert!(!kept(&f, r#"{"created_utc":150}"#));
        // Duplicate keys take the slow path and still filter.
        assert!(kept(
            &f,
            r#"{"subreddit":"x","subreddit":"AskReddit","created_utc":150.5}"#
        ));
        // Not JSON: kept for the rejects file.
        assert!(kept(&f, "garbage"));
        let p = DumpFilter::default().fields(["author"]);
        match p.apply(br#"{"id":"a","author":"b","body":"c"}"#.to_vec()) {
            Verdict::Keep(Payload::Value(v)) => assert_eq!(v, serde_json::json!({"id":"a","author":"b"})),
            other => panic!("unexpected {other:?}"),
        }
    }
}
