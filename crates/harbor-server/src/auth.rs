//! The bearer-token extractor: every handler names the scope it needs in its signature
//! (`Auth<READ>`, `Auth<WRITE>`, `Auth<ADMIN>`), so a route cannot forget to check.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::tokens::Scope;

/// Scope number of [`Scope::Read`] for [`Auth`].
pub const READ: u8 = 0;
/// Scope number of [`Scope::Write`] for [`Auth`].
pub const WRITE: u8 = 1;
/// Scope number of [`Scope::Admin`] for [`Auth`].
pub const ADMIN: u8 = 2;

/// Proof that the request carried a live token of at least scope `S`.
#[derive(Debug, Clone)]
pub struct Auth<const S: u8> {
    /// The token's actual scope.
    pub scope: Scope,
    /// The token's public id (for audit records).
    pub token_id: String,
}

fn required(s: u8) -> Scope {
    match s {
        READ => Scope::Read,
        WRITE => Scope::Write,
        _ => Scope::Admin,
    }
}

impl<const S: u8> FromRequestParts<Arc<AppState>> for Auth<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(ApiError::new(
                ErrorCode::Unauthorized,
                "missing bearer token: send `Authorization: Bearer <token>` (create one with `harbor token create`)",
            ));
        };
        let scope = state
            .tokens
            .verify(token)
            .map_err(|e| ApiError::internal("token store", e))?;
        let Some((token_id, scope)) = scope else {
            return Err(ApiError::new(ErrorCode::Unauthorized, "unknown or revoked token"));
        };
        let need = required(S);
        if scope < need {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "this endpoint needs a {} token; this one has scope {}",
                    need.as_str(),
                    scope.as_str()
                ),
            ));
        }
        Ok(Auth { scope, token_id })
    }
}
