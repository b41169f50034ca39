//! Turning an HTTP answer into JSON or a classified [`Error`].

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::error::{Error, Result};

/// Reddit's human-readable reason for an error body: `reason`, `message`, `explanation` or the start
/// of a text/HTML body.
pub(crate) fn reason_of(body: &[u8]) -> Option<String> {
    if let Ok(json) = serde_json::from_slice::<Value>(body) {
        let field = |k: &str| json.get(k).and_then(Value::as_str).map(str::to_owned);
        return field("reason")
            .or_else(|| field("explanation"))
            .or_else(|| field("message"));
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.starts_with('<') {
        let title = text
            .split_once("<title>")
            .and_then(|(_, rest)| rest.split_once("</title>"));
        return Some(title.map_or_else(|| "html body".to_owned(), |(t, _)| t.trim().to_owned()));
    }
    Some(text.chars().take(120).collect())
}

/// Classifies a complete answer. Success statuses are 200, 201, 202 and 204; an empty success body
/// is `Value::Null`; a body that is not JSON is a (transient) [`Error::Decode`].
pub(crate) fn classify(
    request: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    retry_after: Option<Duration>,
) -> Result<Value> {
    match status.as_u16() {
        200 | 201 | 202 | 204 => {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Value::Null);
            }
            serde_json::from_slice(body).map_err(|source| Error::Decode {
                request: request.to_owned(),
                len: body.len(),
                source,
            })
        }
        300..=399 => Err(Error::Redirect {
            request: request.to_owned(),
            location: headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(no location)")
                .to_owned(),
        }),
        code => {
            let www = headers
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split("error=").nth(1))
                .map(|e| e.trim_matches('"').to_owned());
            Err(Error::Status {
                request: request.to_owned(),
                status: code,
                reason: www.or_else(|| reason_of(body)),
                retry_after,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let h = HeaderMap::new();
        assert_eq!(
            classify("r", StatusCode::OK, &h, b"", None).expect("ok"),
            Value::Null
        );
        let truncated = br#"{"kind": "Listing", "data": {"children": []"#;
        let err = classify("r", StatusCode::OK, &h, truncated, None).expect_err("truncated");
        assert!(err.is_transient());
        let err = classify("r", StatusCode::from_u16(205).expect("205"), &h, b"", None).expect_err("205");
        assert!(!err.is_transient());
        let err = classify(
            "GET /x",
            StatusCode::NOT_FOUND,
            &h,
            br#"{"reason":"banned"}"#,
            None,
        )
        .expect_err("404");
        assert_eq!(err.to_string(), "GET /x failed with HTTP 404: banned");
        assert!(err.is_unavailable());
    }
}
