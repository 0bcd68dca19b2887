//! `GET /identity/oauth/v2/authorize` and its pages: log in, pick the
//! account, consent. The validated request travels sealed in a hidden field
//! (no server state until a code is issued); every form carries the CSRF token.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hubgate_core::account::{Account, Role};
use hubgate_core::authorize::{self, AuthorizationRequest, AuthorizeError, AuthorizeQuery};
use hubgate_core::grant::Client;
use hubgate_core::ids::{AccountId, ClientId, UserId};

mod steps;

pub use steps::{choose_account, decide, login, resume};

use crate::state::AppState;
use crate::web::{Browser, LoginPage, Page, PageResult, error_page, origin_of, see_other};

#[derive(Template)]
#[template(path = "choose_account.html")]
struct AccountPage {
    app_name: String,
    user_email: String,
    accounts: Vec<AccountChoice>,
    csrf: String,
    request: String,
}

struct AccountChoice {
    id: String,
    name: String,
    role: String,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    app_name: String,
    user_email: String,
    account_name: String,
    account_id: String,
    scopes: Vec<(&'static str, &'static str)>,
    redirect_host: String,
    csrf: String,
    request: String,
}

const LOGIN_ACTION: &str = "/identity/oauth/v2/authorize/login";

use crate::web::unavailable_page as store_unavailable;

fn expired_request() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "Start again",
        "This authorization request has expired or was altered. Go back to the application and start again.",
        None,
    )
}

/// The client's redirect URI with the answer's parameters, and `iss` (RFC 9207).
fn redirect_to_client(
    state: &AppState,
    request: &AuthorizationRequest,
    params: &[(&str, &str)],
) -> Response {
    let Ok(mut url) = url::Url::parse(&request.redirect_uri) else {
        return expired_request();
    };
    {
        let mut query = url.query_pairs_mut();
        for (key, value) in params {
            query.append_pair(key, value);
        }
        if let Some(state_value) = &request.state {
            query.append_pair("state", state_value);
        }
        query.append_pair("iss", &state.config.issuer);
    }
    see_other(url.as_str())
}

async fn client(
    state: &AppState,
    client_id: Option<&str>,
) -> Result<Option<std::sync::Arc<Client>>, Response> {
    let Some(client_id) = client_id.and_then(ClientId::parse) else {
        return Ok(None);
    };
    state
        .registry
        .client(state.store.as_ref(), &state.master, &client_id)
        .await
        .map_err(|_| store_unavailable())
}

/// Start the authorization-code flow (a browser page, not an API call): the
/// user logs in, picks the organisation account and approves the scopes; the
/// browser then goes to `redirect_uri?code=…&state=…&iss=…`. An unknown
/// client or an unregistered redirect URI gets an error page and is never
/// redirected; other errors go back to the client as `error=…&state=…`.
#[utoipa::path(get, path = "/identity/oauth/v2/authorize", operation_id = "authorize", tag = "OAuth",
    params(
        ("client_id" = String, Query, description = "The integration's client_id"),
        ("redirect_uri" = String, Query, description = "Exactly one the integration registered"),
        ("response_type" = String, Query, description = "`code`"),
        ("scope" = Option<String>, Query, description = "Space-separated; default: the integration's"),
        ("state" = Option<String>, Query, description = "Returned unchanged with the answer"),
        ("code_challenge" = Option<String>, Query, description = "PKCE S256 challenge; required unless the integration turned PKCE off"),
        ("code_challenge_method" = Option<String>, Query, description = "`S256` (`plain` is refused)"),
    ),
    responses(
        (status = 200, description = "The login, account or consent page", content_type = "text/html", body = String),
        (status = 303, description = "To the client's redirect_uri with `code` or `error`, `state` and `iss`"),
        (status = 400, description = "Unknown client or unregistered redirect URI: an error page, no redirect", content_type = "text/html", body = String),
        (status = 403, description = "The user may not authorize (no account)", content_type = "text/html", body = String),
        (status = 503, description = "The store cannot be reached", content_type = "text/html", body = String),
    ),
)]
pub async fn authorize(
    State(state): State<AppState>,
    browser: Browser,
    Query(query): Query<AuthorizeQuery>,
) -> PageResult {
    let now = hubgate_core::now();
    let client = client(&state, query.client_id.as_deref()).await?;
    let request = match authorize::validate(&query, client.as_ref().map(|c| &c.integration), now) {
        Ok(request) => request,
        Err(AuthorizeError::UnknownClient) => {
            return Ok(error_page(
                StatusCode::BAD_REQUEST,
                "Unknown application",
                "This application is not registered here, or has been disabled. Nothing was shared.",
                None,
            ));
        }
        Err(AuthorizeError::BadRedirectUri) => {
            return Ok(error_page(
                StatusCode::BAD_REQUEST,
                "Invalid redirect",
                "The redirect_uri is missing or is not one this application registered. For your safety you are \
                 not sent anywhere.",
                None,
            ));
        }
        Err(AuthorizeError::Redirect { error, description }) => {
            let Some(redirect_uri) = query.redirect_uri.clone() else {
                return Ok(expired_request());
            };
            let request = AuthorizationRequest {
                client_id: ClientId::parse(query.client_id.as_deref().unwrap_or_default())
                    .unwrap_or_else(ClientId::generate),
                redirect_uri,
                scope: Default::default(),
                state: query.state.clone(),
                code_challenge: None,
                expires_at: 0,
            };
            return Ok(redirect_to_client(
                &state,
                &request,
                &[("error", error), ("error_description", &description)],
            ));
        }
    };
    let name = client.map(|c| c.integration.name.clone());
    Ok(continue_flow(&state, browser, request, None, name).await)
}

/// Where the flow goes next for this browser: log in, pick an account,
/// consent, or (consent remembered) straight back to the client with a code.
async fn continue_flow(
    state: &AppState,
    browser: Browser,
    request: AuthorizationRequest,
    chosen: Option<AccountId>,
    app_name: Option<String>,
) -> Response {
    let Some(client) = client(state, Some(request.client_id.as_str()))
        .await
        .ok()
        .flatten()
    else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Unknown application",
            "This application is no longer available.",
            None,
        );
    };
    let integration = &client.integration;
    let target = origin_of(&request.redirect_uri);
    let csrf = browser.csrf_token(state);
    let sealed = request.seal(&state.master);
    let Some(user_id) = browser.user else {
        let page = LoginPage {
            action: LOGIN_ACTION,
            app_name: app_name.or_else(|| Some(integration.name.clone())),
            error: None,
            email: String::new(),
            csrf,
            request: sealed,
        };
        return (
            browser.jar,
            Page::render(&page).allowing_form_target(target),
        )
            .into_response();
    };
    let (Ok(Some(user)), Ok(accounts)) = (
        state.store.user_by_id(user_id).await,
        state.store.accounts_of_user(user_id).await,
    ) else {
        return store_unavailable();
    };
    if user.must_change_password {
        return change_password_first();
    }
    if accounts.is_empty() {
        let deny = deny_url(state, &request, "the user has no account to authorize");
        return error_page(
            StatusCode::FORBIDDEN,
            "No organisation account",
            "Your user is not a member of any organisation account, so there is nothing to authorize. Ask an \
             account admin to add you.",
            deny.map(|href| {
                (
                    href,
                    format!("Return to {} without authorizing", integration.name),
                )
            }),
        );
    }
    let (account, role): (Account, Role) = match chosen {
        Some(id) => match accounts.iter().find(|(a, _)| a.id == id) {
            Some(found) => found.clone(),
            None => {
                return error_page(
                    StatusCode::FORBIDDEN,
                    "Not your account",
                    "You are not a member of that account.",
                    None,
                );
            }
        },
        None if accounts.len() == 1 => accounts[0].clone(),
        None => {
            let page = AccountPage {
                app_name: integration.name.clone(),
                user_email: user.email,
                accounts: accounts
                    .iter()
                    .map(|(a, r)| AccountChoice {
                        id: a.id.to_string(),
                        name: a.name.clone(),
                        role: r.to_string(),
                    })
                    .collect(),
                csrf,
                request: sealed,
            };
            return (
                browser.jar,
                Page::render(&page).allowing_form_target(target),
            )
                .into_response();
        }
    };
    if let Err(refused) = check_role_delegates(state, &request, &integration.name, &account, role) {
        return refused;
    }
    match state
        .store
        .consent(user_id, account.id, integration.id)
        .await
    {
        Ok(Some(consent)) if request.scope.is_subset_of(consent.scope) => {
            return issue_code(state, &request, &client, user_id, account.id).await;
        }
        Ok(_) => {}
        Err(_) => return store_unavailable(),
    }
    let page = ConsentPage {
        app_name: integration.name.clone(),
        user_email: user.email,
        account_name: account.name,
        account_id: account.id.to_string(),
        scopes: request
            .scope
            .iter()
            .map(|s| (s.as_str(), s.description()))
            .collect(),
        redirect_host: url::Url::parse(&request.redirect_uri)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default(),
        csrf,
        request: sealed,
    };
    (
        browser.jar,
        Page::render(&page).allowing_form_target(target),
    )
        .into_response()
}

/// A one-time password (an invitation, a reset) approves nothing: whoever
/// was handed it changes it in the console first.
fn change_password_first() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Change your password first",
        "You logged in with a one-time password. Change it in the console, then return to the application \
         and start again.",
        Some((
            crate::web::urls::PASSWORD.to_owned(),
            "Change your password in the console".to_owned(),
        )),
    )
}

fn deny_url(state: &AppState, request: &AuthorizationRequest, why: &str) -> Option<String> {
    let response = redirect_to_client(
        state,
        request,
        &[("error", "access_denied"), ("error_description", why)],
    );
    response
        .headers()
        .get(axum::http::header::LOCATION)?
        .to_str()
        .ok()
        .map(str::to_owned)
}

/// What a user can delegate is capped by their role in the account (see
/// `Role::delegable_scopes`): a member cannot let an integration write. The
/// page says so and offers the way back to the application.
#[allow(clippy::result_large_err)]
fn check_role_delegates(
    state: &AppState,
    request: &AuthorizationRequest,
    app_name: &str,
    account: &Account,
    role: Role,
) -> Result<(), Response> {
    let beyond = role.beyond_delegation(request.scope);
    if beyond.is_empty() {
        return Ok(());
    }
    tracing::info!(client_id = %request.client_id, account = %account.id, %role, scope = %beyond, "authorization refused: beyond the user's role");
    let why = format!("the user's role in the account cannot grant {beyond}");
    let deny = deny_url(state, request, &why);
    Err(error_page(
        StatusCode::FORBIDDEN,
        "Not allowed",
        &format!(
            "{app_name} asks for {beyond}, which only an owner or admin of {} can grant; your role there is {role}. \
             Ask an owner or admin to authorize it.",
            account.name
        ),
        deny.map(|href| (href, format!("Return to {app_name} without authorizing"))),
    ))
}

async fn issue_code(
    state: &AppState,
    request: &AuthorizationRequest,
    client: &Client,
    user: UserId,
    account: AccountId,
) -> Response {
    let (code, record) = authorize::issue_code(
        request,
        &client.integration,
        user,
        account,
        hubgate_core::now(),
    );
    if state.store.insert_code(&record).await.is_err() {
        return store_unavailable();
    }
    tracing::info!(client_id = %client.integration.client_id, %user, %account, "authorization code issued");
    redirect_to_client(state, request, &[("code", &code)])
}
