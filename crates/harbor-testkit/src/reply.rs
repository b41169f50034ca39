//! A response the fake will send, built while holding the state lock and sent after.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

/// What to send.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send half the body, then reset the connection.
    pub drop_connection: bool,
    /// Wait before answering.
    pub delay: Option<Duration>,
}

impl Reply {
    pub(crate) fn json(status: u16, value: &Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json; charset=UTF-8".into())],
            body: value.to_string().into_bytes(),
            drop_connection: false,
            delay: None,
        }
    }

    pub(crate) fn error(status: u16, reason: Option<&str>, message: &str) -> Self {
        let mut v = serde_json::json!({"message": message, "error": status});
        if let Some(r) = reason {
            v["reason"] = Value::from(r);
        }
        Self::json(status, &v)
    }

    pub(crate) fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub(crate) fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let full_len = self.body.len();
        let body = if self.drop_connection {
            let half = Bytes::from(self.body[..full_len / 2].to_vec());
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(half),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "fault: dropped",
                )),
            ];
            Body::from_stream(futures_util::stream::iter(chunks))
        } else {
            Body::from(self.body)
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                headers.insert(n, v);
            }
        }
        if self.drop_connection {
            headers.insert(axum::http::header::CONTENT_LENGTH, HeaderValue::from(full_len));
        }
        response
    }
}
