//! Words of a post as stems: Unicode word boundaries (`unicode-segmentation`), case folding,
//! English Snowball stemming (`rust-stemmers`), and a stop list of function words, Reddit filler and
//! the problem filter's own keywords (every problem post has them, so they say nothing about which
//! problem it is).

use std::collections::HashSet;

use rust_stemmers::{Algorithm, Stemmer};
use unicode_segmentation::UnicodeSegmentation;

/// Function words, Reddit filler, and words every problem post shares.
const STOP: &[&str] = &[
    // function words
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "even",
    "ever",
    "every",
    "few",
    "for",
    "from",
    "further",
    "get",
    "gets",
    "getting",
    "got",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "him",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "let",
    "lets",
    "me",
    "more",
    "most",
    "much",
    "must",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "still",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yet",
    "im",
    "ive",
    "id",
    "ill",
    "dont",
    "doesnt",
    "didnt",
    "cant",
    "wont",
    "isnt",
    "arent",
    "wasnt",
    "i'm",
    "i've",
    "i'd",
    "i'll",
    "don't",
    "doesn't",
    "didn't",
    "can't",
    "won't",
    "isn't",
    "aren't",
    "wasn't",
    "it's",
    "that's",
    "there's",
    "you're",
    "they're",
    "we're",
    "what's",
    "couldn't",
    "wouldn't",
    "shouldn't",
    "haven't",
    "hasn't",
    "thats",
    "theres",
    "youre",
    "theyre",
    "etc",
    "via",
    "per",
    "really",
    "actually",
    "basically",
    "literally",
    "maybe",
    "anyone",
    "anybody",
    "someone",
    "something",
    "anything",
    "everything",
    "nothing",
    "thing",
    "things",
    "way",
    "ways",
    "lot",
    "lots",
    "kind",
    "sort",
    "like",
    "know",
    "think",
    "want",
    "need",
    "make",
    "use",
    "using",
    "used",
    "go",
    "going",
    "say",
    "said",
    "see",
    "look",
    "looking",
    "try",
    "tried",
    "trying",
    "take",
    "takes",
    "come",
    "well",
    "yeah",
    "yes",
    "ok",
    "okay",
    "lol",
    "please",
    "thanks",
    "thank",
    "hi",
    "hello",
    "hey",
    "guys",
    "edit",
    "update",
    "tldr",
    "tl;dr",
    "amp",
    "nbsp",
    "gt",
    "lt",
    "http",
    "https",
    "www",
    "com",
    "reddit",
    "r",
    "u",
    // problem-filter keywords and generic problem words
    "problem",
    "problems",
    "issue",
    "issues",
    "struggle",
    "struggling",
    "struggles",
    "frustrated",
    "frustrating",
    "wish",
    "difficult",
    "annoying",
    "pain",
    "help",
    "advice",
    "question",
    "anyway",
];

/// Turns text into stems.
pub struct Tokenizer {
    stemmer: Stemmer,
    stop: HashSet<&'static str>,
}

impl Default for Tokenizer {
    fn default() -> Self {
        Self {
            stemmer: Stemmer::create(Algorithm::English),
            stop: STOP.iter().copied().collect(),
        }
    }
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("stop_words", &self.stop.len())
            .finish()
    }
}

impl Tokenizer {
    /// Calls `emit(stem, word)` for every kept word of `text`, in order. URLs, numbers, single
    /// letters and stop words are skipped.
    pub fn each(&self, text: &str, mut emit: impl FnMut(String, &str)) {
        for chunk in text.split_whitespace() {
            if chunk.contains("://") || chunk.starts_with("www.") || chunk.starts_with("/r/") {
                continue;
            }
            for word in chunk.unicode_words() {
                let lower = word.to_lowercase().replace('\u{2019}', "'");
                if lower.chars().count() < 2
                    || lower.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',')
                    || self.stop.contains(lower.as_str())
                {
                    continue;
                }
                let bare = lower.strip_suffix("'s").unwrap_or(&lower);
                let stem = self.stemmer.stem(bare).into_owned();
                if stem.chars().count() < 2 || self.stop.contains(stem.as_str()) {
                    continue;
                }
                emit(stem, word);
            }
        }
    }

    /// The stems of `text`.
    pub fn stems(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.each(text, |s, _| out.push(s));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_fold_case_and_drop_filler() {
        let t = Tokenizer::default();
        assert_eq!(
            t.stems("My BACKUPS keep failing silently, and I'm frustrated: https://x.io/a 2024"),
            ["backup", "keep", "fail", "silent"]
        );
        // Inflections meet on one stem.
        assert_eq!(
            t.stems("invoicing invoices invoiced"),
            ["invoic", "invoic", "invoic"]
        );
    }

    #[test]
    fn non_latin_words_survive() {
        let t = Tokenizer::default();
        let s = t.stems("Sauvegarde échouée — バックアップ");
        assert_eq!(s.len(), 3, "{s:?}");
    }
}
