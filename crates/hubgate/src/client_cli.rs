//! The integrator's commands, on top of the SDK: `token`, `hubs`, `events`, `account`, `whoami`.

use std::process::ExitCode;

use futures::{StreamExt, TryStreamExt};
use hubgate_client::{Client, Error, ErrorCode, Event, Hub, HubKind, HubPatch, HubQuery};
use serde_json::{Map, Value, json};

use crate::cli::{
    ClientArgs, ClientOutput, EventsArgs, EventsCommand, HubsArgs, HubsCommand, TokenArgs,
};

/// Exit codes, as documented on `ClientArgs`.
pub(crate) fn exit_code(error: &Error) -> u8 {
    match error {
        Error::Config(_) => 2,
        Error::OAuth {
            code: ErrorCode::InvalidScope | ErrorCode::InvalidRequest,
            ..
        } => 2,
        Error::OAuth { .. } => 5,
        Error::Api {
            status: 401 | 403, ..
        } => 5,
        Error::Api { status: 404, .. } => 3,
        Error::Api { status: 409, .. } => 4,
        Error::Api {
            status: 400 | 422, ..
        } => 2,
        Error::Api { status, .. } | Error::Unexpected { status, .. } if *status >= 500 => 6,
        Error::Transport(_) => 6,
        _ => 1,
    }
}

pub(crate) fn build(args: &ClientArgs, scopes: &[String]) -> Result<Client, Error> {
    let (Some(id), Some(secret)) = (&args.client_id, &args.client_secret) else {
        return Err(Error::Config(
            "credentials are required: --client-id and --client-secret, or HUBGATE_CLIENT_ID and HUBGATE_CLIENT_SECRET"
                .into(),
        ));
    };
    let mut builder = Client::builder(&args.url).client_credentials(id, secret);
    let scopes: Vec<&str> = scopes.iter().flat_map(|s| s.split_whitespace()).collect();
    if !scopes.is_empty() {
        builder = builder.scopes(scopes);
    }
    builder.build()
}

/// Prints the result in the chosen format, or the error on stderr with its exit code.
pub(crate) fn finish(output: ClientOutput, result: Result<(Value, String), Error>) -> ExitCode {
    match result {
        Ok((json, table)) => {
            match output {
                ClientOutput::Json => {
                    crate::print_stdout(&serde_json::to_string_pretty(&json).unwrap_or_default())
                }
                ClientOutput::Table => crate::print_stdout(&table),
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            match output {
                ClientOutput::Json => {
                    let code = error.code().map(|c| c.as_str().to_owned());
                    eprintln!(
                        "{}",
                        json!({"error": code.unwrap_or_else(|| "failed".into()), "error_description": error.to_string()})
                    );
                }
                ClientOutput::Table => eprintln!("hubgate: {error}"),
            }
            ExitCode::from(exit_code(&error))
        }
    }
}

pub async fn token(args: TokenArgs) -> ExitCode {
    let result = async {
        let client = build(&args.client, &args.scope)?;
        let token = client.access_token().await?;
        let json = json!({
            "access_token": token.secret(),
            "token_type": "Bearer",
            "expires_in": token.expires_in().as_secs(),
            "scope": token.scope,
        });
        Ok((json, token.secret().to_owned()))
    };
    finish(args.client.output, result.await)
}

pub async fn account(args: ClientArgs) -> ExitCode {
    let result = async {
        let account = build(&args, &[])?.account().await?;
        let table = render(
            &["ID", "NAME", "CREATED"],
            &[vec![
                account.id.clone(),
                account.name.clone(),
                rfc3339(account.created_at),
            ]],
        );
        Ok((serde_json::to_value(account).unwrap_or(Value::Null), table))
    };
    finish(args.output, result.await)
}

pub async fn whoami(args: ClientArgs) -> ExitCode {
    let result = async {
        let client = build(&args, &[])?;
        let token = client.access_token().await?;
        let claims = jwt_claims(token.secret());
        let scope = token.scope.clone();
        let has = |s: &str| scope.split(' ').any(|x| x == s);
        let user = if has("sub") || has("email") {
            Some(client.userinfo().await?)
        } else {
            None
        };
        let account = if has("accounts:read") {
            Some(client.account().await?)
        } else {
            None
        };
        let json = json!({
            "client_id": claims.get("client_id").cloned().unwrap_or(json!(args.client_id)),
            "scope": scope,
            "account_id": claims.get("account_id"),
            "account": account.as_ref().map(|a| &a.name),
            "sub": user.as_ref().and_then(|u| u.sub.clone()),
            "email": user.as_ref().and_then(|u| u.email.clone()),
        });
        let field = |key: &str| json[key].as_str().unwrap_or("-").to_owned();
        let rows = [
            "client_id",
            "scope",
            "account_id",
            "account",
            "sub",
            "email",
        ]
        .iter()
        .map(|key| vec![(*key).to_owned(), field(key)])
        .collect::<Vec<_>>();
        Ok((
            json,
            render(&["", ""], &rows)
                .lines()
                .skip(1)
                .collect::<Vec<_>>()
                .join("\n"),
        ))
    };
    finish(args.output, result.await)
}

pub async fn hubs(args: HubsArgs) -> ExitCode {
    let output = args.client.output;
    let result = async {
        let client = build(&args.client, &[])?;
        match args.command {
            HubsCommand::List {
                kind,
                online,
                room,
                limit,
            } => {
                let kind = kind.as_deref().map(|k| {
                    if k == "switch" {
                        HubKind::Switch
                    } else {
                        HubKind::Hub
                    }
                });
                let query = HubQuery {
                    limit,
                    kind,
                    online,
                    room,
                    cursor: None,
                };
                let hubs: Vec<Hub> = match limit {
                    Some(_) => client.hubs(&query).await?.items,
                    None => client.all_hubs(query).try_collect().await?,
                };
                let rows = hubs
                    .iter()
                    .map(|h| {
                        vec![
                            h.id.clone(),
                            h.kind.as_str().to_owned(),
                            h.name.clone(),
                            h.room.clone().unwrap_or_default(),
                            if h.online {
                                "online".into()
                            } else {
                                "offline".into()
                            },
                            h.serial.clone(),
                        ]
                    })
                    .collect::<Vec<_>>();
                let table = render(&["ID", "KIND", "NAME", "ROOM", "STATUS", "SERIAL"], &rows);
                Ok((serde_json::to_value(&hubs).unwrap_or(Value::Null), table))
            }
            HubsCommand::Get { id } => {
                let hub = client.hub(&id).await?;
                Ok((
                    serde_json::to_value(&hub).unwrap_or(Value::Null),
                    hub_table(&hub),
                ))
            }
            HubsCommand::State { id } => {
                let view = client.hub_state(&id).await?;
                let mut rows = vec![vec![
                    "online".to_owned(),
                    view.online.to_string(),
                    String::new(),
                ]];
                let keys: std::collections::BTreeSet<_> =
                    view.state.keys().chain(view.desired.keys()).collect();
                for key in keys {
                    let show = |m: &Map<String, Value>| {
                        m.get(key).map(Value::to_string).unwrap_or_default()
                    };
                    rows.push(vec![key.clone(), show(&view.state), show(&view.desired)]);
                }
                Ok((
                    serde_json::to_value(&view).unwrap_or(Value::Null),
                    render(&["SETTING", "REPORTED", "DESIRED"], &rows),
                ))
            }
            HubsCommand::Set {
                id,
                name,
                room,
                clear_room,
                desired,
            } => {
                let mut settings = Map::new();
                for pair in desired {
                    let (key, value) = pair.split_once('=').ok_or_else(|| {
                        Error::Config(format!("--desired {pair}: expected KEY=VALUE"))
                    })?;
                    // A bare word that is not JSON is taken as a string: otp=normal.
                    let value = serde_json::from_str(value)
                        .unwrap_or_else(|_| Value::String(value.to_owned()));
                    settings.insert(key.to_owned(), value);
                }
                let patch = HubPatch {
                    name,
                    room: if clear_room {
                        Some(None)
                    } else {
                        room.map(Some)
                    },
                    desired: if settings.is_empty() {
                        None
                    } else {
                        Some(
                            serde_json::from_value(Value::Object(settings))
                                .map_err(|e| Error::Config(format!("--desired: {e}")))?,
                        )
                    },
                };
                let hub = client.update_hub(&id, &patch).await?;
                Ok((
                    serde_json::to_value(&hub).unwrap_or(Value::Null),
                    hub_table(&hub),
                ))
            }
        }
    };
    finish(output, result.await)
}

/// `events tail`: a line per event until interrupted, the stream fails for
/// good, or stdout is closed (`| head`).
pub async fn events(args: EventsArgs) -> ExitCode {
    let output = args.client.output;
    let EventsCommand::Tail { after } = args.command;
    let client = match build(&args.client, &[]) {
        Ok(client) => client,
        Err(error) => return finish(output, Err(error)),
    };
    let mut stream = client.event_stream(after);
    while let Some(item) = stream.next().await {
        let event = match item {
            Ok(event) => event,
            Err(error) => return finish(output, Err(error)),
        };
        let line = render_event(&event, output);
        use std::io::Write;
        // Line by line, so a pipe sees each event as it comes.
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return ExitCode::SUCCESS;
        }
    }
    ExitCode::SUCCESS
}

/// One line: for people, or the event's JSON for scripts.
pub(crate) fn render_event(event: &Event, output: ClientOutput) -> String {
    match output {
        ClientOutput::Json => serde_json::to_string(event).unwrap_or_default(),
        ClientOutput::Table => event_line(event),
    }
}

/// An event for people: when, what, which hub, what changed, and its id
/// (to resume with `--after`).
pub(crate) fn event_line(event: &Event) -> String {
    let at = event
        .timestamp
        .replace_nanosecond(0)
        .unwrap_or(event.timestamp);
    let mut line = format!("{}  {:<19}  {}", rfc3339(at), event.kind, event.hub_id);
    let summary = event_summary(event);
    if !summary.is_empty() {
        line.push_str("  ");
        line.push_str(&summary);
    }
    line.push_str("  ");
    line.push_str(&event.id);
    line
}

/// What changed, as `key=value` pairs, at most [`SUMMARY_CHARS`] long.
fn event_summary(event: &Event) -> String {
    let data = &event.data;
    let text = match event.kind.as_str() {
        "hub.state.reported" => pairs(data.get("changed"), &[]),
        "hub.desired.changed" => pairs(data.get("desired"), &[]),
        "hub.created" => {
            let hub = data.get("hub");
            ["name", "kind", "room", "serial"]
                .iter()
                .filter_map(|key| Some(format!("{key}={}", show(hub?.get(*key)?))))
                .collect::<Vec<_>>()
                .join(" ")
        }
        // The type says it all.
        "hub.online" | "hub.offline" => String::new(),
        _ => pairs(Some(data), &["hub_id"]),
    };
    if text.chars().count() > SUMMARY_CHARS {
        let mut cut: String = text.chars().take(SUMMARY_CHARS - 1).collect();
        cut.push('…');
        cut
    } else {
        text
    }
}

const SUMMARY_CHARS: usize = 100;

fn pairs(object: Option<&Value>, skip: &[&str]) -> String {
    let Some(Value::Object(map)) = object else {
        return object.map(show).unwrap_or_default();
    };
    map.iter()
        .filter(|(key, _)| !skip.contains(&key.as_str()))
        .map(|(key, value)| format!("{key}={}", show(value)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A word as it is; other strings quoted; anything else as JSON.
fn show(value: &Value) -> String {
    match value {
        Value::String(text)
            if !text.is_empty() && !text.contains(|c: char| c.is_whitespace() || c == '"') =>
        {
            text.clone()
        }
        other => other.to_string(),
    }
}

fn hub_table(hub: &Hub) -> String {
    let rows = vec![
        vec!["id".into(), hub.id.clone()],
        vec!["kind".into(), hub.kind.as_str().into()],
        vec!["name".into(), hub.name.clone()],
        vec!["room".into(), hub.room.clone().unwrap_or_default()],
        vec!["serial".into(), hub.serial.clone()],
        vec![
            "model".into(),
            format!("{} (firmware {})", hub.model, hub.firmware),
        ],
        vec!["online".into(), hub.online.to_string()],
        vec!["state".into(), Value::Object(hub.state.clone()).to_string()],
        vec![
            "desired".into(),
            Value::Object(hub.desired.clone()).to_string(),
        ],
    ];
    render(&["", ""], &rows)
        .lines()
        .skip(1)
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The claims of a JWT, read without verifying (for display only).
fn jwt_claims(token: &str) -> Map<String, Value> {
    use base64::Engine;
    token
        .split('.')
        .nth(1)
        .and_then(|part| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Left-aligned columns separated by two spaces.
pub(crate) fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths[i]))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = vec![line(headers.iter().map(|h| (*h).to_owned()).collect())];
    out.extend(rows.iter().map(|r| line(r.clone())));
    if rows.is_empty() {
        out.push("(none)".into());
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, data: Value) -> Event {
        serde_json::from_value(json!({
            "id": "evt_0000000000000042",
            "type": kind,
            "timestamp": "2026-12-02T14:26:51.123456Z",
            "account_id": "acc_1",
            "hub_id": "hub_1",
            "data": data,
        }))
        .unwrap()
    }

    #[test]
    fn an_event_line_has_time_type_hub_what_changed_and_id() {
        let reported = event(
            "hub.state.reported",
            json!({"hub_id": "hub_1", "changed": {"active": 3, "otp": "normal"}, "reported_version": 7}),
        );
        assert_eq!(
            event_line(&reported),
            "2026-12-02T14:26:51Z  hub.state.reported   hub_1  active=3 otp=normal  evt_0000000000000042"
        );
        let online = event(
            "hub.online",
            json!({"hub_id": "hub_1", "last_seen": 1796221611}),
        );
        assert_eq!(
            event_line(&online),
            "2026-12-02T14:26:51Z  hub.online           hub_1  evt_0000000000000042"
        );
    }

    #[test]
    fn each_event_type_is_summed_up_by_what_it_changed() {
        let cases = [
            (
                "hub.desired.changed",
                json!({"hub_id": "hub_1", "desired": {"mtrmode": false}, "desired_version": 2}),
                "mtrmode=false",
            ),
            (
                "hub.updated",
                json!({"hub_id": "hub_1", "name": "Board room", "room": null}),
                "name=\"Board room\" room=null",
            ),
            (
                "hub.created",
                json!({"hub": {"id": "hub_1", "name": "Lobby", "kind": "hub", "serial": "SN1", "state": {}}}),
                "name=Lobby kind=hub serial=SN1",
            ),
            (
                "hub.deleted",
                json!({"hub_id": "hub_1", "serial": "SN1"}),
                "serial=SN1",
            ),
            (
                "hub.offline",
                json!({"hub_id": "hub_1", "last_seen": 1}),
                "",
            ),
            ("hub.renamed.someday", json!("text"), "text"),
        ];
        for (kind, data, expected) in cases {
            assert_eq!(event_summary(&event(kind, data)), expected, "{kind}");
        }
    }

    #[test]
    fn with_output_json_an_event_is_its_wire_json_on_one_line() {
        let reported = event(
            "hub.state.reported",
            json!({"hub_id": "hub_1", "changed": {"note": "two\nlines"}}),
        );
        let line = render_event(&reported, ClientOutput::Json);
        assert!(!line.contains('\n'), "{line}");
        let back: Event = serde_json::from_str(&line).unwrap();
        assert_eq!(back, reported);
        let wire: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(wire["type"], "hub.state.reported");
    }

    #[test]
    fn a_long_summary_is_cut_with_an_ellipsis() {
        let long = "x".repeat(300);
        let summary = event_summary(&event(
            "hub.state.reported",
            json!({"changed": {"note": long}}),
        ));
        assert_eq!(summary.chars().count(), SUMMARY_CHARS);
        assert!(summary.starts_with("note=xxx") && summary.ends_with('…'));
    }
}
