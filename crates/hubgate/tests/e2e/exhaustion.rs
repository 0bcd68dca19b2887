//! No anonymous client exhausts the server's memory or connections. Bounded
//! in time and count, on 127.0.0.1 only.

use std::time::{Duration, Instant};

use hubgate_testkit::browser::field;

use crate::support::{ALL_SCOPES, Server, create_integration};

/// The login form's CSRF cookie (as a `Cookie` header) and token.
async fn login_form(http: &reqwest::Client, url: &str) -> (String, String) {
    let page = http
        .get(format!("{url}/console/login"))
        .send()
        .await
        .expect("login page");
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("hubgate_csrf="))
        .and_then(|v| v.split(';').next())
        .expect("CSRF cookie")
        .to_owned();
    let html = page.text().await.expect("login page body");
    (cookie, field(&html, "csrf"))
}

/// 64 parallel failed logins: Argon2 runs in a few preallocated blocks, the
/// rest are told to come back (429), the process's peak memory stays low and
/// client_credentials keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_storm_is_bounded_in_memory_and_spares_the_token_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let integration = create_integration(&server, ALL_SCOPES);
    let http = reqwest::Client::new();
    let (cookie, csrf) = login_form(&http, &server.url).await;

    let storm = (0..64).map(|i| {
        let http = http.clone();
        let (url, cookie, csrf) = (server.url.clone(), cookie.clone(), csrf.clone());
        tokio::spawn(async move {
            http.post(format!("{url}/console/login"))
                .header("cookie", cookie)
                .form(&[
                    ("email", format!("nobody{i}@example.com")),
                    ("password", "wrong password".to_owned()),
                    ("csrf", csrf),
                ])
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    });
    let storm: Vec<_> = storm.collect();
    let token_url = format!("{}/identity/oauth/v2/token", server.url);
    let mut latencies = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let status = http
            .post(&token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", integration.client_id.as_str()),
                ("client_secret", integration.client_secret.as_str()),
            ])
            .send()
            .await
            .expect("token request")
            .status();
        latencies.push(started.elapsed());
        assert_eq!(status, 200);
    }
    let mut statuses = Vec::new();
    for task in storm {
        statuses.push(task.await.unwrap().expect("login request"));
    }
    latencies.sort();
    let peak_mib = server.memory_kib("VmHWM") / 1024;
    eprintln!(
        "login storm: statuses {:?}; token latency median {:?} max {:?}; peak RSS {peak_mib} MiB, RSS now {} MiB",
        count(&statuses),
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1],
        server.memory_kib("VmRSS") / 1024,
    );
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "the queue is short: {statuses:?}");
    assert!(peak_mib < 150, "peak RSS {peak_mib} MiB");
    // A generous bound: the point is that a storm does not stall it.
    assert!(latencies[latencies.len() - 1] < Duration::from_secs(1));
}

fn count(statuses: &[u16]) -> std::collections::BTreeMap<u16, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for s in statuses {
        *counts.entry(*s).or_default() += 1;
    }
    counts
}

/// The timeouts are the binary's settings: a silent socket is closed after
/// `--header-read-timeout`, an idle keep-alive one after `--idle-timeout`.
#[tokio::test]
async fn the_connection_timeouts_come_from_the_settings() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &["--header-read-timeout", "1", "--idle-timeout", "2"],
    );
    let addr = server.url.trim_start_matches("http://").to_owned();
    let closed_after = |mut stream: tokio::net::TcpStream| async move {
        let started = Instant::now();
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
                Ok(Ok(_)) => continue,
                Err(_) => panic!("still open after 10 s"),
            }
        }
    };
    let silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let waited = closed_after(silent).await;
    assert!(waited < Duration::from_secs(4), "{waited:?}");
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let waited = closed_after(idle).await;
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert!(waited < Duration::from_secs(6), "{waited:?}");
}
