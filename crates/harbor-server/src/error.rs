//! The one JSON error shape of the API, with stable codes, and the crate's library error.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Stable, machine-readable error codes. Clients switch on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No bearer token, or an unknown or revoked one (401).
    Unauthorized,
    /// The token's scope is too small for this endpoint (403).
    Forbidden,
    /// No such resource or route (404).
    NotFound,
    /// The method is not allowed on this route (405).
    MethodNotAllowed,
    /// A query parameter, path parameter or body field is invalid (400).
    InvalidParameter,
    /// The request body is not valid JSON of the expected shape (400/415).
    InvalidBody,
    /// The request body is larger than the server accepts (413).
    PayloadTooLarge,
    /// The request conflicts with the current state, e.g. a run is already active (409).
    Conflict,
    /// The request took longer than the server's timeout (503).
    Timeout,
    /// Something failed inside the server; details are in the server log only (500).
    Internal,
}

impl ErrorCode {
    /// The HTTP status this code is sent with.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::InvalidParameter | ErrorCode::InvalidBody => StatusCode::BAD_REQUEST,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The body of every error response: `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and human-readable message of an error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code.
    pub code: ErrorCode,
    /// What went wrong, for people; never contains internals.
    pub message: String,
}

/// An error returned by a handler.
#[derive(Debug)]
pub struct ApiError {
    /// Stable code (decides the status).
    pub code: ErrorCode,
    /// Message sent to the client.
    pub message: String,
    status: Option<StatusCode>,
}

impl ApiError {
    /// An error with a code and a client-facing message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            status: None,
        }
    }

    /// 400 `invalid_parameter`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameter, message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// 500 `internal`: logs the detail (without secrets, which never reach here) and returns a
    /// generic message.
    pub fn internal(context: &str, detail: impl std::fmt::Display) -> Self {
        tracing::error!(context, error = %detail, "Request failed");
        Self::new(
            ErrorCode::Internal,
            "internal error; the server log has the details",
        )
    }

    /// Overrides the HTTP status (e.g. 415 for `invalid_body`).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status.unwrap_or(self.code.status());
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        (status, Json(body)).into_response()
    }
}

impl From<duckdb::Error> for ApiError {
    fn from(e: duckdb::Error) -> Self {
        ApiError::internal("database query", e)
    }
}

/// Errors of the server library outside request handling (startup, token store).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The token file cannot be read or written.
    #[error("token store {path}: {message}")]
    Tokens {
        /// The token file.
        path: std::path::PathBuf,
        /// What failed.
        message: String,
    },
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The server stopped with an IO error.
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    /// A database query at startup failed.
    #[error("database: {0}")]
    Database(#[from] duckdb::Error),
    /// A configuration value is invalid.
    #[error("invalid server configuration: {0}")]
    Config(String),
}

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
