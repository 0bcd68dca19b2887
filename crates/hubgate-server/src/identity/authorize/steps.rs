//! The steps after the first page: log in, pick the account, decide; and
//! resuming the flow after a login elsewhere.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hubgate_core::authorize::AuthorizationRequest;
use hubgate_core::ids::AccountId;
use hubgate_store::Consent;
use serde::Deserialize;

use crate::client_origin::ClientOrigin;
use crate::state::AppState;
use crate::web::{Browser, LoginPage, Page, PageResult, WebForm, error_page, origin_of, see_other};

use super::*;

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    csrf: String,
    request: String,
}

pub async fn login(
    State(state): State<AppState>,
    browser: Browser,
    origin: ClientOrigin,
    WebForm(form): WebForm<LoginForm>,
) -> PageResult {
    let request = checked_request(&state, &browser, &form.csrf, &form.request)?;
    let address = origin.address;
    let outcome =
        crate::web::attempt_login(&state, browser, &form.email, &form.password, address).await;
    let browser = match outcome.logged_in() {
        Ok(browser) => browser,
        Err(refused) => {
            return Ok(refused.respond(|browser, message| {
                let page = LoginPage {
                    action: LOGIN_ACTION,
                    app_name: None,
                    error: Some(message),
                    email: form.email.clone(),
                    csrf: browser.csrf_token(&state),
                    request: form.request.clone(),
                };
                Page::render(&page).allowing_form_target(origin_of(&request.redirect_uri))
            }));
        }
    };
    let next = format!(
        "/identity/oauth/v2/authorize/continue?request={}",
        form.request
    );
    Ok((browser.jar, see_other(&next)).into_response())
}

#[derive(Deserialize)]
pub struct ContinueQuery {
    request: String,
}

pub async fn resume(
    State(state): State<AppState>,
    browser: Browser,
    Query(query): Query<ContinueQuery>,
) -> Response {
    let Some(request) =
        AuthorizationRequest::open(&state.master, &query.request, hubgate_core::now())
    else {
        return expired_request();
    };
    continue_flow(&state, browser, request, None, None).await
}

#[derive(Deserialize)]
pub struct AccountForm {
    account: String,
    csrf: String,
    request: String,
}

pub async fn choose_account(
    State(state): State<AppState>,
    browser: Browser,
    WebForm(form): WebForm<AccountForm>,
) -> PageResult {
    let request = checked_request(&state, &browser, &form.csrf, &form.request)?;
    let Ok(account) = form.account.parse::<AccountId>() else {
        return Ok(error_page(
            StatusCode::BAD_REQUEST,
            "Choose an account",
            "Pick one of your accounts.",
            None,
        ));
    };
    Ok(continue_flow(&state, browser, request, Some(account), None).await)
}

#[derive(Deserialize)]
pub struct DecisionForm {
    account: String,
    decision: String,
    csrf: String,
    request: String,
}

pub async fn decide(
    State(state): State<AppState>,
    browser: Browser,
    WebForm(form): WebForm<DecisionForm>,
) -> PageResult {
    let request = checked_request(&state, &browser, &form.csrf, &form.request)?;
    let Some(user) = browser.user else {
        return Ok(continue_flow(&state, browser, request, None, None).await);
    };
    if form.decision != "approve" {
        tracing::info!(client_id = %request.client_id, "authorization denied by the user");
        return Ok(redirect_to_client(
            &state,
            &request,
            &[
                ("error", "access_denied"),
                ("error_description", "the user denied the request"),
            ],
        ));
    }
    let Ok(account) = form.account.parse::<AccountId>() else {
        return Ok(expired_request());
    };
    let Some(user_record) = state.store.user_by_id(user).await? else {
        // The session's user is gone: start again from the login page.
        return Ok(continue_flow(&state, browser, request, None, None).await);
    };
    let accounts = state.store.accounts_of_user(user).await?;
    if user_record.must_change_password {
        return Ok(change_password_first());
    }
    let Some((account_record, role)) = accounts.into_iter().find(|(a, _)| a.id == account) else {
        return Ok(error_page(
            StatusCode::FORBIDDEN,
            "Not your account",
            "You are not a member of that account.",
            None,
        ));
    };
    let Some(client) = client(&state, Some(request.client_id.as_str()))
        .await
        .ok()
        .flatten()
    else {
        return Ok(error_page(
            StatusCode::BAD_REQUEST,
            "Unknown application",
            "This application is no longer available.",
            None,
        ));
    };
    check_role_delegates(
        &state,
        &request,
        &client.integration.name,
        &account_record,
        role,
    )?;
    // Remember what was approved, adding to what was approved before.
    let earlier = match state
        .store
        .consent(user, account, client.integration.id)
        .await
    {
        Ok(earlier) => earlier.map(|c| c.scope).unwrap_or_default(),
        Err(error) => return Err(error.into()),
    };
    let consent = Consent {
        user_id: user,
        account_id: account,
        integration_id: client.integration.id,
        scope: earlier.iter().chain(request.scope.iter()).collect(),
        granted_at: hubgate_core::now(),
    };
    state.store.put_consent(&consent).await?;
    Ok(issue_code(&state, &request, &client, user, account).await)
}

/// What every step's form carries: the CSRF token, checked, and the sealed
/// request, opened (an expired or forged one is the expired-request page).
#[allow(clippy::result_large_err)]
fn checked_request(
    state: &AppState,
    browser: &Browser,
    csrf: &str,
    sealed: &str,
) -> Result<AuthorizationRequest, Response> {
    browser.require_csrf(state, csrf)?;
    AuthorizationRequest::open(&state.master, sealed, hubgate_core::now())
        .ok_or_else(expired_request)
}
