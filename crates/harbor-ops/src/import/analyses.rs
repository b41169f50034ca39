//! The legacy `opportunity_analysis` rows, brought over as our results (scorer `imported`).

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

use super::{Converted, IMPORTED_SCORER, ImportOptions, ImportReport, put, thing};
use crate::error::Result;
use crate::legacy::{self, bare, epoch, number, text};
use crate::store::SqlStore;

/// The results table (`harbor_ai::source::TABLE`).
pub(super) const ANALYSIS_TABLE: &str = "opportunity_analysis";

/// The legacy formula's weights (`docs/scoring.md`), by our column names.
const WEIGHTS: [(&str, f64); 6] = [
    ("market_demand", 0.20),
    ("pain_intensity", 0.25),
    ("monetization_potential", 0.20),
    ("market_gap", 0.10),
    ("technical_feasibility", 0.05),
    ("simplicity", 0.20),
];

/// The first of `cols` that the row has a value for.
fn first_text(r: &Map<String, Json>, cols: &[&str]) -> Option<String> {
    cols.iter()
        .find_map(|c| text(r, c).filter(|t| !t.trim().is_empty()))
}

/// A list column as a JSON array: JSON text (`["a","b"]`), a Postgres array literal
/// (`{a,"b c"}`), or one plain string.
fn text_list(raw: &str) -> Json {
    let t = raw.trim();
    if let Ok(v @ Json::Array(_)) = serde_json::from_str::<Json>(t) {
        return v;
    }
    let Some(inner) = t.strip_prefix('{').and_then(|x| x.strip_suffix('}')) else {
        return json!([t]);
    };
    let mut items = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut escaped, mut was_quoted) = (false, false, false);
    for ch in inner.chars() {
        match ch {
            _ if escaped => {
                cur.push(ch);
                escaped = false;
            }
            '\\' if quoted => escaped = true,
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            ',' if !quoted => {
                items.push(std::mem::take(&mut cur));
                was_quoted = false;
            }
            _ => cur.push(ch),
        }
    }
    if !inner.is_empty() || was_quoted {
        items.push(cur);
    }
    Json::Array(
        items
            .into_iter()
            .filter(|i| i != "NULL")
            .map(|i| Json::String(i.trim().to_owned()))
            .collect(),
    )
}

/// The legacy `opportunity_analysis` rows as our results (scorer `imported`), so that importing
/// does not throw away what the old pipeline paid an LLM for.
pub(super) fn analyses(
    store: &mut dyn SqlStore,
    opts: &ImportOptions,
    subs_of: &BTreeMap<String, Option<String>>,
    rep: &mut ImportReport,
    out: &mut Converted,
) -> Result<()> {
    for r in legacy::read_table(store, ANALYSIS_TABLE, None)? {
        let Some(post) = first_text(&r, &["post_id", "submission_id", "id"]) else {
            continue;
        };
        let post = bare(&post).to_owned();
        if !opts.subreddits.is_empty() && subs_of.get(&post).cloned().flatten().is_none() {
            continue;
        }
        let mut d = Map::new();
        d.insert("analysis_id".into(), json!(format!("{post}:{IMPORTED_SCORER}")));
        d.insert("post_id".into(), json!(post));
        d.insert("scorer_id".into(), json!(IMPORTED_SCORER));
        d.insert("status".into(), json!("scored"));
        d.insert("content_hash".into(), json!(IMPORTED_SCORER));
        d.insert("prompt_version".into(), json!("legacy"));
        let num = |cols: &[&str]| cols.iter().find_map(|c| number(&r, c).and_then(|v| v.as_f64()));
        let mut dims = Map::new();
        for (col, aliases) in [
            ("market_demand", &["market_demand"][..]),
            ("pain_intensity", &["pain_intensity"]),
            (
                "monetization_potential",
                &["monetization_potential", "monetization_score"],
            ),
            ("market_gap", &["market_gap"]),
            ("technical_feasibility", &["technical_feasibility"]),
            ("simplicity", &["simplicity", "simplicity_score"]),
        ] {
            if let Some(v) = num(aliases) {
                dims.insert(col.into(), json!(v));
            }
        }
        let functions = first_text(&r, &["core_functions"]).map(|t| text_list(&t));
        if !dims.contains_key("simplicity") {
            // The legacy formula's simplicity: 1 core function -> 100, 2 -> 85, 3 -> 70.
            let n = functions.as_ref().and_then(Json::as_array).map_or(0, Vec::len);
            if (1..=3).contains(&n) {
                dims.insert("simplicity".into(), json!(100.0 - 15.0 * (n as f64 - 1.0)));
            }
        }
        let stored_final = num(&["final_score", "opportunity_score", "total_score"]);
        let final_score = stored_final.or_else(|| {
            // Weights renormalised over the dimensions the legacy row has.
            let (sum, w) = WEIGHTS.iter().fold((0.0, 0.0), |(s, w), (c, k)| {
                match dims.get(*c).and_then(Json::as_f64) {
                    Some(v) => (s + v * k, w + k),
                    None => (s, w),
                }
            });
            (w > 0.0).then(|| (sum / w * 100.0).round() / 100.0)
        });
        let Some(final_score) = final_score else {
            rep.skipped.push(format!(
                "opportunity_analysis row of post {post}: no score to import"
            ));
            continue;
        };
        let how = if stored_final.is_some() {
            "the legacy final score"
        } else {
            "the legacy formula over the dimensions the legacy row has"
        };
        d.extend(dims);
        d.insert("final_score".into(), json!(final_score));
        put(&mut d, "core_functions", functions);
        for col in [
            "app_name",
            "problem_description",
            "app_concept",
            "value_proposition",
            "target_user",
            "monetization_model",
            "growth_justification",
        ] {
            put(&mut d, col, text(&r, col).map(Json::String));
        }
        put(
            &mut d,
            "model",
            first_text(&r, &["model", "ai_model"]).map(Json::String),
        );
        let scored = ["scored_at", "generated_at", "created_at"]
            .iter()
            .find_map(|c| epoch(&r, c));
        put(&mut d, "scored_at", scored.map(|t| json!(t)));
        let evidence = legacy::json(&r, "evidence").filter(Json::is_object);
        d.insert(
            "evidence".into(),
            evidence.unwrap_or_else(|| json!({"imported": format!("from the legacy opportunity_analysis table; final score is {how}")})),
        );
        rep.analyses += 1;
        out.things.push(thing(ANALYSIS_TABLE, d));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_columns_come_from_json_postgres_arrays_or_plain_text() {
        assert_eq!(text_list(r#"["a", "b"]"#), json!(["a", "b"]));
        assert_eq!(
            text_list(r#"{track,"send reminders","say \"hi\""}"#),
            json!(["track", "send reminders", "say \"hi\""])
        );
        assert_eq!(text_list("{}"), json!([]));
        assert_eq!(text_list("one thing"), json!(["one thing"]));
    }
}
