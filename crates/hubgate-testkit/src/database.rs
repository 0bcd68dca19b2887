//! A PostgreSQL database per test, dropped afterwards, that CI cannot skip.

/// A fresh PostgreSQL database for one test, dropped afterwards.
///
/// Reads `HUBGATE_TEST_DATABASE_URL` (a URL whose role may create databases;
/// `scripts/start-postgres` prints one). Without it the PostgreSQL tests are
/// skipped, unless `HUBGATE_REQUIRE_POSTGRES=1` (set by `scripts/test`) makes
/// that a failure, so CI can never skip them silently.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> Option<Self> {
        let Ok(admin_url) = std::env::var("HUBGATE_TEST_DATABASE_URL") else {
            assert!(
                std::env::var_os("HUBGATE_REQUIRE_POSTGRES").is_none(),
                "HUBGATE_TEST_DATABASE_URL is not set but PostgreSQL tests are required (run scripts/test)"
            );
            eprintln!("skipping: HUBGATE_TEST_DATABASE_URL is not set");
            return None;
        };
        let name = format!(
            "hubgate_test_{}",
            hubgate_core::ids::AccountId::new().uuid().simple()
        );
        let mut admin = sqlx_connect(&admin_url).await;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let url = match admin_url.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("HUBGATE_TEST_DATABASE_URL must end in /<database>"),
        };
        Some(Self {
            admin_url,
            name,
            url,
        })
    }
}

async fn sqlx_connect(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url)
        .await
        .expect("connect to HUBGATE_TEST_DATABASE_URL")
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime: use a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let mut admin = sqlx_connect(&admin_url).await;
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await;
            });
        });
        let _ = dropped.join();
    }
}
