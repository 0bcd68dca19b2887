//! The one HTTP mapping of resource-API errors: JSON `{"error", "error_description"}`
//! with the status that fits, and RFC 6750 `WWW-Authenticate` challenges.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hubgate_api::{ErrorBody, ErrorCode};

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
    challenge: Option<String>,
}

const REALM: &str = "Bearer realm=\"hubgate\"";

impl ApiError {
    fn new(status: StatusCode, code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody::new(code, description),
            challenge: None,
        }
    }

    /// No credentials at all: the challenge carries no error code (RFC 6750 §3.1).
    pub fn missing_token() -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidToken,
            "a bearer access token is required",
        );
        error.challenge = Some(REALM.to_owned());
        error
    }

    pub fn invalid_token(description: &'static str) -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidToken,
            description,
        );
        error.challenge = Some(format!(
            "{REALM}, error=\"invalid_token\", error_description=\"{description}\""
        ));
        error
    }

    pub fn insufficient_scope(scope: &str) -> Self {
        let mut error = Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::InsufficientScope,
            format!("the access token lacks the scope this request needs: {scope}"),
        );
        error.challenge = Some(format!(
            "{REALM}, error=\"insufficient_scope\", scope=\"{scope}\""
        ));
        error
    }

    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            description,
        )
    }

    pub fn unprocessable(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationFailed,
            description,
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("{what} not found"),
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::TemporarilyUnavailable,
            "the server cannot complete the request right now; retry later",
        )
    }
}

impl From<hubgate_store::StoreError> for ApiError {
    fn from(error: hubgate_store::StoreError) -> Self {
        tracing::error!(%error, "store error on the resource API");
        Self::unavailable()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(challenge) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
