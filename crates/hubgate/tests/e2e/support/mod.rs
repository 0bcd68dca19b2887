use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hubgate_api::TokenResponse;
use serde_json::Value;

mod cluster;
mod relay;

pub use cluster::Cluster;
pub use hubgate_testkit::constants::{ALL_SCOPES, REDIRECT_URI};
pub use relay::Relay;

pub const BIN: &str = env!("CARGO_BIN_EXE_hubgate");

/// The repository root, where the external clients live.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// A running `hubgate serve`, killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    pub banner: String,
    pub data_dir: PathBuf,
    /// Where devices connect (MQTT), unless started with `--no-mqtt`.
    pub mqtt: Option<std::net::SocketAddr>,
    stderr_path: PathBuf,
}

impl Server {
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        Self::start_with_env(data_dir, extra, &[])
    }

    /// Starts with extra environment (e.g. a shared `HUBGATE_MASTER_KEY`).
    pub fn start_with_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let stderr_path = data_dir.with_extension("stderr.log");
        Self::start_full(data_dir, extra, env, &stderr_path)
    }

    /// Starts with stderr (the log) going to `stderr_path`.
    pub fn start_with_stderr(data_dir: &Path, extra: &[&str], stderr_path: &str) -> Server {
        Self::start_full(data_dir, extra, &[], Path::new(stderr_path))
    }

    fn start_full(
        data_dir: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
        stderr_path: &Path,
    ) -> Server {
        std::fs::create_dir_all(data_dir.parent().unwrap_or(data_dir)).expect("parent dir");
        let stderr_path = stderr_path.to_owned();
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr_path)
            .expect("stderr log");
        // Servers run side by side: each takes a free MQTT port unless told.
        let own_mqtt = extra
            .iter()
            .any(|a| *a == "--mqtt-listen" || *a == "--no-mqtt");
        let mqtt_default: &[&str] = if own_mqtt {
            &[]
        } else {
            &["--mqtt-listen", "127.0.0.1:0"]
        };
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(mqtt_default)
            .args(extra)
            .env("HUBGATE_LOG", "info")
            .env_remove("HUBGATE_MASTER_KEY")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn hubgate serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = String::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let Some(Ok(line)) = lines.next() else { break };
            banner.push_str(&line);
            banner.push('\n');
            if line.starts_with("Stop with Ctrl-C") {
                break;
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        let url = banner
            .lines()
            .find_map(|l| l.trim_start().strip_prefix("listening"))
            .map(|addr| format!("http://{}", addr.trim()))
            .unwrap_or_else(|| panic!("no listening address in the banner:\n{banner}"));
        let mqtt = banner
            .lines()
            .find_map(|l| l.trim_start().strip_prefix("devices (MQTT)  "))
            .and_then(|url| url.trim().split_once("://"))
            .and_then(|(_, addr)| addr.parse().ok());
        Server {
            child,
            url,
            banner,
            mqtt,
            data_dir: data_dir.to_owned(),
            stderr_path,
        }
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        self.child.wait().expect("wait")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A line of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM` for the peak).
    pub fn memory_kib(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("/proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn admin(&self, args: &[&str]) -> Value {
        admin_ok(&self.data_dir, args)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `hubgate admin --output json …`; returns exit code and parsed stdout.
pub fn admin(data_dir: &Path, args: &[&str]) -> (i32, Value, String) {
    let output = Command::new(BIN)
        .arg("admin")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--output", "json"])
        .args(args)
        .env_remove("HUBGATE_MASTER_KEY")
        .output()
        .expect("run hubgate admin");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (output.status.code().unwrap_or(-1), value, stderr)
}

pub fn admin_ok(data_dir: &Path, args: &[&str]) -> Value {
    let (code, value, stderr) = admin(data_dir, args);
    assert_eq!(code, 0, "hubgate admin {args:?} failed: {stderr}");
    value
}

/// The Demo account id printed on first start.
pub fn demo_account(banner: &str) -> String {
    banner
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|w| w.starts_with("acc_"))
        .expect("account id in banner")
        .to_owned()
}

pub struct Integration {
    pub client_id: String,
    pub client_secret: String,
}

pub fn create_integration(server: &Server, scope: &str) -> Integration {
    let account = demo_account(&server.banner);
    let created = server.admin(&[
        "integration",
        "create",
        "--account",
        &account,
        "--name",
        "E2E",
        "--redirect-uri",
        REDIRECT_URI,
        "--scope",
        scope,
    ]);
    Integration {
        client_id: created["client_id"].as_str().expect("client_id").to_owned(),
        client_secret: created["client_secret"]
            .as_str()
            .expect("client_secret")
            .to_owned(),
    }
}

pub async fn client_credentials(server: &Server, integration: &Integration) -> TokenResponse {
    let response = reqwest::Client::new()
        .post(format!("{}/identity/oauth/v2/token", server.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", integration.client_id.as_str()),
            ("client_secret", integration.client_secret.as_str()),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(response.status(), 200);
    response.json().await.expect("token JSON")
}

pub async fn refresh(
    server: &Server,
    integration: &Integration,
    refresh_token: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/identity/oauth/v2/token", server.url))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", integration.client_id.as_str()),
            ("client_secret", integration.client_secret.as_str()),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .expect("refresh request")
}

pub async fn get_status(server: &Server, path: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}{path}", server.url))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET")
        .status()
        .as_u16()
}
