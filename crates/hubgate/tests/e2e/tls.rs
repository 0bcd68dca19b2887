//! https served by `hubgate serve` itself: HTTP/2 and HTTP/1.1, HSTS, and a
//! certificate replaced on disk served to new connections without a restart.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{ALL_SCOPES, Server, create_integration};

/// A fresh self-signed certificate for 127.0.0.1 and localhost (a new key
/// and serial each time), written over `cert` and `key` the way a renewal
/// does: to a temporary file, then renamed into place.
pub(crate) fn make_certificate(dir: &Path, cert: &Path, key: &Path) -> Vec<u8> {
    let new_cert = dir.join("new-cert.pem");
    let new_key = dir.join("new-key.pem");
    let output = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&new_key)
        .arg("-out")
        .arg(&new_cert)
        .output()
        .expect("run openssl");
    assert!(
        output.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::rename(&new_key, key).unwrap();
    std::fs::rename(&new_cert, cert).unwrap();
    std::fs::read(cert).unwrap()
}

/// A client on a new connection trusting only `pem`.
fn trusting(pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem).unwrap())
        .build()
        .unwrap()
}

/// Whether the server now presents the certificate `pem` to a new connection.
async fn serves(url: &str, pem: &[u8]) -> bool {
    trusting(pem)
        .get(format!("{url}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

async fn wait_until_served(url: &str, pem: &[u8], within: Duration) -> Duration {
    let started = Instant::now();
    while !serves(url, pem).await {
        assert!(
            started.elapsed() < within,
            "the new certificate was not served within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

fn hang_up(server: &Server) {
    let status = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn https_with_the_sdk_and_curl_and_a_renewed_certificate_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let first = make_certificate(dir.path(), &cert, &key);
    let server = Server::start(
        &dir.path().join("data"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let url = server.url.replacen("http://", "https://", 1);
    assert!(
        server.banner.contains(&format!("serving at {url}")),
        "the public URL is https by default: {}",
        server.banner
    );
    let integration = create_integration(&server, ALL_SCOPES);

    // The SDK, trusting the self-signed certificate.
    let sdk = hubgate_client::Client::builder(&url)
        .client_credentials(&integration.client_id, &integration.client_secret)
        .add_root_certificate(first.clone())
        .build()
        .unwrap();
    sdk.access_token().await.expect("a token over https");
    let account = sdk.account().await.expect("the API over https");
    assert_eq!(account.name, "Demo");

    // HTTP/2 by ALPN, and HSTS.
    let health = trusting(&first)
        .get(format!("{url}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.version(), reqwest::Version::HTTP_2);
    assert_eq!(
        health.headers()["strict-transport-security"],
        "max-age=31536000"
    );

    // Cookies over https are Secure with the __Host- prefix, although the
    // public URL was not set.
    let login = trusting(&first)
        .get(format!("{url}/console/login"))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("__Host-hubgate_csrf=") && cookie.contains("Secure"),
        "{cookie}"
    );

    // curl, over HTTP/1.1 and HTTP/2.
    for version in ["--http1.1", "--http2"] {
        let output = Command::new("curl")
            .args(["-sS", version, "--cacert"])
            .arg(&cert)
            .args(["-o", "/dev/null", "-w", "%{http_code} %{http_version}"])
            .args(["-d", "grant_type=client_credentials"])
            .args(["-d", &format!("client_id={}", integration.client_id)])
            .args([
                "-d",
                &format!("client_secret={}", integration.client_secret),
            ])
            .arg(format!("{url}/identity/oauth/v2/token"))
            .output()
            .expect("run curl");
        let answer = String::from_utf8_lossy(&output.stdout).into_owned();
        let expected = if version == "--http2" {
            "200 2"
        } else {
            "200 1.1"
        };
        assert_eq!(
            answer,
            expected,
            "curl {version}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // Plain http on the https port is a failed handshake, nothing more.
    assert!(
        reqwest::get(format!("{}/healthz", server.url))
            .await
            .is_err()
    );

    // Renewed on disk: new connections get it within 10 s, no restart.
    let second = make_certificate(dir.path(), &cert, &key);
    let took = wait_until_served(&url, &second, Duration::from_secs(10)).await;
    assert!(
        !serves(&url, &first).await,
        "the old certificate is still served"
    );
    eprintln!("the renewed certificate served after {took:?}");

    // SIGHUP: at once.
    let third = make_certificate(dir.path(), &cert, &key);
    hang_up(&server);
    wait_until_served(&url, &third, Duration::from_secs(1)).await;
    assert!(
        server
            .logs()
            .contains("SIGHUP: reloading the TLS certificate")
    );

    // A broken renewal keeps the certificate that works, and says why.
    std::fs::write(&key, "not a key").unwrap();
    hang_up(&server);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(serves(&url, &third).await);
    let logs = server.logs();
    assert!(
        logs.contains("cannot reload the TLS certificate"),
        "no error logged:\n{logs}"
    );
    assert!(!logs.contains("BEGIN"), "PEM content in the log:\n{logs}");

    // The SDK's client, on its open connection, still works throughout.
    sdk.account().await.expect("the SDK after the renewals");
}

#[test]
fn a_missing_or_broken_certificate_stops_the_start_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    std::fs::write(&key, "nothing").unwrap();
    let output = Command::new(crate::support::BIN)
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--tls-cert", "/nonexistent/cert.pem", "--tls-key"])
        .arg(&key)
        .env_remove("HUBGATE_MASTER_KEY")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot load the TLS certificate")
            && stderr.contains("/nonexistent/cert.pem"),
        "{stderr}"
    );
    // A key that does not fit the certificate.
    let (cert_a, key_a) = (dir.path().join("a.pem"), dir.path().join("a.key"));
    let (cert_b, key_b) = (dir.path().join("b.pem"), dir.path().join("b.key"));
    make_certificate(dir.path(), &cert_a, &key_a);
    make_certificate(dir.path(), &cert_b, &key_b);
    let output = Command::new(crate::support::BIN)
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--tls-cert")
        .arg(&cert_a)
        .arg("--tls-key")
        .arg(&key_b)
        .env_remove("HUBGATE_MASTER_KEY")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("does not fit the certificate"), "{stderr}");
    // One without the other is a usage error.
    let output = Command::new(crate::support::BIN)
        .args(["serve", "--tls-cert", "x.pem"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[tokio::test]
async fn a_handshake_that_never_finishes_is_closed_at_the_header_read_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let pem = make_certificate(dir.path(), &cert, &key);
    let server = Server::start(
        &dir.path().join("data"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--header-read-timeout",
            "1",
        ],
    );
    let address = server.url.trim_start_matches("http://").to_owned();
    // A client that opens the connection, starts a ClientHello and stops.
    let mut stalled = tokio::net::TcpStream::connect(&address).await.unwrap();
    stalled.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), stalled.read(&mut buffer))
        .await
        .expect("the stalled handshake was not closed");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(started.elapsed() >= Duration::from_millis(900));
    // Real clients are served meanwhile.
    let url = server.url.replacen("http://", "https://", 1);
    assert!(serves(&url, &pem).await);
    // An HTTP/2 client whose pooled connection sat idle past the header-read
    // timeout is still served.
    let client = trusting(&pem);
    for _ in 0..2 {
        let health = client.get(format!("{url}/healthz")).send().await.unwrap();
        assert_eq!(health.version(), reqwest::Version::HTTP_2);
        assert_eq!(health.status(), 200);
        tokio::time::sleep(Duration::from_millis(1600)).await;
    }
}
