//! Stored evidence as short sentences, one per dimension, for people (the CLI table, the dashboard).
//!
//! The heuristic's evidence (matched phrases and engagement per dimension, see [`crate::heuristic`])
//! reads as "135 points, 12 comments; 3 comments echo it ('same problem')". An LLM's evidence is its
//! answer, of which the justifications are shown; evidence of any other shape (imported from the
//! legacy table) is shown key by key, shortened. The raw JSON stays in the table for `--json`.

use serde::Serialize;
use serde_json::Value;

/// One line of explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// What it explains: a dimension (`market_demand`, ..., `simplicity`) or, for other evidence,
    /// its key (`growth_justification`, `imported`).
    pub dimension: String,
    /// A short sentence.
    pub text: String,
}

/// The heuristic's dimensions in display order, with a short label each.
const LABELS: [(&str, &str); 6] = [
    ("market_demand", "demand"),
    ("pain_intensity", "pain"),
    ("monetization_potential", "money"),
    ("market_gap", "gap"),
    ("technical_feasibility", "feasibility"),
    ("simplicity", "simplicity"),
];

/// The parts of an LLM answer that say why, in display order.
const LLM_TEXTS: [&str; 3] = ["growth_justification", "value_proposition", "monetization_model"];

/// Phrases quoted per sentence before the rest is counted.
const QUOTED: usize = 3;

/// Longest text kept from evidence of an unknown shape.
const MAX_TEXT: usize = 120;

/// A short label for a dimension key (`market_demand` -> `demand`); other keys as they are.
pub fn label(dimension: &str) -> &str {
    LABELS
        .iter()
        .find(|(k, _)| *k == dimension)
        .map_or(dimension, |(_, l)| l)
}

/// The evidence stored beside a score, as sentences. Accepts the JSON value or its text (DuckDB
/// returns JSON columns as text); `null` gives nothing.
pub fn explain(evidence: &Value) -> Vec<Reason> {
    let parsed;
    let evidence = match evidence {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(v) if v.is_object() => {
                parsed = v;
                &parsed
            }
            _ => return vec![reason("note", shorten(s))],
        },
        other => other,
    };
    let Some(map) = evidence.as_object() else {
        return match evidence {
            Value::Null => Vec::new(),
            other => vec![reason("note", shorten(&other.to_string()))],
        };
    };
    if map.get("source").and_then(Value::as_str) == Some("llm") {
        return llm(&map["answer"]);
    }
    if LABELS
        .iter()
        .any(|(k, _)| map.get(*k).is_some_and(Value::is_object))
    {
        return LABELS
            .iter()
            .filter_map(|(k, _)| map.get(*k).map(|v| (*k, v)))
            .filter_map(|(k, v)| heuristic(k, v).map(|text| reason(k, text)))
            .collect();
    }
    map.iter()
        .map(|(k, v)| {
            let words: Option<Vec<&str>> = v.as_array().and_then(|a| a.iter().map(Value::as_str).collect());
            let text = match (v, words) {
                (Value::String(s), _) => shorten(s),
                (_, Some(words)) => quote(&words),
                (other, None) => shorten(&other.to_string()),
            };
            reason(k, text)
        })
        .collect()
}

fn reason(dimension: &str, text: String) -> Reason {
    Reason {
        dimension: dimension.to_owned(),
        text,
    }
}

/// The sentence of one heuristic dimension (`None` for a dimension this version does not know).
fn heuristic(dimension: &str, e: &Value) -> Option<String> {
    let words = |field: &str| -> Vec<&str> {
        e[field]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    let yes = |field: &str| e[field].as_bool() == Some(true);
    let text = match dimension {
        "market_demand" => {
            let points = e["score"].as_i64().unwrap_or(0);
            let comments = e["num_comments"].as_i64().unwrap_or(0);
            let echoing = e["echoing_comments"].as_u64().unwrap_or(0);
            let echo = match echoing {
                0 => "no comment echoes it".to_owned(),
                1 => format!("1 comment echoes it ({})", quote(&words("echo_phrases"))),
                n => format!("{n} comments echo it ({})", quote(&words("echo_phrases"))),
            };
            format!(
                "{}, {}; {echo}",
                count(points, "point"),
                count(comments, "comment")
            )
        }
        "pain_intensity" => {
            let mut parts = Vec::new();
            let pain = words("pain_phrases");
            if !pain.is_empty() {
                parts.push(format!("says {}", quote(&pain)));
            }
            let keywords = words("problem_keywords");
            if !keywords.is_empty() {
                parts.push(format!("problem words {}", quote(&keywords)));
            }
            if yes("emphasis") {
                parts.push("emphatic (!! or capitals)".to_owned());
            }
            if parts.is_empty() {
                "no pain words".to_owned()
            } else {
                parts.join("; ")
            }
        }
        "monetization_potential" => {
            let mut parts = Vec::new();
            let pay = words("pay_phrases");
            parts.push(if pay.is_empty() {
                "no price or paying named".to_owned()
            } else {
                format!("paying named: {}", quote(&pay))
            });
            let business = words("business_phrases");
            if !business.is_empty() {
                parts.push(format!("business talk: {}", quote(&business)));
            }
            if yes("business_subreddit") {
                parts.push("a business subreddit".to_owned());
            }
            parts.join("; ")
        }
        "market_gap" => {
            let gap = words("gap_phrases");
            if gap.is_empty() {
                "no existing tool named as falling short".to_owned()
            } else {
                format!("existing tools fall short: {}", quote(&gap))
            }
        }
        "technical_feasibility" => {
            let (software, hard) = (words("software_phrases"), words("hard_phrases"));
            match (software.is_empty(), hard.is_empty()) {
                (true, true) => "nothing marks it as software work or hard".to_owned(),
                (false, true) => format!("software work: {}", quote(&software)),
                (true, false) => format!("hard parts: {}", quote(&hard)),
                (false, false) => format!(
                    "software work: {}; hard parts: {}",
                    quote(&software),
                    quote(&hard)
                ),
            }
        }
        "simplicity" => match words("function_families").as_slice() {
            [] => "no function named".to_owned(),
            [one] => format!("1 function: {one}"),
            many => format!("{} functions: {}", many.len(), many.join(", ")),
        },
        _ => return None,
    };
    Some(text)
}

/// The justifications of an LLM answer.
fn llm(answer: &Value) -> Vec<Reason> {
    let found: Vec<Reason> = LLM_TEXTS
        .iter()
        .filter_map(|k| {
            let text = answer[*k].as_str()?.trim();
            (!text.is_empty()).then(|| reason(k, shorten(text)))
        })
        .collect();
    if found.is_empty() {
        return vec![reason(
            "llm",
            "scored by an LLM, without a justification".to_owned(),
        )];
    }
    found
}

/// `n thing` or `n things`.
fn count(n: i64, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// Up to [`QUOTED`] phrases in single quotes, then how many more.
fn quote(phrases: &[&str]) -> String {
    let mut out: Vec<String> = phrases.iter().take(QUOTED).map(|p| format!("'{p}'")).collect();
    if phrases.len() > QUOTED {
        out.push(format!("{} more", phrases.len() - QUOTED));
    }
    out.join(", ")
}

/// At most [`MAX_TEXT`] characters, on one line.
fn shorten(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(MAX_TEXT) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::analysis::Outcome;
    use crate::heuristic::HeuristicScorer;
    use crate::post::{Comment, Post};

    fn texts(reasons: &[Reason]) -> Vec<(String, String)> {
        reasons
            .iter()
            .map(|r| (r.dimension.clone(), r.text.clone()))
            .collect()
    }

    #[test]
    fn heuristic_evidence_reads_as_one_sentence_per_dimension() {
        let post = Post {
            id: "p".into(),
            subreddit: "smallbusiness".into(),
            title: "I hate doing invoices manually".into(),
            body: "Is there a tool? QuickBooks is too expensive. I would pay for it.".into(),
            score: 135,
            num_comments: 1,
            comments: vec![Comment {
                body: "Same problem here".into(),
                score: 3,
            }],
            ..Default::default()
        };
        let Outcome::Scored { evidence, .. } = HeuristicScorer::default().score_post(&post).outcome else {
            panic!("not scored");
        };
        let reasons = explain(&evidence);
        let dims: Vec<&str> = reasons.iter().map(|r| r.dimension.as_str()).collect();
        assert_eq!(
            dims,
            LABELS.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            "every dimension, in order"
        );
        assert_eq!(
            reasons[0].text,
            "135 points, 1 comment; 1 comment echoes it ('same problem')"
        );
        assert!(
            reasons[1].text.starts_with("says 'hate', 'manually'"),
            "{reasons:?}"
        );
        assert!(reasons[2].text.contains("a business subreddit"), "{reasons:?}");
        assert!(reasons[3].text.contains("'too expensive'"), "{reasons:?}");
        // The same from the JSON text DuckDB returns.
        assert_eq!(explain(&Value::String(evidence.to_string())), reasons);
    }

    #[test]
    fn empty_matches_say_what_is_missing_and_long_lists_are_cut() {
        let e = json!({
            "market_demand": {"score": 0, "num_comments": 0, "echoing_comments": 0, "echo_phrases": []},
            "pain_intensity": {"problem_keywords": [], "pain_phrases": ["a", "b", "c", "d", "e"], "emphasis": true},
            "market_gap": {"gap_phrases": []},
        });
        assert_eq!(
            texts(&explain(&e)),
            vec![
                (
                    "market_demand".into(),
                    "0 points, 0 comments; no comment echoes it".into()
                ),
                (
                    "pain_intensity".into(),
                    "says 'a', 'b', 'c', 2 more; emphatic (!! or capitals)".into()
                ),
                (
                    "market_gap".into(),
                    "no existing tool named as falling short".into()
                ),
            ]
        );
    }

    #[test]
    fn llm_imported_and_unknown_evidence() {
        let llm = json!({"source": "llm", "answer": {"growth_justification": "Freelancers\n grow", "market_demand": 80}});
        assert_eq!(
            texts(&explain(&llm)),
            vec![("growth_justification".into(), "Freelancers grow".into())]
        );
        let imported = json!({"imported": "from the legacy opportunity_analysis table"});
        assert_eq!(explain(&imported)[0].dimension, "imported");
        let seeded = json!({"matched": ["struggle", "annoying"], "num_comments": 3});
        assert_eq!(
            texts(&explain(&seeded)),
            vec![
                ("matched".into(), "'struggle', 'annoying'".into()),
                ("num_comments".into(), "3".into())
            ]
        );
        let long = "x".repeat(500);
        let odd = explain(&json!({"notes": long}));
        assert_eq!(odd[0].text.chars().count(), MAX_TEXT + 1);
        assert!(explain(&Value::Null).is_empty());
        assert_eq!(explain(&json!("plain words"))[0].text, "plain words");
        assert_eq!(label("pain_intensity"), "pain");
        assert_eq!(label("imported"), "imported");
    }
}
