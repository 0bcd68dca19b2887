//! `GET /api/v1/audit`: the account's audit log, paged and filtered, or
//! exported whole as JSON lines or CSV (streamed a page at a time).

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hubgate_api::{AuditEvent as WireEvent, Page};
use hubgate_core::audit::AuditAction;
use hubgate_core::scope::Scope;
use hubgate_store::{AuditEntry, AuditQuery};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::auth::Principal;
use super::error::ApiError;
use crate::app::Manager;
use crate::app::audit::MAX_PAGE;
use crate::state::AppState;

const DEFAULT_PAGE: u32 = 100;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A page of events with the cursor of the next (older) one.
    #[default]
    Json,
    /// Every matching event, one JSON object a line (`application/x-ndjson`).
    Jsonl,
    /// Every matching event as CSV with a header row (`text/csv`).
    Csv,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only this action, e.g. `integration.created`.
    action: Option<String>,
    /// Only events by this actor (an email, a client_id, or `admin tool`).
    actor: Option<String>,
    /// Only events at or after this time (RFC 3339).
    since: Option<String>,
    /// Only events before this time (RFC 3339).
    until: Option<String>,
    /// The `next_cursor` of the previous page: events older than it.
    cursor: Option<String>,
    /// Events per page, 1 to 1000 (`json` only; exports are whole).
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
    #[param(value_type = Option<Format>)]
    format: Option<Format>,
}

fn time_param(value: Option<&str>, name: &str) -> Result<Option<OffsetDateTime>, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339).map_err(|_| {
                ApiError::bad_request(format!(
                    "{name} must be an RFC 3339 time, like 2026-12-01T00:00:00Z"
                ))
            })
        })
        .transpose()
}

impl AuditParams {
    fn query(&self) -> Result<AuditQuery, ApiError> {
        let action = self
            .action
            .as_deref()
            .filter(|a| !a.is_empty())
            .map(|a| {
                a.parse::<AuditAction>()
                    .map_err(|e| ApiError::bad_request(e.to_string()))
            })
            .transpose()?;
        let before = self
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| {
                c.parse::<i64>()
                    .map_err(|_| ApiError::bad_request("the cursor is not one this API returned"))
            })
            .transpose()?;
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::bad_request(format!(
                "limit must be between 1 and {MAX_PAGE}"
            )));
        }
        Ok(AuditQuery {
            action,
            actor: self.actor.clone().filter(|a| !a.is_empty()),
            since: time_param(self.since.as_deref(), "since")?,
            until: time_param(self.until.as_deref(), "until")?,
            before,
            limit,
        })
    }
}

fn to_wire(entry: AuditEntry) -> WireEvent {
    let event = entry.event;
    WireEvent {
        seq: entry.seq,
        at: event.at,
        actor: event.actor,
        action: event.action.to_string(),
        subject: event.subject,
        detail: event.detail,
    }
}

/// The account's audit log, newest first: a page as JSON, or every matching
/// event as JSON lines or CSV.
#[utoipa::path(get, path = "/api/v1/audit", operation_id = "listAuditEvents", tag = "Management",
    params(AuditParams),
    responses(
        (status = 200, description = "A page (`json`; follow `next_cursor`), or the whole export (`jsonl`: one event a line, `csv`: a header row, then one event a row)", content(
            (hubgate_api::Page<hubgate_api::AuditEvent> = "application/json"),
            (String = "application/x-ndjson"),
            (String = "text/csv"),
        )),
        (status = 400, description = "`invalid_request`: an unknown action, a bad time, limit or cursor", body = hubgate_api::ErrorBody),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["audit:read"]), ("bearer" = [])),
)]
pub async fn list(
    principal: Principal,
    State(state): State<AppState>,
    params: Result<Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    principal.require(Scope::AuditRead)?;
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let query = params.query()?;
    let actor = principal.actor(&state).await?;
    // Counted token events are written every half second: include them.
    state.auditor.flush().await;
    let account = principal.account();
    let format = params.format.unwrap_or_default();
    if format == Format::Json {
        let page = Manager::on(&state, &actor)
            .audit_log(account, &query)
            .await?;
        let page = Page {
            items: page.entries.into_iter().map(to_wire).collect(),
            next_cursor: page.next.map(|seq| seq.to_string()),
        };
        return Ok(Json(page).into_response());
    }
    let query = AuditQuery {
        limit: MAX_PAGE,
        ..query
    };
    // The first page is read before answering, so a store failure is a 503
    // rather than a cut-off body.
    let first = Manager::on(&state, &actor)
        .audit_log(account, &query)
        .await?;
    let start = Export {
        next: Some(query),
        read: Some(first),
        header_row: true,
    };
    let pages = futures::stream::unfold(start, move |mut export| {
        let (state, actor) = (state.clone(), actor.clone());
        async move {
            let query = export.next.take()?;
            let page = match export.read.take() {
                Some(page) => page,
                None => match Manager::on(&state, &actor).audit_log(account, &query).await {
                    Ok(page) => page,
                    Err(error) => {
                        tracing::error!(%error, "audit export cut short");
                        let failed = Err(std::io::Error::other("the store failed mid-export"));
                        return Some((failed, export));
                    }
                },
            };
            export.next = page.next.map(|before| AuditQuery {
                before: Some(before),
                ..query
            });
            let chunk = encode(format, page.entries, export.header_row);
            export.header_row = false;
            Some((Ok(chunk), export))
        }
    });
    let content_type = match format {
        Format::Csv => "text/csv; charset=utf-8",
        _ => "application/x-ndjson",
    };
    let mut response = Body::from_stream(pages).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

/// One page of the export in its format (CSV with the header row first).
fn encode(format: Format, entries: Vec<AuditEntry>, header_row: bool) -> Bytes {
    let events = entries.into_iter().map(to_wire);
    match format {
        Format::Csv => {
            let mut writer = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(Vec::new());
            if header_row {
                let _ = writer.write_record(["seq", "at", "actor", "action", "subject", "detail"]);
            }
            for event in events {
                let row = CsvRow::from(event);
                if writer.serialize(row).is_err() {
                    break;
                }
            }
            Bytes::from(writer.into_inner().unwrap_or_default())
        }
        _ => {
            let mut out = Vec::new();
            for event in events {
                if serde_json::to_writer(&mut out, &event).is_ok() {
                    out.push(b'\n');
                }
            }
            Bytes::from(out)
        }
    }
}

/// A CSV row. A cell that a spreadsheet would run as a formula (`=`, `+`,
/// `-`, `@`) is prefixed with `'`: actors and details come from users.
#[derive(serde::Serialize)]
struct CsvRow {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    subject: String,
    detail: String,
}

fn cell(text: String) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text
    }
}

impl From<WireEvent> for CsvRow {
    fn from(event: WireEvent) -> Self {
        CsvRow {
            seq: event.seq,
            at: event.at.format(&Rfc3339).unwrap_or_default(),
            actor: cell(event.actor),
            action: event.action,
            subject: cell(event.subject),
            detail: cell(event.detail),
        }
    }
}

/// Where an export is: the next page to read (none after the last), a page
/// already read, and whether the CSV header is still due.
struct Export {
    next: Option<AuditQuery>,
    read: Option<crate::app::audit::AuditPage>,
    header_row: bool,
}
