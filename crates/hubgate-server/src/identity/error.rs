//! The one HTTP mapping of OAuth errors (RFC 6749 §5.2): status, JSON body,
//! `Cache-Control: no-store`, and `WWW-Authenticate` when Basic was tried.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hubgate_api::{ErrorBody, ErrorCode};
use hubgate_core::grant::{ClientAuthFailure, GrantError};

#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    body: ErrorBody,
    basic_challenge: bool,
    retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(status: StatusCode, code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody::new(code, description),
            basic_challenge: false,
            retry_after: None,
        }
    }

    /// `429` with `Retry-After` (whole seconds, at least 1).
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            "too many failed client authentications; retry later",
        );
        error.retry_after = Some(wait.as_secs().max(1));
        error
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            description,
        )
    }

    pub fn invalid_client(via_basic: bool) -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidClient,
            "client authentication failed",
        );
        error.basic_challenge = via_basic;
        error
    }

    pub fn server_error() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::TemporarilyUnavailable,
            "the server cannot complete the request right now; retry later",
        )
    }
}

impl From<GrantError> for OAuthError {
    fn from(error: GrantError) -> Self {
        match error {
            GrantError::InvalidRequest(d) => Self::invalid_request(d),
            GrantError::InvalidClient(ClientAuthFailure::ConflictingCredentials) => {
                Self::invalid_request(
                    "use one client authentication method: HTTP Basic or client_id and client_secret in the body",
                )
            }
            GrantError::InvalidClient(_) => Self::invalid_client(false),
            GrantError::InvalidGrant(_) => Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidGrant,
                "the grant is invalid, expired, revoked or was issued to another client",
            ),
            GrantError::UnauthorizedClient(d) => {
                Self::new(StatusCode::BAD_REQUEST, ErrorCode::UnauthorizedClient, d)
            }
            GrantError::UnsupportedGrantType(d) => {
                Self::new(StatusCode::BAD_REQUEST, ErrorCode::UnsupportedGrantType, d)
            }
            GrantError::InvalidScope(d) => {
                Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidScope, d)
            }
        }
    }
}

impl From<hubgate_store::StoreError> for OAuthError {
    fn from(error: hubgate_store::StoreError) -> Self {
        tracing::error!(%error, "store error on an OAuth endpoint");
        Self::server_error()
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.basic_challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"hubgate\", charset=\"UTF-8\""),
            );
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        } else if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
