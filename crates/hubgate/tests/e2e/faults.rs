//! Faults the node recovers from by itself: a full disk under the SQLite
//! store and the log, and log writes that fail.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{ALL_SCOPES, Integration, Server, client_credentials, create_integration};

/// A 16 MiB tmpfs, unmounted when dropped; `None` where mounting is not
/// allowed (not root), and the test says so and passes.
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    fn mount(parent: &Path) -> Option<SmallDisk> {
        let path = parent.join("small-disk");
        std::fs::create_dir_all(&path).ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs"])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(SmallDisk { path })
    }

    /// Writes a file until the disk is full.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path.join("filler");
        let mut file = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![7u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.sync_all();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

async fn patch_hub(
    http: &reqwest::Client,
    server: &Server,
    token: &str,
    hub: &str,
    name: &str,
) -> u16 {
    http.patch(format!("{}/api/v1/hubs/{hub}", server.url))
        .bearer_auth(token)
        .json(&serde_json::json!({"name": name}))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

async fn status(http: &reqwest::Client, url: String) -> u16 {
    http.get(url)
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

async fn revoke(
    http: &reqwest::Client,
    server: &Server,
    integration: &Integration,
    token: &str,
) -> u16 {
    http.post(format!("{}/identity/oauth/v2/revoke", server.url))
        .form(&[
            ("client_id", integration.client_id.as_str()),
            ("client_secret", integration.client_secret.as_str()),
            ("token", token),
        ])
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

async fn refresh_status(server: &Server, integration: &Integration, token: &str) -> (u16, Value) {
    let response = crate::support::refresh(server, integration, token).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_full_disk_fails_writes_cleanly_and_the_node_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(dir.path()) else {
        return;
    };
    let data = disk.path.join("data");
    let public = ["--public-url", "http://hubgate.test"];
    // The server's log file is on the small disk too.
    let server = Server::start(&data, &public);
    let integration = create_integration(&server, ALL_SCOPES);
    let http = reqwest::Client::new();
    let first = client_credentials(&server, &integration).await;
    let access = first.access_token.as_str().to_owned();
    let mut refresh = first.refresh_token.as_deref().unwrap().to_owned();
    let victim = client_credentials(&server, &integration).await;
    let victim_refresh = victim.refresh_token.as_deref().unwrap().to_owned();
    let hubs: Value = http
        .get(format!("{}/api/v1/hubs", server.url))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hub = hubs["items"][0]["id"].as_str().unwrap().to_owned();

    let filler = disk.fill();
    // Writes fail once SQLite's WAL needs room (it may have some left).
    let mut failed = false;
    for i in 0..3000 {
        let name = format!("Room {i}");
        match patch_hub(&http, &server, &access, &hub, &name).await {
            200 => continue,
            503 => {
                failed = true;
                break;
            }
            other => panic!("a hub PATCH on a full disk answered {other}"),
        }
    }
    assert!(failed, "no write failed on a full disk");
    // Readiness says so (the write probe runs at most once a second).
    let deadline = Instant::now() + Duration::from_secs(5);
    while status(&http, format!("{}/readyz", server.url)).await != 503 {
        assert!(
            Instant::now() < deadline,
            "/readyz stayed 200 while writes fail"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status(&http, format!("{}/healthz", server.url)).await, 200);
    // A rotation and a revocation: refused (503), or answered 200 and durable.
    let (rotated, body) = refresh_status(&server, &integration, &refresh).await;
    assert!(matches!(rotated, 200 | 503), "{rotated} {body}");
    if rotated == 200 {
        refresh = body["refresh_token"].as_str().unwrap().to_owned();
    }
    let revoked = revoke(&http, &server, &integration, &victim_refresh).await;
    assert!(
        matches!(revoked, 200 | 503),
        "revocation answered {revoked}"
    );

    // Space returns: the node recovers by itself, within seconds.
    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    loop {
        let ready = status(&http, format!("{}/readyz", server.url)).await == 200;
        if ready && patch_hub(&http, &server, &access, &hub, "Recovered").await == 200 {
            break;
        }
        assert!(
            freed.elapsed() < Duration::from_secs(15),
            "no recovery 15 s after space returned"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("recovered {:?} after space returned", freed.elapsed());
    let (rotated, body) = refresh_status(&server, &integration, &refresh).await;
    assert_eq!(rotated, 200, "{body}");
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    assert!(!server.logs().contains("panicked"), "{}", server.logs());
    // The admin tool works beside the server (no lock held by a dead transaction).
    server.admin(&["account", "list"]);

    // What was answered 200 is on disk: kill at once and start again.
    server.kill9();
    let server = Server::start(&data, &public);
    let (after, body) = refresh_status(&server, &integration, &refresh).await;
    assert_eq!(after, 200, "the last rotation was lost: {body}");
    if revoked == 200 {
        let (status, _) = refresh_status(&server, &integration, &victim_refresh).await;
        assert_eq!(status, 400, "a revocation answered 200 was lost");
    }
    assert_eq!(server.terminate().code(), Some(0));
    let check = hubgate_store::sqlite::integrity_check(&data.join("hubgate.db"))
        .await
        .unwrap();
    assert_eq!(check, "ok");
}

/// With stderr on a device that refuses every write, logging fails on every
/// request: the server keeps answering and nothing panics.
#[tokio::test]
async fn failing_log_writes_do_not_break_requests() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_stderr(&dir.path().join("data"), &[], "/dev/full");
    let integration = create_integration(&server, ALL_SCOPES);
    let http = reqwest::Client::new();
    for _ in 0..20 {
        // A failed client authentication is logged at info.
        let response = http
            .post(format!("{}/identity/oauth/v2/token", server.url))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", integration.client_id.as_str()),
                ("client_secret", "hgs_wrong"),
            ])
            .send()
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(response.status(), 401);
        client_credentials(&server, &integration).await;
    }
    let metrics = http
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("hubgate_task_restarts_total{task=\"group_commit\"} 0"),
        "{metrics}"
    );
}
