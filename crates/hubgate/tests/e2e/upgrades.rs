//! Upgrades: `hubgate admin migrate --dry-run` lists what an upgrade would
//! apply, and a database migrated by a newer hubgate is refused by `serve`
//! and the admin tool alike, with both versions named.

use std::process::Command;
use std::time::Duration;

use crate::support::{BIN, Server, admin, admin_ok};

#[tokio::test]
async fn a_schema_newer_than_the_binary_is_refused_with_both_versions_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    Server::start(&data, &["--no-demo"]).kill9();

    let current = admin_ok(&data, &["migrate", "--dry-run"]);
    assert_eq!(current["migrations"], serde_json::json!([]), "{current}");
    let applied = admin_ok(&data, &["migrate"]);
    assert_eq!(
        applied["migrations"],
        serde_json::json!([]),
        "nothing to apply"
    );

    // What a newer hubgate would have recorded (Python's sqlite3, not ours).
    let recorded = Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys\n\
             db = sqlite3.connect(sys.argv[1])\n\
             db.execute(\"INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from a newer hubgate', 1, x'00', 0)\")\n\
             db.commit()",
        )
        .arg(data.join("hubgate.db"))
        .status()
        .unwrap();
    assert!(recorded.success());

    let (code, _, stderr) = admin(&data, &["migrate", "--dry-run"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("version 9999")
            && stderr.contains(&format!("version {}", newest_migration())),
        "{stderr}"
    );

    let mut serve = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = serve.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "serve did not refuse"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut serve.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains("version 9999") && stderr.contains("newer than this hubgate knows"),
        "{stderr}"
    );
}

/// The newest migration this build carries (the number its file name starts with).
fn newest_migration() -> u32 {
    let dir = crate::support::repo_root().join("crates/hubgate-store/migrations/sqlite");
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().ok()?;
            name.split('_').next()?.parse().ok()
        })
        .max()
        .expect("migrations")
}
