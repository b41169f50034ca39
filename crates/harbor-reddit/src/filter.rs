//! Problem-first keyword filter: does a post talk about a problem, and with which words?
//!
//! Keywords match whole words (or phrases) with Unicode case folding on the title and the body;
//! typographic apostrophes (`can’t`) match ASCII ones (`can't`).

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::thing;

/// The legacy collector's list (`struggle, problem, frustrated, wish, can't, difficult, annoying,
/// pain`) followed by their common inflections.
pub const LEGACY_PROBLEM_KEYWORDS: &[&str] = harbor_core::registry::PROBLEM_KEYWORDS;

/// What the collector does with the filter's verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterMode {
    /// Keep every post; tag it with `is_problem` and `problem_keywords`.
    #[default]
    Tag,
    /// Keep problem posts only.
    Only,
}

/// A compiled keyword list.
#[derive(Debug, Clone)]
pub struct ProblemFilter {
    patterns: Vec<(String, Regex)>,
}

impl Default for ProblemFilter {
    fn default() -> Self {
        // The legacy keywords are plain words; compiling them cannot fail.
        Self::new(LEGACY_PROBLEM_KEYWORDS.iter().copied()).unwrap_or(Self { patterns: Vec::new() })
    }
}

fn normalize(text: &str) -> String {
    text.replace(['\u{2019}', '\u{2018}', '\u{02bc}'], "'")
}

impl ProblemFilter {
    /// Compiles a keyword list (words or phrases; empty entries are ignored).
    pub fn new<'a>(keywords: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        let mut patterns = Vec::new();
        for kw in keywords {
            let kw = normalize(kw.trim());
            if kw.is_empty() || patterns.iter().any(|(k, _): &(String, Regex)| k == &kw) {
                continue;
            }
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            let start = if word(kw.chars().next()) { r"\b" } else { "" };
            let end = if word(kw.chars().last()) { r"\b" } else { "" };
            let escaped = regex::escape(&kw).replace(' ', r"\s+");
            let re = Regex::new(&format!("(?i){start}{escaped}{end}"))
                .map_err(|e| Error::Config(format!("problem keyword {kw:?}: {e}")))?;
            patterns.push((kw, re));
        }
        Ok(Self { patterns })
    }

    /// The keywords found in `title` or `body`, in list order.
    pub fn matches(&self, title: &str, body: &str) -> Vec<String> {
        let text = normalize(&format!("{title}\n{body}"));
        self.patterns
            .iter()
            .filter(|(_, re)| re.is_match(&text))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The keywords found in a post (`title` + `selftext`) or comment (`body`).
    pub fn matches_thing(&self, thing: &Value) -> Vec<String> {
        let d = thing::data(thing);
        let field = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("");
        let body = if d.get("selftext").is_some() {
            field("selftext")
        } else {
            field("body")
        };
        self.matches(field("title"), body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_boundaries_and_case_folding() {
        let f = ProblemFilter::default();
        assert_eq!(f.matches("I CAN’T get this to work", ""), vec!["can't"]);
        assert_eq!(f.matches("No problems here", "painting is fun"), vec!["problems"]);
        assert!(f.matches("Wishlist update", "").is_empty());
        assert_eq!(
            f.matches("Title", "So FRUSTRATED and in Pain"),
            vec!["frustrated", "pain"]
        );
        let custom = ProblemFilter::new(["Straße", "time sink"]).expect("compiles");
        assert_eq!(
            custom.matches("STRASSE", "straße is a huge time  sink"),
            vec!["Straße", "time sink"]
        );
    }
}
