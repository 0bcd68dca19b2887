//! `hubgate admin backup` under a refresh-token load, and `restore`: every
//! rotation a client was answered before the backup began is in it.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hubgate_api::TokenResponse;
use serde_json::Value;

use crate::support::{
    ALL_SCOPES, BIN, Integration, Server, admin, client_credentials, create_integration,
};

const TASKS: usize = 4;

/// One client refreshing in a loop; `acknowledged` holds every refresh token
/// it was answered with, oldest first.
async fn refresh_loop(
    http: reqwest::Client,
    url: String,
    integration: Arc<Integration>,
    acknowledged: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stop.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline {
        let current = acknowledged.lock().unwrap().last().cloned().unwrap();
        let response = http
            .post(format!("{url}/identity/oauth/v2/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", integration.client_id.as_str()),
                ("client_secret", integration.client_secret.as_str()),
                ("refresh_token", current.as_str()),
            ])
            .send()
            .await
            .expect("refresh request");
        assert_eq!(response.status(), 200, "a refresh under load failed");
        let rotated: TokenResponse = response.json().await.unwrap();
        acknowledged
            .lock()
            .unwrap()
            .push(rotated.refresh_token.expect("a new refresh token"));
    }
}

async fn introspect_active(server: &Server, integration: &Integration, token: &str) -> bool {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/identity/oauth/v2/introspect", server.url))
        .form(&[
            ("client_id", integration.client_id.as_str()),
            ("client_secret", integration.client_secret.as_str()),
            ("token", token),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["active"] == true
}

fn admin_in(data_dir: &Path, args: &[&str]) -> (i32, String) {
    let (code, _, stderr) = admin(data_dir, args);
    (code, stderr)
}

#[tokio::test]
async fn a_backup_under_refresh_load_restores_every_acknowledged_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let public = ["--public-url", "http://hubgate.test"];
    let server = Server::start(&live, &public);
    let integration = Arc::new(create_integration(&server, ALL_SCOPES));

    let http = reqwest::Client::new();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut held = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let first = client_credentials(&server, &integration).await;
        let acknowledged = Arc::new(Mutex::new(vec![first.refresh_token.unwrap()]));
        held.push(acknowledged.clone());
        tasks.push(tokio::spawn(refresh_loop(
            http.clone(),
            server.url.clone(),
            integration.clone(),
            acknowledged,
            stop.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The moment the backup begins: what each client holds now was answered
    // with 200, so it is durable and must be in the backup (or superseded
    // there by a later rotation, answered after this moment).
    let at_start: Vec<usize> = held.iter().map(|h| h.lock().unwrap().len() - 1).collect();
    let file = dir.path().join("hubgate.backup");
    let backup = {
        let live = live.clone();
        let file = file.clone();
        tokio::task::spawn_blocking(move || {
            admin(&live, &["backup", "--to", file.to_str().unwrap()])
        })
    };
    let (code, printed, stderr) = backup.await.unwrap();
    assert_eq!(code, 0, "backup failed: {stderr}");
    let during: usize = held
        .iter()
        .zip(&at_start)
        .map(|(h, start)| h.lock().unwrap().len() - 1 - start)
        .sum();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    eprintln!(
        "{during} refreshes answered while the backup ran; generations held at its start: {at_start:?}"
    );
    assert!(during > 0, "no refresh ran while the backup was taken");
    let manifest = &printed["manifest"];
    assert_eq!(manifest["hubgate_version"], env!("CARGO_PKG_VERSION"));
    assert!(
        manifest["schema_version"].as_i64().unwrap() > 0,
        "{printed}"
    );
    assert_eq!(manifest["key_check"].as_str().unwrap().len(), 32);
    let key_file = std::fs::read_to_string(live.join("master.key")).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    assert!(
        !String::from_utf8_lossy(&bytes).contains(key_file.trim()),
        "the master key is in the backup"
    );
    assert!(!file.with_extension("backup.partial").exists());

    // A second backup to the same file, and a restore over the live store,
    // are refused.
    let (code, stderr) = admin_in(&live, &["backup", "--to", file.to_str().unwrap()]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("already exists"), "{stderr}");
    let (code, stderr) = admin_in(&live, &["restore", "--from", file.to_str().unwrap()]);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("already holds a hubgate database"),
        "{stderr}"
    );
    let (code, stderr) = admin_in(
        &live,
        &["restore", "--from", file.to_str().unwrap(), "--force"],
    );
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("in use"), "{stderr}");

    // Restored into a new data directory, beside the master key.
    let restored = dir.path().join("restored");
    std::fs::create_dir(&restored).unwrap();
    std::fs::write(restored.join("master.key"), &key_file).unwrap();
    let (code, stderr) = admin_in(&restored, &["restore", "--from", file.to_str().unwrap()]);
    assert_eq!(code, 0, "restore failed: {stderr}");
    drop(server);
    let server = Server::start(&restored, &public);
    for (history, start) in held.iter().zip(&at_start) {
        let history = history.lock().unwrap().clone();
        let mut current = None;
        for (generation, token) in history.iter().enumerate() {
            if introspect_active(&server, &integration, token).await {
                current = Some(generation);
            }
        }
        let current = current.expect("no token of this client is valid after the restore");
        assert!(
            current >= *start,
            "the backup lost rotations answered before it began: it holds generation {current}, the client held {start}"
        );
        let response = crate::support::refresh(&server, &integration, &history[current]).await;
        assert_eq!(response.status(), 200);
    }

    // A backup restored under another master key is refused, naming why.
    let other = dir.path().join("other-key");
    std::fs::create_dir(&other).unwrap();
    let (bytes, _) = hubgate_core::crypto::MasterKey::generate();
    std::fs::write(
        other.join("master.key"),
        hubgate_core::crypto::MasterKey::encode(&bytes),
    )
    .unwrap();
    let (code, stderr) = admin_in(&other, &["restore", "--from", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("different master key"), "{stderr}");
    assert!(!other.join("hubgate.db").exists());
    // Not a backup at all.
    let (code, stderr) = admin_in(&other, &["restore", "--from", BIN]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a hubgate backup"), "{stderr}");
}

#[test]
fn postgresql_stores_are_pointed_to_pg_dump() {
    let output = std::process::Command::new(BIN)
        .args([
            "admin",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
        ])
        .args(["backup", "--to", "x.backup"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("pg_dump"), "{stderr}");
}
