use hubgate_api::ErrorCode;

/// Everything a call can fail with. OAuth and API errors carry the server's
/// code and description; nothing here ever holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client was built with something unusable (a bad URL, no credentials).
    #[error("configuration: {0}")]
    Config(String),
    /// The token endpoint refused (RFC 6749 §5.2): `invalid_client` means the
    /// credentials are wrong or the integration is disabled or deleted.
    #[error("the token endpoint answered {status} {code}: {description}")]
    OAuth {
        status: u16,
        code: ErrorCode,
        description: String,
    },
    /// The API refused (401, 403, 404, 422, …).
    #[error("the API answered {status} {code}: {description}")]
    Api {
        status: u16,
        code: ErrorCode,
        description: String,
    },
    /// The server answered something that is not the documented JSON.
    #[error("unexpected answer ({status}): {detail}")]
    Unexpected { status: u16, detail: String },
    /// Connecting, sending or reading failed (includes timeouts).
    #[error("transport: {}", with_causes(.0))]
    Transport(#[from] reqwest::Error),
}

/// reqwest's message and what caused it ("connection refused"), on one line.
fn with_causes(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Error {
    /// The OAuth or API error code, when the server gave one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::OAuth { code, .. } | Self::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The HTTP status, when there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::OAuth { status, .. }
            | Self::Api { status, .. }
            | Self::Unexpected { status, .. } => Some(*status),
            Self::Transport(e) => e.status().map(|s| s.as_u16()),
            Self::Config(_) => None,
        }
    }

    /// The credentials themselves were refused: retrying will not help.
    pub fn is_authentication(&self) -> bool {
        matches!(
            self,
            Self::OAuth {
                code: ErrorCode::InvalidClient | ErrorCode::UnauthorizedClient,
                ..
            }
        )
    }

    pub(crate) async fn from_response(response: reqwest::Response, oauth: bool) -> Self {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        match serde_json::from_str::<hubgate_api::ErrorBody>(&text) {
            Ok(body) => {
                let description = body.error_description.unwrap_or_default();
                if oauth {
                    Self::OAuth {
                        status,
                        code: body.error,
                        description,
                    }
                } else {
                    Self::Api {
                        status,
                        code: body.error,
                        description,
                    }
                }
            }
            Err(_) => Self::Unexpected {
                status,
                detail: text.chars().take(200).collect(),
            },
        }
    }
}
