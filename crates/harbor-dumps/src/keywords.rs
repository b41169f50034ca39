//! The problem-keyword filter for dumps: does a record talk about a problem?
//!
//! Same rules as the API collector's `harbor_reddit::ProblemFilter` (whole words or phrases, Unicode
//! case folding, typographic apostrophes equal ASCII ones) and the same default list, compiled into
//! one regex because a dump filter only needs a yes or no, millions of times. The integration tests
//! check both filters agree record by record.

use regex::Regex;

use crate::error::{Error, Result};

/// The legacy collector's keywords and their inflections (the list of `harbor_reddit::ProblemFilter`).
pub const DEFAULT_KEYWORDS: &[&str] = harbor_core::registry::PROBLEM_KEYWORDS;

/// A compiled keyword list.
#[derive(Debug, Clone)]
pub struct KeywordFilter {
    re: Regex,
}

impl Default for KeywordFilter {
    fn default() -> Self {
        // The default keywords are plain words: compiling them cannot fail.
        Self::new(DEFAULT_KEYWORDS.iter().copied()).unwrap_or_else(|_| Self { re: never() })
    }
}

fn never() -> Regex {
    // An empty character class matches nothing; this pattern is a constant and always compiles.
    Regex::new(r"[^\s\S]").unwrap_or_else(|_| unreachable!("constant pattern"))
}

impl KeywordFilter {
    /// Compiles a list of words or phrases (empty entries are ignored; an empty list matches nothing).
    pub fn new<'a>(keywords: impl IntoIterator<Item = &'a str>) -> Result<KeywordFilter> {
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        let mut alternatives = Vec::new();
        for kw in keywords {
            let kw = kw.trim().replace(['\u{2019}', '\u{2018}', '\u{02bc}'], "'");
            if kw.is_empty() {
                continue;
            }
            let start = if word(kw.chars().next()) { r"\b" } else { "" };
            let end = if word(kw.chars().last()) { r"\b" } else { "" };
            let escaped = regex::escape(&kw)
                .replace(' ', r"\s+")
                .replace('\'', "['\u{2019}\u{2018}\u{02bc}]");
            alternatives.push(format!("{start}{escaped}{end}"));
        }
        if alternatives.is_empty() {
            return Ok(KeywordFilter { re: never() });
        }
        let re = Regex::new(&format!("(?i)(?:{})", alternatives.join("|")))
            .map_err(|e| Error::Filter(format!("problem keywords: {e}")))?;
        Ok(KeywordFilter { re })
    }

    /// Whether `title` or `body` contains a keyword.
    pub fn is_match(&self, title: &str, body: &str) -> bool {
        self.re.is_match(title) || self.re.is_match(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_case_and_apostrophes() {
        let f = KeywordFilter::default();
        assert!(f.is_match("I CAN\u{2019}T do this", ""));
        assert!(f.is_match("", "so much Pain here"));
        assert!(!f.is_match("painting is fun", "unproblematic"));
        let custom = KeywordFilter::new(["time sink", ""]).expect("compiles");
        assert!(custom.is_match("what a time   sink", ""));
        assert!(
            !KeywordFilter::new([])
                .expect("empty")
                .is_match("anything", "at all")
        );
    }
}
