//! No anonymous client exhausts memory, connections or metrics. Every test is
//! bounded in time and count, on 127.0.0.1 only.

use std::time::{Duration, Instant};

use hubgate_api::{ErrorBody, ErrorCode};
use hubgate_testkit::TestApp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One raw HTTP/1.1 exchange on a fresh connection; the whole answer.
async fn raw(app: &TestApp, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(app.url.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// Whether the server closed this connection (within `wait`).
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn made_up_methods_do_not_create_metric_series() {
    let app = TestApp::spawn().await;
    for i in 0..200 {
        let request = format!("M{i}X /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let answer = raw(&app, request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    }
    let text = app.metrics().await;
    assert!(!text.contains("M1X"), "raw methods must not be labels");
    assert!(
        text.contains(
            "hubgate_http_requests_total{method=\"other\",route=\"/healthz\",status=\"405\"} 200"
        ),
        "{text}"
    );
    let series = text
        .lines()
        .filter(|l| l.starts_with("hubgate_http_requests_total{"))
        .count();
    assert!(series < 10, "{series} series:\n{text}");
}

#[tokio::test]
async fn an_oversized_declared_body_is_refused_at_once_without_100_continue() {
    let app = TestApp::spawn().await;
    let cases = [
        // A huge declared length and a tiny body.
        "POST /identity/oauth/v2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10737418240\r\n\r\ngrant_type=x",
        // Expect: 100-continue with a length over the token endpoint's 16 KiB.
        "POST /identity/oauth/v2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n",
        // Over the 2 MiB every other route has.
        "PATCH /api/v1/hubs/hub_x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 3000000\r\nExpect: 100-continue\r\n\r\n",
        // A length that is not a number.
        "POST /identity/oauth/v2/revoke HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\n\r\n",
    ];
    for case in cases {
        let started = Instant::now();
        let answer = raw(&app, case.as_bytes()).await;
        let elapsed = started.elapsed();
        // A length that is not a number is refused by the HTTP parser (400).
        if case.contains("lots") {
            assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
            continue;
        }
        assert!(answer.starts_with("HTTP/1.1 413"), "{case}:\n{answer}");
        assert!(!answer.contains("100 Continue"), "{answer}");
        assert!(answer.contains("\"error\":\"invalid_request\""), "{answer}");
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    }
}

fn short_limits(config: &mut hubgate_server::ServerConfig) {
    config.connections.header_read_timeout = Duration::from_millis(300);
    config.connections.idle_timeout = Duration::from_millis(800);
    config.connections.max_connections = 20;
}

#[tokio::test]
async fn slow_silent_and_idle_connections_are_closed() {
    let app = TestApp::spawn_with(short_limits).await;
    let addr = app.url.trim_start_matches("http://").to_owned();

    // Slowloris: a header byte every 100 ms never completes a head.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    let started = Instant::now();
    let dripping = async {
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        {
            if slow.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(6), dripping)
        .await
        .expect("the slow connection was closed");
    assert!(closed_within(&mut slow, Duration::from_secs(1)).await);
    assert!(started.elapsed() < Duration::from_secs(5));

    // A socket that never says anything.
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(3)).await);

    // An idle keep-alive connection after one request.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(closed_within(&mut idle, Duration::from_secs(4)).await);
}

#[tokio::test]
async fn at_the_connection_cap_healthz_still_answers_and_the_cap_holds() {
    let app = TestApp::spawn_with(|config| {
        config.connections.header_read_timeout = Duration::from_secs(30);
        config.connections.idle_timeout = Duration::from_secs(30);
        config.connections.max_connections = 20;
    })
    .await;
    let addr = app.url.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..40 {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    // Let the server accept them all.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let answer = raw(
        &app,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let elapsed = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    let mut open = 0;
    for stream in &mut held {
        if !closed_within(stream, Duration::from_millis(20)).await {
            open += 1;
        }
    }
    assert!(
        open <= 20,
        "{open} idle connections held past the cap of 20"
    );
    assert!(open >= 10, "only {open} held: the cap closed too many");
}

#[tokio::test]
async fn failed_client_authentications_are_limited_but_correct_clients_never_are() {
    let app = TestApp::spawn_with(|config| {
        config.client_auth_limits.per_client = 3;
        config.client_auth_limits.per_address = 5;
    })
    .await;
    let victim = app.integration(hubgate_testkit::ALL_SCOPES).await;
    let other = app.integration(hubgate_testkit::ALL_SCOPES).await;
    let wrong = |creds: &hubgate_testkit::Creds| {
        vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", creds.client_id.clone()),
            ("client_secret", "hgs_wrong".to_owned()),
        ]
    };
    for _ in 0..3 {
        let response = app.post_token().form(&wrong(&victim)).send().await.unwrap();
        assert_eq!(response.status(), 401);
    }
    let limited = app.post_token().form(&wrong(&victim)).send().await.unwrap();
    assert_eq!(limited.status(), 429);
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: ErrorBody = limited.json().await.unwrap();
    assert_eq!(body.error, ErrorCode::RateLimited);
    assert!(body.error_description.is_some());
    // The victim with its right secret is not slowed, nor is another client.
    app.client_credentials(&victim, None).await;
    let response = app.post_token().form(&wrong(&other)).send().await.unwrap();
    assert_eq!(response.status(), 401);
    // Per address: the sixth failure from 127.0.0.1, whatever the client.
    let response = app.post_token().form(&wrong(&other)).send().await.unwrap();
    assert_eq!(response.status(), 429);
    // Successful grants from a limited address are still not limited.
    for _ in 0..5 {
        app.client_credentials(&other, None).await;
    }
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("hubgate_client_auth_limited_total{endpoint=\"token\"} 2"),
        "{metrics}"
    );
}
