//! A browser for the authorization pages: an HTTP client with a cookie jar
//! that follows no redirects, so tests check every hop.

use reqwest::header::LOCATION;

use crate::{REDIRECT_URI, TestApp};

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The text of a page at `url`, fetched with `http` (and its cookies).
pub async fn page(http: &reqwest::Client, url: &str) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

/// Posts the console's login form as a fresh browser would; returns the
/// response (a 303 when the password was right) and the browser.
pub async fn console_login(
    app: &TestApp,
    email: &str,
    password: &str,
) -> (reqwest::Response, reqwest::Client) {
    let http = browser();
    let login = page(&http, &format!("{}/console/login", app.url)).await;
    let response = http
        .post(format!("{}/console/login", app.url))
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf", &field(&login, "csrf")),
        ])
        .send()
        .await
        .unwrap();
    (response, http)
}

/// The value of a hidden input in a page.
pub fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in:\n{html}"))
        + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .replace("&#x2b;", "+")
        .replace("&#x2f;", "/")
        .replace("&#61;", "=")
}

pub struct Flow<'a> {
    app: &'a TestApp,
    browser: reqwest::Client,
}

impl<'a> Flow<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            browser: browser(),
        }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.browser.get(url).send().await.unwrap()
    }

    /// The text of the page at `path` on the app.
    pub async fn page(&self, path: &str) -> String {
        page(&self.browser, &format!("{}{path}", self.app.url)).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.browser
            .post(format!("{}{path}", self.app.url))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Logs in on the page `page` showed; returns the next response after the redirect.
    pub async fn log_in(&self, page: &str, email: &str, password: &str) -> reqwest::Response {
        let (csrf, request) = (field(page, "csrf"), field(page, "request"));
        let response = self
            .post(
                "/identity/oauth/v2/authorize/login",
                &[
                    ("email", email),
                    ("password", password),
                    ("csrf", &csrf),
                    ("request", &request),
                ],
            )
            .await;
        if response.status() != 303 {
            return response;
        }
        let next = response.headers()[LOCATION].to_str().unwrap().to_owned();
        self.get(&format!("{}{next}", self.app.url)).await
    }

    pub async fn decide(&self, page: &str, decision: &str) -> reqwest::Response {
        let form = [
            ("csrf", field(page, "csrf")),
            ("request", field(page, "request")),
            ("account", field(page, "account")),
            ("decision", decision.to_owned()),
        ];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.post("/identity/oauth/v2/authorize/decision", &form)
            .await
    }
}

/// The query of a redirect to the client.
pub fn redirect_query(response: &reqwest::Response) -> std::collections::HashMap<String, String> {
    assert_eq!(response.status(), 303, "expected a redirect to the client");
    let location = response.headers()[LOCATION].to_str().unwrap();
    assert!(
        location.starts_with(REDIRECT_URI),
        "redirected to {location}"
    );
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}
