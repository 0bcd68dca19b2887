//! The limit hubgate is measured against: the same routes and payload
//! shapes, a form decoded like the token endpoint decodes it, static JSON
//! back; no authentication, no storage, no signing. The hub list serializes
//! hubgate's own wire types from hubs built once, as a server that did no
//! work but the answer would.
//!
//! Usage: `hubgate-bare [ADDRESS]` (default 127.0.0.1:8090)

use axum::extract::{Path, Query};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    refresh_token: Option<String>,
    token: Option<String>,
}

const ACCESS_TOKEN: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6ImtleV8wMWEyMmJlN2VmOTA3NGE1OWI2NzZjYmExNmM4M2IyZiIsInR5cCI6ImF0K2p3dCJ9.eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xOjgwODAiLCJzdWIiOiJ1c3JfMDFhMjJiZTdlZjhhNzE3Y2JhNTI0ZTYyZjNhOWNhYjQiLCJhdWQiOiJodHRwOi8vMTI3LjAuMC4xOjgwODAvYXBpIiwiZXhwIjoxNzk2MDM2NTU2LCJpYXQiOjE3OTYwMzI5NTYsImp0aSI6IjN2aEFRblFFNzNBamMteTRxZVFvancifQ.qFR31zHEimQd2kelScES_cBZ9RxIyAmbg-C2MAEghtDdETsZkzdbWVXLyxHXL2KlNAccc1JOpUteoqEh3TrgCg";
const REFRESH_TOKEN: &str = "hgr_uBz6hIFqRUCoeNJ6m3x18TNZ60rMFEylKE9SDAp8jot5GpQY_RHrmBVTLeBV3EW1OPOsVke7EwPp6Y3Kl5gF9gXtnu2m6bHJyQ5XhOtEMq9G1dnTJOH4ge7oLKMQIdUdKWQTDoSz8-QmCYtW6b448whbS_pDtM_ClrtbXTI8a1tOmA";

fn no_store(body: Value) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn token(Form(form): Form<TokenForm>) -> Response {
    let _ = (
        &form.grant_type,
        &form.client_id,
        &form.client_secret,
        &form.scope,
        &form.refresh_token,
    );
    no_store(json!({
        "access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600,
        "refresh_token": REFRESH_TOKEN, "scope": "hubs:read hubs:write accounts:read"
    }))
}

async fn introspect(Form(form): Form<TokenForm>) -> Response {
    let _ = &form.token;
    no_store(
        json!({"active": true, "scope": "hubs:read", "client_id": "hgc_0123", "token_type": "Bearer",
        "exp": 1796036556, "iat": 1796032956, "sub": "usr_01", "aud": "http://127.0.0.1:8080/api"}),
    )
}

fn hub(id: &str) -> Value {
    json!({
        "id": id, "serial": "OPC3-000101", "kind": "hub", "model": "O-PC-3", "firmware": "2.4.1",
        "name": "Boardroom hub", "room": "Boardroom", "online": true, "last_seen": "2026-11-30T10:02:30Z",
        "state": {"active": 1, "adminmode": false, "connected": [1, 0, 0, 0], "externalmtr": true, "mtrdisable": 0,
                  "mtrextension": "disable", "mtrmode": true, "mtrport": 1, "mtrsync": true, "otp": "normal"},
        "desired": {}, "created_at": "2026-11-30T10:02:30Z", "updated_at": "2026-11-30T10:02:30Z"
    })
}

async fn one_hub(Path(id): Path<String>) -> Json<Value> {
    Json(hub(&id))
}

/// A page as hubgate's `Page<Hub>` serializes, borrowing the prebuilt hubs.
#[derive(serde::Serialize)]
struct PageOf<'a> {
    items: &'a [hubgate_api::Hub],
    next_cursor: &'a str,
}

/// 200 hubs, built once: the largest page.
fn prebuilt() -> &'static [hubgate_api::Hub] {
    static HUBS: std::sync::OnceLock<Vec<hubgate_api::Hub>> = std::sync::OnceLock::new();
    HUBS.get_or_init(|| {
        (0..200)
            .map(|i| serde_json::from_value(hub(&format!("hub_{i:032}"))).expect("a hub"))
            .collect()
    })
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

async fn hubs(Query(query): Query<ListQuery>) -> Response {
    let hubs = prebuilt();
    let limit = query.limit.unwrap_or(50).clamp(1, hubs.len());
    let page = PageOf {
        items: &hubs[..limit],
        next_cursor: &hubs[limit - 1].id,
    };
    Json(page).into_response()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    let app = Router::new()
        .route("/identity/oauth/v2/token", post(token))
        .route("/identity/oauth/v2/introspect", post(introspect))
        .route("/api/v1/hubs", get(hubs))
        .route("/api/v1/hubs/{id}", get(one_hub));
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("listening {}", listener.local_addr()?);
    axum::serve(listener, app).await
}
