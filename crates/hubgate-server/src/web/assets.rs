//! The stylesheet and the console's script, served from the binary.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

pub const STYLESHEET: &str = include_str!("../../assets/hubgate.css");
pub const CONSOLE_SCRIPT: &str = include_str!("../../assets/console.js");

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

pub async fn stylesheet() -> Response {
    asset(STYLESHEET, "text/css; charset=utf-8")
}

pub async fn console_script() -> Response {
    asset(CONSOLE_SCRIPT, "text/javascript; charset=utf-8")
}
