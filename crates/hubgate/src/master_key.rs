//! Where the master key comes from: `HUBGATE_MASTER_KEY`, or a key file in the
//! data directory created with mode 0600 on first start.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use hubgate_core::crypto::MasterKey;

pub const ENV: &str = "HUBGATE_MASTER_KEY";
pub const FILE: &str = "master.key";

/// Loads the key. Creates a key file only for a store that holds nothing
/// sealed yet: a new key for an existing database would make its secrets
/// unreadable.
pub fn load_or_create(data_dir: &Path, store_has_data: bool) -> anyhow::Result<MasterKey> {
    if let Ok(text) = std::env::var(ENV) {
        return MasterKey::from_base64(&text).with_context(|| format!("{ENV} is malformed"));
    }
    let path = data_dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => MasterKey::from_base64(&text)
            .with_context(|| format!("{} is malformed", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if store_has_data {
                bail!(
                    "{} is missing but the store already holds data sealed with a master key: restore the key file \
                     or set {ENV} (every node of one store needs the same key); a new key could not read the \
                     stored secrets",
                    path.display()
                );
            }
            let (bytes, key) = MasterKey::generate();
            write_private(&path, MasterKey::encode(&bytes).as_bytes())
                .with_context(|| format!("cannot create {}", path.display()))?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Reads the key for admin commands, which never create one.
pub fn load(data_dir: &Path) -> anyhow::Result<MasterKey> {
    if let Ok(text) = std::env::var(ENV) {
        return MasterKey::from_base64(&text).with_context(|| format!("{ENV} is malformed"));
    }
    let path = data_dir.join(FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {} (run `hubgate serve` once, or set {ENV})",
            path.display()
        )
    })?;
    MasterKey::from_base64(&text).with_context(|| format!("{} is malformed", path.display()))
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.write_all(b"\n")?;
    file.sync_all()
}

/// Names the store for messages without its credentials.
pub fn describe_store(database_url: Option<&str>, data_dir: &Path) -> String {
    match database_url {
        Some(url) => match url::Url::parse(url) {
            Ok(parsed) => format!(
                "PostgreSQL at {}{}{}",
                parsed.host_str().unwrap_or("localhost"),
                parsed.port().map(|p| format!(":{p}")).unwrap_or_default(),
                parsed.path()
            ),
            Err(_) => "PostgreSQL (unparsable URL)".to_owned(),
        },
        None => format!("SQLite in {}", data_dir.display()),
    }
}
