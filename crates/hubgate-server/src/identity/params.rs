//! The parameters of the OAuth POST endpoints, read from a form body
//! (RFC 6749) or, as DESIGN.md allows, a JSON object with the same fields.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::Deserialize;

use super::error::OAuthError;

/// Every parameter any OAuth endpoint reads. Unknown parameters are ignored
/// (RFC 6749 §3.1); repeated ones are refused (§3.2).
#[derive(Debug, Default, Deserialize)]
pub struct OAuthParams {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scope: Option<String>,
    pub refresh_token: Option<String>,
    pub redirect_uri: Option<String>,
    pub code: Option<String>,
    pub code_verifier: Option<String>,
    /// The guide's spelling of `code_verifier`.
    #[serde(rename = "codeVerifier")]
    pub code_verifier_camel: Option<String>,
    /// Introspection and revocation. `token_type_hint` is not read: the
    /// token's own form tells its type (RFC 7009 §2.1 allows ignoring it).
    pub token: Option<String>,
}

impl OAuthParams {
    /// A parameter that must be present and non-empty.
    pub fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, OAuthError> {
        match value.as_deref() {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(OAuthError::invalid_request(format!(
                "the {name} parameter is required"
            ))),
        }
    }

    /// An optional parameter; empty counts as absent (RFC 6749 §3.1).
    pub fn optional(value: &Option<String>) -> Option<&str> {
        value.as_deref().filter(|v| !v.is_empty())
    }
}

impl<S: Send + Sync> FromRequest<S> for OAuthParams {
    type Rejection = OAuthError;

    async fn from_request(request: Request, state: &S) -> Result<Self, OAuthError> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        let body = Bytes::from_request(request, state).await.map_err(|_| {
            OAuthError::invalid_request("the request body could not be read (too large?)")
        })?;
        match content_type.as_deref() {
            Some("application/json") => serde_json::from_slice(&body).map_err(|e| {
                OAuthError::invalid_request(format!(
                    "the JSON body is not an object of string parameters: {e}"
                ))
            }),
            Some("application/x-www-form-urlencoded") | None => serde_urlencoded::from_bytes(&body)
                .map_err(|e| {
                    OAuthError::invalid_request(format!("the form body is malformed: {e}"))
                }),
            Some(other) => Err(OAuthError::invalid_request(format!(
                "unsupported content type {other}; send application/x-www-form-urlencoded"
            ))),
        }
    }
}
