use std::path::PathBuf;

use hubgate_server::ServerConfig;
use hubgate_testkit::TestApp;
use serde_json::Value;

fn committed_spec() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

/// The committed snapshot is what the code generates, so an API change shows
/// up in review. `HUBGATE_UPDATE_SPEC=1 cargo test -p hubgate-server --test http api_docs` rewrites it.
#[test]
fn the_committed_openapi_snapshot_matches_the_code() {
    let generated = hubgate_server::docs::openapi(&ServerConfig::new("http://127.0.0.1:8080"));
    let generated = serde_json::to_string_pretty(&generated).unwrap() + "\n";
    if std::env::var_os("HUBGATE_UPDATE_SPEC").is_some() {
        std::fs::write(committed_spec(), &generated).unwrap();
    }
    let committed = std::fs::read_to_string(committed_spec()).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is out of date: run HUBGATE_UPDATE_SPEC=1 cargo test -p hubgate-server --test http api_docs \
         and commit the result"
    );
}

#[tokio::test]
async fn the_spec_documents_every_route_and_the_client_credentials_scheme() {
    let app = TestApp::spawn().await;
    let spec: Value = app
        .http
        .get(format!("{}/doc/openapi.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(spec["servers"][0]["url"], app.url.as_str());
    let paths = spec["paths"].as_object().unwrap();
    // One list of paths (hubgate_api::paths) for the router, the SDK and
    // this check: each is documented, and nothing else is.
    for path in hubgate_api::paths::DOCUMENTED {
        assert!(paths.contains_key(*path), "{path} is not documented");
    }
    for documented in paths.keys() {
        assert!(
            hubgate_api::paths::DOCUMENTED.contains(&documented.as_str()),
            "{documented} is documented but not in hubgate_api::paths::DOCUMENTED"
        );
    }
    let flow = &spec["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"];
    assert_eq!(
        flow["tokenUrl"],
        format!("{}/identity/oauth/v2/token", app.url)
    );
    let mut scopes: Vec<_> = flow["scopes"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    scopes.sort();
    assert_eq!(
        scopes,
        [
            "accounts:read",
            "audit:read",
            "email",
            "hubs:manage",
            "hubs:read",
            "hubs:write",
            "integrations:read",
            "integrations:write",
            "members:read",
            "members:write",
            "sub"
        ]
    );
    let token = &paths["/identity/oauth/v2/token"]["post"]["requestBody"]["content"];
    assert!(token["application/x-www-form-urlencoded"].is_object());
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let bare = no_redirects
        .get(format!("{}/doc/swagger", app.url))
        .send()
        .await
        .unwrap();
    assert!(bare.status().is_redirection());
    assert_eq!(bare.headers()["location"], "/doc/swagger/");
    let page = app
        .http
        .get(format!("{}/doc/swagger/", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("https://"),
        "the page must not load anything from elsewhere: {html}"
    );
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-initializer.js",
    ] {
        let response = app
            .http
            .get(format!("{}/doc/swagger/{asset}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{asset}");
    }
    let init = app
        .http
        .get(format!("{}/doc/swagger/swagger-initializer.js", app.url))
        .send()
        .await
        .unwrap();
    assert!(init.text().await.unwrap().contains("/doc/openapi.json"));
}
