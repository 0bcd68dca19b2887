//! One error type for page handlers, so they use `?`: a page already
//! rendered (a redirect to the login page, a 404), or an application error
//! rendered here, a store failure logged once.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::page::{error_page, unavailable_page};
use crate::app::AppError;

pub enum PageError {
    /// The response to send as it is.
    Page(Response),
    App(AppError),
}

impl From<Response> for PageError {
    fn from(response: Response) -> Self {
        PageError::Page(response)
    }
}

impl From<AppError> for PageError {
    fn from(error: AppError) -> Self {
        PageError::App(error)
    }
}

impl From<hubgate_store::StoreError> for PageError {
    fn from(error: hubgate_store::StoreError) -> Self {
        PageError::App(AppError::Store(error))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Page(response) => response,
            PageError::App(AppError::Invalid(message) | AppError::Conflict(message)) => error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Not saved",
                &message,
                None,
            ),
            PageError::App(AppError::Forbidden(message)) => {
                error_page(StatusCode::FORBIDDEN, "Not allowed", &message, None)
            }
            PageError::App(AppError::NotFound(what)) => error_page(
                StatusCode::NOT_FOUND,
                "Not found",
                &format!("This account has no such {what}."),
                None,
            ),
            PageError::App(AppError::Store(error)) => {
                tracing::error!(%error, "store error on a page");
                unavailable_page()
            }
        }
    }
}

/// What a page handler returns.
pub type PageResult = Result<Response, PageError>;
