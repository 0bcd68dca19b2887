//! Several `hubgate serve` nodes on one fresh PostgreSQL database, sharing
//! one master key, as a scaled-out deployment runs.

use hubgate_core::crypto::MasterKey;
use hubgate_testkit::TestDatabase;
use serde_json::Value;

use super::{ALL_SCOPES, BIN, Integration, REDIRECT_URI, Server, demo_account};

/// The nodes, in start order; a test takes one out to kill it.
pub struct Cluster {
    pub nodes: Vec<Option<Server>>,
    pub urls: Vec<String>,
    pub database_url: String,
    pub master_key: String,
    pub banner: String,
    _dir: tempfile::TempDir,
    _database: TestDatabase,
}

impl Cluster {
    /// None when no PostgreSQL is configured for tests (see `TestDatabase`).
    pub async fn start(count: usize) -> Option<Cluster> {
        Self::start_with(count, &[]).await
    }

    /// [`Cluster::start`] with more `serve` flags for every node.
    pub async fn start_with(count: usize, extra: &[&str]) -> Option<Cluster> {
        let database = TestDatabase::create().await?;
        let dir = tempfile::tempdir().unwrap();
        let (bytes, _) = MasterKey::generate();
        let master_key = MasterKey::encode(&bytes);
        let mut nodes = Vec::new();
        for i in 0..count {
            let data = dir.path().join(format!("node{i}"));
            let mut args = vec![
                "--database-url",
                database.url.as_str(),
                "--public-url",
                "http://hubgate.test",
            ];
            args.extend_from_slice(extra);
            nodes.push(Server::start_with_env(
                &data,
                &args,
                &[("HUBGATE_MASTER_KEY", &master_key)],
            ));
        }
        let banner = nodes[0].banner.clone();
        let urls = nodes.iter().map(|n| n.url.clone()).collect();
        Some(Cluster {
            nodes: nodes.into_iter().map(Some).collect(),
            urls,
            database_url: database.url.clone(),
            master_key,
            banner,
            _dir: dir,
            _database: database,
        })
    }

    pub fn admin(&self, args: &[&str]) -> Value {
        let output = std::process::Command::new(BIN)
            .args([
                "admin",
                "--output",
                "json",
                "--database-url",
                &self.database_url,
            ])
            .args(args)
            .env("HUBGATE_MASTER_KEY", &self.master_key)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "admin {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    pub fn integration(&self) -> Integration {
        let account = demo_account(&self.banner);
        let created = self.admin(&[
            "integration",
            "create",
            "--account",
            &account,
            "--name",
            "Fleet",
            "--redirect-uri",
            REDIRECT_URI,
            "--scope",
            ALL_SCOPES,
        ]);
        Integration {
            client_id: created["client_id"].as_str().unwrap().to_owned(),
            client_secret: created["client_secret"].as_str().unwrap().to_owned(),
        }
    }
}
