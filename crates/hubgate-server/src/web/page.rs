//! Pages: the security headers every page gets, redirects, the readable
//! error page, and the form extractor whose rejection is such a page.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An HTML page with the headers every page gets: a strict CSP (no script,
/// no framing), `no-store`, no referrer (codes and secrets stay out of
/// Referer headers).
pub struct Page {
    pub status: StatusCode,
    pub html: String,
    /// Origins forms on this page may end up at (a redirect after POST).
    pub form_targets: Vec<String>,
    /// The console's own script (copy buttons); other pages run none.
    pub scripts: bool,
}

impl Page {
    pub fn render(template: &impl Template) -> Page {
        match template.render() {
            Ok(html) => Page {
                status: StatusCode::OK,
                html,
                form_targets: Vec::new(),
                scripts: false,
            },
            Err(error) => {
                tracing::error!(%error, "a page failed to render");
                Page {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    html: "<h1>Something went wrong</h1>".into(),
                    form_targets: Vec::new(),
                    scripts: false,
                }
            }
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> Page {
        self.status = status;
        self
    }

    pub fn allowing_form_target(mut self, origin: Option<String>) -> Page {
        self.form_targets.extend(origin);
        self
    }

    pub fn with_scripts(mut self) -> Page {
        self.scripts = true;
        self
    }
}

pub fn security_headers(response: &mut Response, form_targets: &[String], scripts: bool) {
    let form_action = std::iter::once("'self'".to_owned())
        .chain(form_targets.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let script = if scripts { " script-src 'self';" } else { "" };
    let csp = format!(
        "default-src 'none';{script} style-src 'self'; img-src 'self' data:; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::response::Html(self.html)).into_response();
        security_headers(&mut response, &self.form_targets, self.scripts);
        response
    }
}

/// A 303 to `location` with the pages' headers.
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    security_headers(&mut response, &[], false);
    response
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate<'a> {
    title: &'a str,
    message: &'a str,
    back: Option<(String, String)>,
}

/// A readable error page; `back` is an optional (href, label) link.
pub fn error_page(
    status: StatusCode,
    title: &str,
    message: &str,
    back: Option<(String, String)>,
) -> Response {
    Page::render(&ErrorTemplate {
        title,
        message,
        back,
    })
    .with_status(status)
    .into_response()
}

/// A form body; a malformed one gets a readable page, not a bare 4xx.
pub struct WebForm<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for WebForm<T> {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Response> {
        axum_extra::extract::Form::<T>::from_request(request, state)
            .await
            .map(|axum_extra::extract::Form(value)| WebForm(value))
            .map_err(|_| {
                error_page(
                    StatusCode::BAD_REQUEST,
                    "Check the form",
                    "The form was incomplete or malformed.",
                    None,
                )
            })
    }
}

/// The page for a store that cannot be reached right now (503).
pub fn unavailable_page() -> Response {
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again",
        "The server cannot reach its store right now.",
        None,
    )
}

/// The origin (`scheme://host[:port]`) of a URL, for CSP.
pub fn origin_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
}
