//! `hubgate serve`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use hubgate_server::bootstrap::{BootstrapOptions, Bootstrapped, bootstrap};
use hubgate_server::{AppState, ServerConfig};
use hubgate_store::postgres::PgSettings;
use time::Duration;
use tracing_subscriber::EnvFilter;

use crate::cli::{LogFormat, ServeArgs};
use crate::master_key;
use crate::settings::Settings;

pub async fn run(args: ServeArgs) -> ExitCode {
    let settings = match Settings::load(&args) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("hubgate: invalid settings: {error}");
            return ExitCode::from(2);
        }
    };
    init_logging(settings.log_format);
    match serve(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("hubgate: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("HUBGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            settings.data_dir.display()
        )
    })?;
    let pg = PgSettings {
        max_connections: settings.db_max_connections,
        acquire_timeout: std::time::Duration::from_secs(settings.db_acquire_timeout),
    };
    let where_ =
        crate::master_key::describe_store(settings.database_url.as_deref(), &settings.data_dir);
    let store = hubgate_store::open(settings.database_url.as_deref(), &settings.data_dir, &pg)
        .await
        .with_context(|| format!("cannot open the store ({where_})"))?;
    // A store that already has signing keys was sealed with some master key:
    // never mint a new one for it.
    let has_data = !store.signing_keys().await?.is_empty();
    let master = master_key::load_or_create(&settings.data_dir, has_data)?;

    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let bound = listener.local_addr()?;
    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"));
    let mut config = ServerConfig::new(&public_url);
    if let Some(issuer) = &settings.issuer {
        config.issuer = issuer.trim_end_matches('/').to_owned();
    }
    config.access_token_ttl = Duration::seconds(settings.access_token_ttl.into());
    config.refresh_token_ttl = Duration::seconds(settings.refresh_token_ttl.into());

    let options = BootstrapOptions {
        admin_email: settings.admin_email.clone(),
        demo_hubs: settings.demo,
    };
    let first_start = bootstrap(store.as_ref(), &options, hubgate_core::now()).await?;
    let state = AppState::new(store, Arc::new(master), config.clone()).await?;
    let shutdown = shutdown_signal()?;
    print_banner(&config, &settings, bound, first_start.as_ref());
    tracing::info!(listen = %bound, public_url = %config.public_url, "hubgate serving");
    hubgate_server::serve(listener, state, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

fn print_banner(
    config: &ServerConfig,
    settings: &Settings,
    bound: std::net::SocketAddr,
    first_start: Option<&Bootstrapped>,
) {
    let data_dir = settings.data_dir.display();
    let store_flag = match &settings.database_url {
        Some(_) => "--database-url \"$HUBGATE_DATABASE_URL\"".to_owned(),
        None => format!("--data-dir {data_dir}"),
    };
    println!(
        "hubgate {} is serving at {}",
        env!("CARGO_PKG_VERSION"),
        config.public_url
    );
    println!("  listening       {bound}");
    println!("  console         {}", config.url("/console"));
    println!("  API docs        {}", config.url("/doc/swagger"));
    println!(
        "  token endpoint  {}",
        config.url("/identity/oauth/v2/token")
    );
    println!("  resource API    {}", config.url("/api/v1"));
    println!(
        "  discovery       {}",
        config.url("/.well-known/oauth-authorization-server")
    );
    println!(
        "  store           {}",
        crate::master_key::describe_store(settings.database_url.as_deref(), &settings.data_dir)
    );
    match first_start {
        Some(first) => {
            println!();
            println!(
                "First start: created the owner and the account \"{}\" ({}).",
                first.account.name, first.account.id
            );
            println!("  log in as  {}", first.user.email);
            println!(
                "  password   {}   (shown once; keep it safe)",
                first.password
            );
            if first.hubs > 0 {
                println!(
                    "  demo fleet {} hubs and switches (--no-demo leaves them out)",
                    first.hubs
                );
            }
            println!();
            println!(
                "Create an integration, then trade its client_id and client_secret for tokens:"
            );
            println!(
                "  hubgate admin {store_flag} integration create --account {} --name \"My integration\" \\\n    \
                 --redirect-uri https://example.com/callback --scope \"sub email hubs:read hubs:write accounts:read\"",
                first.account.id
            );
        }
        None => {
            println!("  log in with the owner created on first start (hubgate admin manages users)")
        }
    }
    println!("Stop with Ctrl-C; in-flight requests finish first.");
}

/// Registers the signal handlers now (before the banner says we are up, so a
/// prompt SIGTERM is handled, not fatal) and resolves on SIGINT or SIGTERM.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot handle SIGTERM")?;
    #[cfg(unix)]
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot handle SIGINT")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: draining in-flight requests");
    })
}
