//! Extractors whose rejections use the API's error shape, and shared parameter parsing.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use base64::Engine;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};

/// `Query<T>` answering bad parameters with 400 `invalid_parameter`.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(q) => Ok(ApiQuery(q.0)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(ApiError::invalid(format!(
                "invalid query parameters: {}",
                e.body_text()
            ))),
            Err(e) => Err(ApiError::invalid(e.body_text())),
        }
    }
}

/// `Json<T>` answering bad bodies with `invalid_body` (400/415) and big ones with 413.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(j) => Ok(ApiJson(j.0)),
            Err(e) => {
                let status = e.status();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    return Err(ApiError::new(
                        ErrorCode::PayloadTooLarge,
                        "request body is too large",
                    ));
                }
                let msg = match &e {
                    JsonRejection::MissingJsonContentType(_) => {
                        "expected a JSON body with `Content-Type: application/json`".to_owned()
                    }
                    other => format!("invalid JSON body: {}", other.body_text()),
                };
                // 415 for a missing content type; every other malformed body is a 400 (not axum's 422).
                let status = if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                    status
                } else {
                    StatusCode::BAD_REQUEST
                };
                Err(ApiError::new(ErrorCode::InvalidBody, msg).with_status(status))
            }
        }
    }
}

/// Page size: default when absent, 400 when outside 1..=max.
pub fn page_size(limit: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match limit {
        None => Ok(default.min(max)),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::invalid(format!("limit {n} is outside 1..={max}"))),
    }
}

/// Encodes an opaque cursor.
pub fn encode_cursor(parts: &[String]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(parts.join("\n"))
}

/// Decodes an opaque cursor made of `n` parts.
pub fn decode_cursor(cursor: &str, n: usize) -> Result<Vec<String>, ApiError> {
    let bad = || ApiError::invalid("invalid cursor: pass `next_cursor` from the previous page");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let parts: Vec<String> = text.split('\n').map(str::to_owned).collect();
    if parts.len() != n {
        return Err(bad());
    }
    Ok(parts)
}

/// The largest offset an offset cursor may carry: far past any real table, and small enough that
/// `offset + limit` fits every engine's BIGINT.
pub const MAX_CURSOR_OFFSET: u64 = 1 << 40;

/// Encodes an offset cursor.
pub fn encode_offset(offset: u64) -> String {
    encode_cursor(&[offset.to_string()])
}

/// Decodes an offset cursor: decimal digits only, at most [`MAX_CURSOR_OFFSET`]; everything else
/// (bad base64, a sign, overflow, another shape) is a 400.
pub fn decode_offset(cursor: &str) -> Result<u64, ApiError> {
    let part = decode_cursor(cursor, 1)?.remove(0);
    let bad = || ApiError::invalid("invalid cursor: pass `next_cursor` from the previous page");
    if part.is_empty() || part.len() > 20 || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match part.parse::<u64>() {
        Ok(n) if n <= MAX_CURSOR_OFFSET => Ok(n),
        _ => Err(bad()),
    }
}

/// Parses a time as RFC 3339 (`2025-05-01T12:00:00Z`) or a date (`2025-05-01`, midnight UTC);
/// returns microseconds since the epoch.
pub fn parse_time(name: &str, value: &str) -> Result<i64, ApiError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(t.timestamp_micros());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc().timestamp_micros());
    }
    Err(ApiError::invalid(format!(
        "`{name}` must be an RFC 3339 time (2025-05-01T12:00:00Z) or a date (2025-05-01)"
    )))
}

/// A `LIKE` pattern matching `q` literally anywhere (escape character `\`).
pub fn like_pattern(q: &str) -> String {
    let mut p = String::with_capacity(q.len() + 2);
    p.push('%');
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Validates a Reddit id (base 36, optional `t3_`/`t1_` prefix); returns it without the prefix.
pub fn reddit_id(id: &str) -> Result<String, ApiError> {
    let bare = id
        .strip_prefix("t3_")
        .or_else(|| id.strip_prefix("t1_"))
        .unwrap_or(id);
    if bare.is_empty()
        || bare.len() > 16
        || !bare.chars().all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
    {
        return Err(ApiError::invalid(format!(
            "`{}` is not a Reddit id (base 36, e.g. 1kq9zq)",
            id.chars().take(40).collect::<String>()
        )));
    }
    Ok(bare.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_escapes_wildcards() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = encode_cursor(&["12".into(), "abc".into()]);
        assert_eq!(decode_cursor(&c, 2).expect("decode"), vec!["12", "abc"]);
        assert!(decode_cursor(&c, 3).is_err());
        assert!(decode_cursor("!!!", 2).is_err());
    }

    #[test]
    fn offset_cursors_are_range_checked() {
        assert_eq!(decode_offset(&encode_offset(150)).expect("offset"), 150);
        for bad in [
            "9223372036854775808",
            "18446744073709551616",
            "-1",
            "+5",
            " 5",
            "",
            "1e3",
            "1099511627777",
        ] {
            assert!(decode_offset(&encode_cursor(&[bad.into()])).is_err(), "{bad:?}");
        }
        assert!(decode_offset(&encode_cursor(&["1".into(), "2".into()])).is_err());
        assert!(decode_offset("%%%").is_err());
    }

    #[test]
    fn times_and_ids() {
        assert_eq!(parse_time("since", "1970-01-02").expect("date"), 86_400_000_000);
        assert_eq!(
            parse_time("since", "1970-01-01T00:00:01Z").expect("rfc3339"),
            1_000_000
        );
        assert!(parse_time("since", "yesterday").is_err());
        assert_eq!(reddit_id("t3_abc123").expect("id"), "abc123");
        assert!(reddit_id("x' OR 1=1 --").is_err());
        assert!(page_size(Some(0), 50, 500).is_err());
        assert!(page_size(Some(501), 50, 500).is_err());
        assert_eq!(page_size(None, 50, 500).expect("default"), 50);
    }
}
