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

    pub fn conflict(description: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, ErrorCode::Conflict, description)
    }

    /// The token's scope allows it, but its user's role does not.
    pub fn access_denied(description: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::AccessDenied, description)
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

impl From<crate::app::AppError> for ApiError {
    fn from(error: crate::app::AppError) -> Self {
        use crate::app::AppError;
        match error {
            AppError::Invalid(message) => Self::unprocessable(message),
            AppError::NotFound(what) => Self::not_found(what),
            AppError::Conflict(message) => Self::conflict(message),
            AppError::Forbidden(message) => Self::access_denied(&message),
            AppError::Store(error) => error.into(),
        }
    }
}

/// A JSON body whose rejection speaks the API's error format: not JSON is
/// `400`, JSON of the wrong shape `422`.
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(request, state)
            .await
            .map(|Json(value)| ApiJson(value))
            .map_err(super::hubs::json_rejection)
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
