//! The heuristic's rules: phrase lists and how each dimension turns matches and engagement into
//! 0-100. `docs/scoring.md` describes the same rules for users; change both together and bump
//! [`RULES_VERSION`] so results of the old rules are not mistaken for the new ones.

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

/// Version of these rules; part of the heuristic scorer id.
pub const RULES_VERSION: &str = "v1";

/// A list of phrases matched as whole words, case-insensitively; each distinct match is worth
/// `points`, and the list contributes at most `cap`.
pub struct PhraseRule {
    names: Vec<&'static str>,
    set: RegexSet,
    /// Points per distinct matched phrase.
    pub points: f64,
    /// Most points the list can give (negative lists: most points it can take).
    pub cap: f64,
}

impl PhraseRule {
    fn new(phrases: &[&'static str], points: f64, cap: f64) -> Self {
        let patterns: Vec<String> = phrases.iter().map(|p| pattern(p)).collect();
        // The patterns are escaped literals with fixed anchors, so the set always compiles;
        // a failure would be a bug in `pattern`, caught by the unit tests.
        let set = RegexSet::new(&patterns).unwrap_or_else(|_| RegexSet::empty());
        Self {
            names: phrases.to_vec(),
            set,
            points,
            cap,
        }
    }

    /// The phrases found in `text`, in list order.
    pub fn matches(&self, text: &str) -> Vec<&'static str> {
        self.set.matches(text).iter().map(|i| self.names[i]).collect()
    }

    /// Points for a number of matches: `points` each, capped at `cap`.
    pub fn score(&self, matched: usize) -> f64 {
        (matched as f64 * self.points).min(self.cap)
    }
}

/// `(?i)` + the escaped phrase, with word boundaries on the sides that are word characters; a
/// phrase starting with `re:` is a raw regular expression.
fn pattern(phrase: &str) -> String {
    if let Some(raw) = phrase.strip_prefix("re:") {
        return format!("(?i){raw}");
    }
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let start = if word(phrase.chars().next()) { r"\b" } else { "" };
    let end = if word(phrase.chars().last()) { r"\b" } else { "" };
    format!("(?i){start}{}{end}", regex::escape(phrase).replace(' ', r"\s+"))
}

/// Typographic apostrophes to ASCII, so `can’t` matches `can't`.
pub fn normalize(text: &str) -> String {
    text.replace(['\u{2019}', '\u{2018}', '\u{02bc}'], "'")
}

/// Market demand: comments that echo the problem ("same here", "me too"), 8 points per echoing
/// comment, at most 30. Engagement adds 30 * log10(1 + upvotes) (at most 60) and
/// 25 * log10(1 + comments) (at most 50). Total capped at 100.
pub static ECHO: LazyLock<PhraseRule> = LazyLock::new(|| {
    PhraseRule::new(
        &[
            "same here",
            "me too",
            "same problem",
            "same issue",
            "i have the same",
            "i had the same",
            "following",
            "+1",
            "i need this",
            "would use",
            "any update",
            "this is so true",
        ],
        8.0,
        30.0,
    )
});

/// Pain intensity, part 1: the problem keywords (the legacy filter's list), 15 points per distinct
/// keyword, at most 45.
pub const PROBLEM_POINTS: (f64, f64) = (15.0, 45.0);

/// Pain intensity, part 2: strong pain phrases in the title and body, 12 points each, at most 48.
/// Emphasis (`!!` or a shouted word of four or more capitals) adds 7. Total capped at 100.
pub static PAIN: LazyLock<PhraseRule> = LazyLock::new(|| {
    PhraseRule::new(
        &[
            "hate",
            "nightmare",
            "waste of time",
            "wasting hours",
            "hours every",
            "every single",
            "drives me crazy",
            "driving me crazy",
            "so frustrating",
            "fed up",
            "sick of",
            "tired of",
            "desperate",
            "killing me",
            "losing money",
            "lost money",
            "impossible",
            "ridiculous",
            "headache",
            "manually",
        ],
        12.0,
        48.0,
    )
});

/// Shouting: `!!` or a word of four or more capital letters.
pub static EMPHASIS: LazyLock<Regex> = LazyLock::new(|| {
    // A fixed pattern; it compiles.
    Regex::new(r"!!|\b[A-Z]{4,}\b").unwrap_or_else(|_| Regex::new("$^").expect("trivial regex"))
});

/// Monetization, part 1: willingness to pay and money words in the post and its top comments,
/// 15 points each, at most 60. Base 10.
pub static PAY: LazyLock<PhraseRule> = LazyLock::new(|| {
    PhraseRule::new(
        &[
            "would pay",
            "willing to pay",
            "happy to pay",
            "pay for",
            "paying for",
            "subscription",
            "paid plan",
            "pricing",
            "budget",
            "expensive",
            "cheaper",
            "re:\\$\\s?\\d",
        ],
        15.0,
        60.0,
    )
});

/// Monetization, part 2: business context, 8 points each, at most 32.
pub static BUSINESS: LazyLock<PhraseRule> = LazyLock::new(|| {
    PhraseRule::new(
        &[
            "business",
            "client",
            "clients",
            "customer",
            "customers",
            "invoice",
            "invoices",
            "revenue",
            "company",
            "employees",
            "freelance",
            "freelancer",
            "agency",
            "shop",
            "store",
            "sales",
        ],
        8.0,
        32.0,
    )
});

/// Monetization, part 3: subreddits where posters run businesses add 20.
pub const BUSINESS_SUBREDDITS: &[&str] = &[
    "smallbusiness",
    "entrepreneur",
    "saas",
    "startups",
    "freelance",
    "ecommerce",
    "sideproject",
    "marketing",
    "accounting",
    "realestate",
    "sweatystartup",
];

/// Market gap: signs that existing solutions fall short, in the post and its top comments,
/// 15 points each, at most 80, on a base of 20.
pub static GAP: LazyLock<PhraseRule> = LazyLock::new(|| {
    PhraseRule::new(
        &[
            "is there a tool",
            "is there an app",
            "is there any",
            "is there a way",
            "any app",
            "any tool",
            "any software",
            "looking for a",
            "looking for an",
            "can't find",
            "couldn't find",
            "nothing works",
            "doesn't exist",
            "no good",
            "alternative to",
            "alternatives",
            "recommend",
            "too expensive",
            "overkill",
            "clunky",
            "outdated",
            "doesn't support",
        ],
        15.0,
        80.0,
    )
});

/// Technical feasibility, plus: software-native work (+5 each, at most +30) on a base of 70.
pub static SOFTWARE: LazyLock<PhraseRule> = LazyLock::new(|| {
    PhraseRule::new(
        &[
            "spreadsheet",
            "excel",
            "automate",
            "automation",
            "reminder",
            "track",
            "tracking",
            "sync",
            "notification",
            "calendar",
            "export",
            "import",
            "dashboard",
            "template",
            "checklist",
            "email",
            "api",
            "browser extension",
            "plugin",
            "bot",
        ],
        5.0,
        30.0,
    )
});

/// Technical feasibility, minus: hard or regulated territory (-12 each, at most -48).
pub static HARD: LazyLock<PhraseRule> = LazyLock::new(|| {
    PhraseRule::new(
        &[
            "hardware",
            "device",
            "sensor",
            "machine learning",
            "ai model",
            "blockchain",
            "crypto",
            "medical",
            "diagnosis",
            "legal advice",
            "regulation",
            "compliance",
            "real-time video",
            "self-driving",
            "satellite",
            "robot",
        ],
        12.0,
        48.0,
    )
});

/// Core functions an app for the post would need, by verb family; simplicity comes from how many
/// families the title and body touch (none counts as one).
pub static FUNCTIONS: LazyLock<Vec<(&'static str, PhraseRule)>> = LazyLock::new(|| {
    let f = |words: &[&'static str]| PhraseRule::new(words, 1.0, 1.0);
    vec![
        ("track", f(&["track", "tracking", "log", "logging", "monitor"])),
        (
            "remind",
            f(&[
                "remind",
                "reminder",
                "reminders",
                "notify",
                "notification",
                "alert",
            ]),
        ),
        ("automate", f(&["automate", "automation", "automatically"])),
        (
            "organize",
            f(&["organize", "sort", "categorize", "manage", "managing"]),
        ),
        (
            "schedule",
            f(&["schedule", "scheduling", "calendar", "booking", "appointment"]),
        ),
        ("share", f(&["share", "collaborate", "sync"])),
        (
            "analyze",
            f(&[
                "analyze",
                "report",
                "reports",
                "insights",
                "dashboard",
                "statistics",
            ]),
        ),
        ("search", f(&["search", "find", "discover"])),
        ("convert", f(&["convert", "export", "import"])),
        (
            "bill",
            f(&["invoice", "invoicing", "billing", "payment", "payments"]),
        ),
    ]
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_match_whole_words_case_insensitively() {
        assert_eq!(
            PAIN.matches("I HATE this, it's a Nightmare"),
            vec!["hate", "nightmare"]
        );
        assert!(PAIN.matches("whatever").is_empty(), "no match inside words");
        assert_eq!(PAY.matches("I'd pay $ 20 a month"), vec!["re:\\$\\s?\\d"]);
        assert_eq!(GAP.matches("I can't   find anything"), vec!["can't find"]);
        assert_eq!(ECHO.matches("+1 from me"), vec!["+1"]);
        for (_, rule) in FUNCTIONS.iter() {
            assert!(!rule.names.is_empty());
        }
    }

    #[test]
    fn caps_apply() {
        assert_eq!(PAIN.score(10), 48.0);
        assert_eq!(PAIN.score(2), 24.0);
    }
}
