//! The Webhooks section of an integration's console page and each
//! endpoint's delivery log, over HTTP: what owners do, what members only
//! see, CSRF, refused URLs, and other accounts' endpoints.

use std::time::Duration;

use hubgate_core::account::Role;
use hubgate_core::webhook::{WebhookEndpoint, WebhookSecret};
use hubgate_testkit::browser::field;
use hubgate_testkit::{ALL_SCOPES, Creds, TestApp};
use serde_json::{Value, json};

use crate::console::{Console, location};
use crate::events::receiver;

/// The signing secret a page shows once.
fn shown_secret(page: &str) -> String {
    let marker = "<code id=\"webhook_secret\">";
    let start = page
        .find(marker)
        .unwrap_or_else(|| panic!("no webhook secret in:\n{page}"))
        + marker.len();
    page[start..].split('<').next().unwrap().to_owned()
}

/// The integration's endpoints, as stored.
async fn endpoints(app: &TestApp, creds: &Creds) -> Vec<WebhookEndpoint> {
    app.manager().webhooks(&creds.integration).await.unwrap()
}

/// An endpoint added behind the console's back, as the operator.
async fn add_endpoint(app: &TestApp, creds: &Creds, url: &str) -> WebhookEndpoint {
    app.manager()
        .create_webhook(&creds.integration, url, &[], false)
        .await
        .unwrap()
        .endpoint
}

const PUBLIC_URL: &str = "https://93.184.216.34/hook";

#[tokio::test]
async fn an_owner_adds_an_endpoint_manages_it_and_resends_a_delivery_from_its_log() {
    let app = TestApp::spawn_with(|config| config.events.allow_private = true).await;
    let token = app.token(ALL_SCOPES).await;
    let creds = &token.creds;
    let (url, received) = receiver(0).await;
    let owner = Console::login(&app, "hooks@acme.example", Some(Role::Owner)).await;
    let detail = format!("{}/integrations/{}", owner.base(), creds.client_id);

    let page = owner.page(&detail).await;
    assert!(page.contains("No endpoints yet."), "{page}");
    let added = owner
        .post(
            &format!("{detail}/webhooks"),
            &[
                ("csrf", &field(&page, "csrf")),
                ("url", &url),
                ("events", "hub.desired.changed"),
                ("events", "hub.online"),
            ],
        )
        .await;
    assert_eq!(added.status(), 200);
    let added = added.text().await.unwrap();
    let first_secret = shown_secret(&added);
    assert!(first_secret.starts_with("whsec_"), "{first_secret}");
    let [endpoint] = endpoints(&app, creds).await.try_into().unwrap();
    let id = endpoint.id.to_string();
    assert!(
        added.contains(&format!("<code>{url}</code>"))
            && added.contains("hub.desired.changed, hub.online"),
        "listed with its types: {added}"
    );
    let reloaded = owner.page(&detail).await;
    assert!(
        !reloaded.contains(&first_secret) && !reloaded.contains("webhook_secret"),
        "the secret is shown once"
    );
    let csrf = field(&reloaded, "csrf");

    let disabled = owner
        .post(
            &format!("{detail}/webhooks/{id}/disable"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        location(&disabled),
        format!("{detail}?notice=webhook_disabled")
    );
    assert!(!endpoints(&app, creds).await[0].enabled);
    let page = owner.page(location(&disabled)).await;
    assert!(page.contains("Endpoint disabled."), "the notice is shown");
    assert!(page.contains(&format!("/webhooks/{id}/enable\"")), "{page}");
    let enabled = owner
        .post(
            &format!("{detail}/webhooks/{id}/enable"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        location(&enabled),
        format!("{detail}?notice=webhook_enabled")
    );
    assert!(endpoints(&app, creds).await[0].enabled);

    let rotated = owner
        .post(
            &format!("{detail}/webhooks/{id}/rotate"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(rotated.status(), 200);
    let rotated = rotated.text().await.unwrap();
    let secret = shown_secret(&rotated);
    assert_ne!(secret, first_secret);
    assert!(rotated.contains("keeps signing deliveries beside it for 24 hours"));
    assert!(rotated.contains("The previous secret signs too until"));

    // A change of a hub's desired settings is a hub.desired.changed event.
    let hub = app.hubs(&token.access_token).await.ok().items[0].id.clone();
    let patched = app
        .patch::<Value>(
            &format!("/api/v1/hubs/{hub}"),
            &token.access_token,
            &json!({"desired": {"mtrmode": false}}),
        )
        .await;
    assert_eq!(patched.status(), 200, "{}", patched.text());
    let log_path = format!("{detail}/webhooks/{id}");
    let delivered = "<span class=\"badge on\">delivered</span>";
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut log = owner.page(&log_path).await;
    while !log.contains(delivered) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        log = owner.page(&log_path).await;
    }
    assert!(log.contains(delivered), "the delivery is logged: {log}");
    let delivery = received.lock().unwrap()[0].clone();
    let new_secret = WebhookSecret::parse(&secret).unwrap();
    let old_secret = WebhookSecret::parse(&first_secret).unwrap();
    let signed =
        |key: &WebhookSecret| key.sign(&delivery.id, delivery.timestamp, delivery.body.as_bytes());
    assert_eq!(
        delivery.signature,
        format!("{} {}", signed(&new_secret), signed(&old_secret)),
        "signed with the new secret and, for a day, the old one"
    );
    assert!(delivery.body.contains("hub.desired.changed"));
    let row = format!("<tr id=\"delivery-{}\">", delivery.id);
    assert!(log.contains(&row), "the row of the event: {log}");
    let row = &log[log.find(&row).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    for cell in ["hub.desired.changed", "<td>1</td>", "<td>204</td>"] {
        assert!(row.contains(cell), "{cell} in {row}");
    }

    let resent = owner
        .post(
            &format!("{log_path}/deliveries/{}/resend", delivery.id),
            &[("csrf", &field(&log, "csrf")), ("before", "")],
        )
        .await;
    assert_eq!(location(&resent), format!("{log_path}?notice=queued"));
    let page = owner.page(location(&resent)).await;
    assert!(
        page.contains("Queued. It is sent again within seconds."),
        "{page}"
    );
    let again = app
        .eventually(Duration::from_secs(15), || async {
            received.lock().unwrap().len() >= 2
        })
        .await;
    assert!(again.is_some(), "the delivery went out again");
    assert_eq!(
        received.lock().unwrap()[1].id,
        delivery.id,
        "the same event"
    );

    let confirm = owner.page(&format!("{detail}/webhooks/{id}/delete")).await;
    assert!(confirm.contains(&url) && confirm.contains("id=\"confirm-delete\""));
    let deleted = owner
        .post(
            &format!("{detail}/webhooks/{id}/delete"),
            &[("csrf", &field(&confirm, "csrf"))],
        )
        .await;
    assert_eq!(
        location(&deleted),
        format!("{detail}?notice=webhook_deleted")
    );
    assert!(endpoints(&app, creds).await.is_empty());
    assert_eq!(owner.get(&log_path).await.status(), 404);

    let audit = owner.page(&format!("{}/audit", owner.base())).await;
    for action in [
        "webhook.created",
        "webhook.disabled",
        "webhook.enabled",
        "webhook.secret_rotated",
        "webhook.deleted",
    ] {
        assert!(audit.contains(action), "{action} in the audit log");
    }
}

#[tokio::test]
async fn a_member_sees_the_endpoints_and_their_log_but_cannot_change_them() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let endpoint = add_endpoint(&app, &creds, PUBLIC_URL).await;
    let id = endpoint.id.to_string();
    let member = Console::login(&app, "looker@acme.example", Some(Role::Member)).await;
    let detail = format!("{}/integrations/{}", member.base(), creds.client_id);

    let page = member.page(&detail).await;
    assert!(page.contains(PUBLIC_URL) && page.contains("all events"));
    assert!(page.contains(&format!("{detail}/webhooks/{id}\">Delivery log")));
    for form in ["id=\"add_webhook\"", "/disable\"", "/rotate\"", "/delete\""] {
        assert!(!page.contains(form), "no {form} for members");
    }
    let log = member.page(&format!("{detail}/webhooks/{id}")).await;
    assert!(log.contains("id=\"deliveries\"") && !log.contains("/resend\""));

    let csrf = field(&page, "csrf");
    let form = [("csrf", csrf.as_str()), ("url", PUBLIC_URL), ("before", "")];
    for action in [
        "webhooks".to_owned(),
        format!("webhooks/{id}/disable"),
        format!("webhooks/{id}/rotate"),
        format!("webhooks/{id}/delete"),
        format!("webhooks/{id}/deliveries/evt_0000000000000001/resend"),
    ] {
        let response = member.post(&format!("{detail}/{action}"), &form).await;
        assert_eq!(response.status(), 403, "{action}");
    }
    assert_eq!(
        member
            .get(&format!("{detail}/webhooks/{id}/delete"))
            .await
            .status(),
        403,
        "nor the delete confirmation"
    );
    assert_eq!(endpoints(&app, &creds).await, [endpoint], "nothing changed");
}

#[tokio::test]
async fn a_webhook_form_without_the_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let endpoint = add_endpoint(&app, &creds, PUBLIC_URL).await;
    let id = endpoint.id.to_string();
    let owner = Console::login(&app, "csrf@acme.example", Some(Role::Owner)).await;
    let detail = format!("{}/integrations/{}", owner.base(), creds.client_id);
    let missing = owner
        .post(&format!("{detail}/webhooks"), &[("url", PUBLIC_URL)])
        .await;
    assert_eq!(missing.status(), 400, "no token at all");
    for action in [
        "webhooks".to_owned(),
        format!("webhooks/{id}/disable"),
        format!("webhooks/{id}/rotate"),
        format!("webhooks/{id}/delete"),
    ] {
        let response = owner
            .post(
                &format!("{detail}/{action}"),
                &[("csrf", "forged"), ("url", PUBLIC_URL)],
            )
            .await;
        assert_eq!(response.status(), 403, "{action}");
    }
    assert_eq!(endpoints(&app, &creds).await, [endpoint], "nothing changed");
}

#[tokio::test]
async fn a_refused_url_or_event_type_shows_the_form_again_with_the_reason() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let owner = Console::login(&app, "refused@acme.example", Some(Role::Owner)).await;
    let detail = format!("{}/integrations/{}", owner.base(), creds.client_id);
    let page = owner.page(&detail).await;
    assert!(page.contains("loopback, private and link-local addresses are refused"));
    let csrf = field(&page, "csrf");

    for (url, events, reason) in [
        (
            "http://127.0.0.1:9/hook",
            "hub.online",
            "127.0.0.1 is a loopback, private or link-local address",
        ),
        (
            "http://169.254.169.254/latest",
            "hub.online",
            "loopback, private or link-local",
        ),
        ("not a url", "hub.online", "the URL is not valid"),
        (PUBLIC_URL, "hub.exploded", "unknown event type"),
    ] {
        let response = owner
            .post(
                &format!("{detail}/webhooks"),
                &[("csrf", &csrf), ("url", url), ("events", events)],
            )
            .await;
        assert_eq!(response.status(), 422, "{url}");
        let page = response.text().await.unwrap();
        assert!(page.contains(reason), "{reason} in:\n{page}");
        assert!(
            page.contains(&format!(
                "name=\"url\" type=\"url\" required maxlength=\"2000\" value=\"{url}\""
            )),
            "what was typed is kept: {page}"
        );
        if events == "hub.online" {
            assert!(page.contains("value=\"hub.online\" checked"), "{page}");
        }
    }
    assert!(endpoints(&app, &creds).await.is_empty());

    // A bad link to a log page is a readable page too.
    let endpoint = add_endpoint(&app, &creds, PUBLIC_URL).await;
    let log = format!("{detail}/webhooks/{}", endpoint.id);
    let bad_page = owner.get(&format!("{log}?before=yesterday")).await;
    assert_eq!(bad_page.status(), 400);
    assert!(bad_page.text().await.unwrap().contains("evt_"));
    let no_delivery = owner
        .post(
            &format!("{log}/deliveries/evt_0000000000000001/resend"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(no_delivery.status(), 404);
}

#[tokio::test]
async fn the_reason_the_server_disabled_an_endpoint_is_shown_until_it_is_enabled() {
    use hubgate_store::prelude::*;
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let mut endpoint = add_endpoint(&app, &creds, PUBLIC_URL).await;
    // What the delivery worker writes when it gives an endpoint up.
    let reason = "disabled on 2026-01-06T00:00:00Z: every delivery failed for 5 days (the last: answered 500)";
    endpoint.enabled = false;
    endpoint.disabled_reason = Some(reason.to_owned());
    let audit = hubgate_store::AuditEvent {
        account_id: app.account,
        at: hubgate_core::now(),
        actor: "hubgate".into(),
        action: hubgate_core::audit::AuditAction::WebhookDisabled,
        subject: creds.client_id.clone(),
        detail: reason.into(),
    };
    app.store.update_webhook(&endpoint, &audit).await.unwrap();
    let owner = Console::login(&app, "why@acme.example", Some(Role::Owner)).await;
    let detail = format!("{}/integrations/{}", owner.base(), creds.client_id);

    let page = owner.page(&detail).await;
    let shown = format!("<p class=\"error\" role=\"alert\">Disabled by the server: {reason}</p>");
    assert!(page.contains(&shown), "{page}");
    let log = owner
        .page(&format!("{detail}/webhooks/{}", endpoint.id))
        .await;
    assert!(log.contains(&shown), "on its log page too");
    assert!(log.contains("nothing is sent to it, resent deliveries included"));

    let enabled = owner
        .post(
            &format!("{detail}/webhooks/{}/enable", endpoint.id),
            &[("csrf", &field(&page, "csrf"))],
        )
        .await;
    let page = owner.page(location(&enabled)).await;
    assert!(!page.contains("Disabled by the server"), "{page}");
    assert_eq!(endpoints(&app, &creds).await[0].disabled_reason, None);
}

#[tokio::test]
async fn another_accounts_webhook_endpoint_is_not_found() {
    let app = TestApp::spawn().await;
    let ours = app.integration(ALL_SCOPES).await;
    let (_, theirs) = app.other_account().await;
    let foreign = add_endpoint(&app, &theirs, PUBLIC_URL).await;
    let owner = Console::login(&app, "nosy@acme.example", Some(Role::Owner)).await;
    let page = owner
        .page(&format!("{}/integrations/{}", owner.base(), ours.client_id))
        .await;
    let csrf = field(&page, "csrf");
    for client_id in [&ours.client_id, &theirs.client_id] {
        let endpoint = format!(
            "{}/integrations/{client_id}/webhooks/{}",
            owner.base(),
            foreign.id
        );
        assert_eq!(owner.get(&endpoint).await.status(), 404, "{endpoint}");
        for action in ["disable", "rotate", "delete"] {
            let response = owner
                .post(&format!("{endpoint}/{action}"), &[("csrf", &csrf)])
                .await;
            assert_eq!(response.status(), 404, "{endpoint}/{action}");
        }
    }
    let missing = owner
        .get(&format!(
            "{}/integrations/{}/webhooks/whk_nope",
            owner.base(),
            ours.client_id
        ))
        .await;
    assert_eq!(missing.status(), 404);
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("no such webhook endpoint")
    );
    let still = app
        .manager()
        .webhook(&theirs.integration, &foreign.id.to_string())
        .await
        .unwrap();
    assert_eq!(still, foreign, "untouched");
}

/// The cells of a delivery's row in a log page.
fn row_cells(log: &str, event_id: &str) -> Vec<String> {
    let start = log
        .find(&format!("<tr id=\"delivery-{event_id}\">"))
        .unwrap_or_else(|| panic!("no row of {event_id} in:\n{log}"));
    let row = &log[start..];
    let row = &row[..row.find("</tr>").unwrap()];
    row.split("<td>")
        .skip(1)
        .map(|cell| cell.split("</td>").next().unwrap().trim().to_owned())
        .collect()
}

#[tokio::test]
async fn the_delivery_log_pages_back_and_shows_a_failing_delivery_pending_with_its_error() {
    use hubgate_store::prelude::*;
    let app = TestApp::spawn_with(|config| config.events.allow_private = true).await;
    let creds = app.integration(ALL_SCOPES).await;
    // A port nobody listens on: every attempt is refused.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let endpoint = app
        .manager()
        .create_webhook(&creds.integration, &url, &[], true)
        .await
        .unwrap()
        .endpoint;
    let hub = app
        .store
        .list_hubs(app.account, &Default::default(), None, 1)
        .await
        .unwrap()
        .remove(0);
    for round in 0..51 {
        let change = hubgate_core::hub::HubChange::from_patch(
            serde_json::from_value(json!({"desired": {"mtrmode": round % 2 == 0}})).unwrap(),
        )
        .unwrap();
        app.store
            .patch_hub(app.account, hub.id, &change, hubgate_core::now())
            .await
            .unwrap();
    }
    let owner = Console::login(&app, "pager@acme.example", Some(Role::Owner)).await;
    let log_path = format!(
        "{}/integrations/{}/webhooks/{}",
        owner.base(),
        creds.client_id,
        endpoint.id
    );

    let newest = owner.page(&log_path).await;
    assert_eq!(newest.matches("<tr id=\"delivery-").count(), 50);
    let older_link = format!("{log_path}?before=");
    let start = newest.find(&older_link).expect("an Older link") + older_link.len();
    let before: String = newest[start..].chars().take(20).collect();
    assert!(before.starts_with("evt_"), "{before}");
    let oldest = owner.page(&format!("{log_path}?before={before}")).await;
    assert_eq!(oldest.matches("<tr id=\"delivery-").count(), 1);
    assert!(!oldest.contains("id=\"older\"") && oldest.contains("id=\"newest\""));
    let first_event = top_event(&oldest);
    assert!(
        !newest.contains(&format!("delivery-{first_event}\"")),
        "each delivery on one page"
    );

    // The oldest heads its hub's queue, so it is tried (and refused) first.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut cells = row_cells(&oldest, &first_event);
    while cells[3] == "0" && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let page = owner.page(&format!("{log_path}?before={before}")).await;
        cells = row_cells(&page, &first_event);
    }
    // Event, type, status, attempts, response, latency, error, next attempt.
    assert_eq!(cells[1], "hub.desired.changed");
    assert!(cells[2].contains(">pending<"), "{cells:?}");
    assert_eq!(
        (cells[3].as_str(), cells[4].as_str()),
        ("1", "–"),
        "{cells:?}"
    );
    assert!(!cells[6].is_empty(), "the error: {cells:?}");
    assert!(cells[7].starts_with("20"), "the next attempt: {cells:?}");
    let later = row_cells(&newest, &top_event(&newest));
    assert_eq!(later[3], "0", "later events wait behind it: {later:?}");
}

/// The event of a log page's top (newest) row.
fn top_event(log: &str) -> String {
    log.split("<tr id=\"delivery-")
        .nth(1)
        .and_then(|row| row.split('"').next())
        .unwrap()
        .to_owned()
}
