//! The answer's JSON schema, and validation of what came back (structured or in text).

use serde_json::{Value, json};

use crate::analysis::{Dimensions, Profile};

const DIMENSIONS: [&str; 5] = [
    "market_demand",
    "pain_intensity",
    "monetization_potential",
    "market_gap",
    "technical_feasibility",
];

const TEXTS: [&str; 7] = [
    "app_name",
    "problem_description",
    "app_concept",
    "value_proposition",
    "target_user",
    "monetization_model",
    "growth_justification",
];

/// The JSON schema of an answer (strict: every field required, nothing else allowed).
pub fn schema() -> Value {
    let mut props = serde_json::Map::new();
    for d in DIMENSIONS {
        props.insert(d.into(), json!({"type": "number", "minimum": 0, "maximum": 100}));
    }
    for t in TEXTS {
        props.insert(t.into(), json!({"type": "string"}));
    }
    props.insert(
        "core_functions".into(),
        json!({"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3}),
    );
    let mut required: Vec<&str> = DIMENSIONS.to_vec();
    required.extend(TEXTS);
    required.push("core_functions");
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
}

/// The `response_format` of a request.
pub fn response_format() -> Value {
    json!({"type": "json_schema", "json_schema": {"name": "opportunity", "strict": true, "schema": schema()}})
}

/// The instruction added to the prompt when the endpoint cannot enforce the schema.
pub fn text_instruction() -> String {
    format!(
        "Reply with exactly one JSON object that matches this JSON schema, and nothing else:\n{}",
        schema()
    )
}

/// The JSON object in an answer: the whole text, or the outermost `{...}` inside prose or a code
/// fence.
fn extract(text: &str) -> Option<Value> {
    let t = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(t) {
        return Some(v);
    }
    let start = t.find('{')?;
    let end = t.rfind('}')?;
    serde_json::from_str(t.get(start..=end)?).ok()
}

/// Validates an answer against the schema; the error says what is wrong, for the retry.
pub fn parse(text: &str) -> Result<(Dimensions, Profile), String> {
    let v = extract(text).ok_or_else(|| "the answer is not a JSON object".to_owned())?;
    let obj = v
        .as_object()
        .ok_or_else(|| "the answer is not a JSON object".to_owned())?;
    let mut problems = Vec::new();
    let mut dims = [0.0f64; 5];
    for (i, d) in DIMENSIONS.iter().enumerate() {
        match obj.get(*d).and_then(Value::as_f64) {
            Some(x) if (0.0..=100.0).contains(&x) => dims[i] = x,
            Some(x) => problems.push(format!("`{d}` must be between 0 and 100, got {x}")),
            None => problems.push(format!("`{d}` must be a number")),
        }
    }
    let mut texts: Vec<Option<String>> = Vec::new();
    for t in TEXTS {
        match obj.get(t).and_then(Value::as_str) {
            Some(s) if !s.trim().is_empty() => texts.push(Some(s.trim().to_owned())),
            _ => {
                problems.push(format!("`{t}` must be a non-empty string"));
                texts.push(None);
            }
        }
    }
    let functions: Vec<String> = match obj.get("core_functions").and_then(Value::as_array) {
        Some(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        None => Vec::new(),
    };
    if !(1..=3).contains(&functions.len()) {
        problems.push(format!(
            "`core_functions` must list 1 to 3 strings, got {}",
            functions.len()
        ));
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let d = Dimensions {
        market_demand: dims[0],
        pain_intensity: dims[1],
        monetization_potential: dims[2],
        market_gap: dims[3],
        technical_feasibility: dims[4],
    };
    let mut it = texts.into_iter();
    let mut next = || it.next().flatten();
    let p = Profile {
        app_name: next(),
        problem_description: next(),
        app_concept: next(),
        value_proposition: next(),
        target_user: next(),
        monetization_model: next(),
        growth_justification: next(),
        core_functions: functions,
    };
    Ok((d, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Value {
        json!({"market_demand": 70, "pain_intensity": 80, "monetization_potential": 60, "market_gap": 50,
            "technical_feasibility": 90, "app_name": "Inv", "problem_description": "p", "app_concept": "c",
            "core_functions": ["a", "b"], "value_proposition": "v", "target_user": "t",
            "monetization_model": "m", "growth_justification": "g"})
    }

    #[test]
    fn accepts_structured_and_fenced_answers() {
        let (d, p) = parse(&good().to_string()).expect("valid");
        assert_eq!(d.pain_intensity, 80.0);
        assert_eq!(p.core_functions.len(), 2);
        assert_eq!(p.target_user.as_deref(), Some("t"));
        let fenced = format!("Sure!\n```json\n{}\n```", good());
        assert!(parse(&fenced).is_ok());
    }

    #[test]
    fn says_what_is_wrong() {
        let mut bad = good();
        bad["market_gap"] = json!(140);
        bad["core_functions"] = json!([]);
        let e = parse(&bad.to_string()).expect_err("invalid");
        assert!(e.contains("market_gap") && e.contains("core_functions"), "{e}");
        assert!(parse("no json here").is_err());
        assert_eq!(schema()["required"].as_array().map(Vec::len), Some(13));
    }
}
