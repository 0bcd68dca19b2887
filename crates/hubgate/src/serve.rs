//! `hubgate serve`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use hubgate_server::bootstrap::{BootstrapOptions, Bootstrapped, bootstrap};
use hubgate_server::devices::DeviceListener;
use hubgate_server::{AppState, ServerConfig};
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
    let traces = match init_logging(settings.log_format, settings.otlp_endpoint.as_deref()) {
        Ok(traces) => traces,
        Err(error) => {
            eprintln!("hubgate: {error:#}");
            return ExitCode::from(2);
        }
    };
    let served = serve(settings).await;
    if let Some(provider) = traces {
        let _ = tokio::task::spawn_blocking(move || crate::telemetry::shutdown(provider)).await;
    }
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("hubgate: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The log on stderr and, with an OTLP endpoint, traces; returns the trace
/// provider to flush at exit.
fn init_logging(
    format: LogFormat,
    otlp_endpoint: Option<&str>,
) -> anyhow::Result<Option<opentelemetry_sdk::trace::SdkTracerProvider>> {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter =
        EnvFilter::try_from_env("HUBGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    match otlp_endpoint {
        // The log's filter is global, as it was before traces existed: what
        // it leaves out costs nothing.
        None => {
            let registry = tracing_subscriber::registry().with(filter);
            registry.with(log_layer(format)).init();
            Ok(None)
        }
        // Traces see spans the log leaves out: each layer filters for itself.
        Some(endpoint) => {
            let (traces, provider) = crate::telemetry::layer(endpoint)?;
            tracing_subscriber::registry()
                .with(log_layer(format).with_filter(filter))
                .with(traces)
                .init();
            Ok(Some(provider))
        }
    }
}

/// The log's formatting, on stderr.
fn log_layer<S>(format: LogFormat) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    use tracing_subscriber::Layer as _;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        // A log write that fails (a full disk under a redirected stderr)
        // must not panic the thread that logged: drop the line instead.
        .log_internal_errors(false);
    match format {
        // JSON escapes control characters itself.
        LogFormat::Json => log.json().boxed(),
        LogFormat::Text => log.fmt_fields(SafeFields).boxed(),
    }
}

/// Text-log fields with control characters escaped and each value cut at
/// 1,000 characters, whatever a call site passes: one event is one line.
struct SafeFields;

impl<'writer> tracing_subscriber::fmt::FormatFields<'writer> for SafeFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        writer: tracing_subscriber::fmt::format::Writer<'writer>,
        fields: R,
    ) -> std::fmt::Result {
        let mut visitor = SafeVisitor {
            writer,
            result: Ok(()),
            first: true,
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct SafeVisitor<'writer> {
    writer: tracing_subscriber::fmt::format::Writer<'writer>,
    result: std::fmt::Result,
    first: bool,
}

impl tracing::field::Visit for SafeVisitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        let text = format!("{value:?}");
        self.result = (|| {
            if !self.first {
                self.writer.write_char(' ')?;
            }
            self.first = false;
            if field.name() != "message" {
                write!(self.writer, "{}=", field.name())?;
            }
            hubgate_server::logsafe::write_escaped(&mut self.writer, &text, 1000)
        })();
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    #[cfg(unix)]
    let created =
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(&settings.data_dir);
    #[cfg(not(unix))]
    let created = std::fs::create_dir_all(&settings.data_dir);
    created.with_context(|| {
        format!(
            "cannot create the data directory {}",
            settings.data_dir.display()
        )
    })?;
    let database_url = settings.database.url.as_deref();
    let where_ = crate::master_key::describe_store(database_url, &settings.data_dir);
    let store = hubgate_store::open(database_url, &settings.data_dir, &settings.database.pool())
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
    let config = settings.server_config(bound);
    let tls = match settings.tls_files() {
        Some(files) => Some(serve_tls(files)?),
        None => None,
    };

    let options = BootstrapOptions {
        admin_email: settings.admin_email.clone(),
        demo_hubs: settings.demo,
    };
    let first_start = bootstrap(store.as_ref(), &master, &options, hubgate_core::now()).await?;
    let state = AppState::new(store, Arc::new(master), config.clone()).await?;
    let devices = if settings.mqtt {
        let addr = tokio::net::lookup_host(&settings.mqtt_listen)
            .await
            .ok()
            .and_then(|mut addrs| addrs.next())
            .with_context(|| format!("--mqtt-listen {} is not an address", settings.mqtt_listen))?;
        let tls_files = settings.tls_files();
        Some(DeviceListener::start(state.clone(), addr, tls_files.as_ref()).await?)
    } else {
        None
    };
    let shutdown = shutdown_signal()?;
    print_banner(
        &config,
        &settings,
        bound,
        devices.as_ref().map(DeviceListener::local_addr),
        first_start.as_ref(),
    );
    tracing::info!(listen = %bound, public_url = %config.public_url, "hubgate serving");
    hubgate_server::serve_with_tls(listener, tls, state, shutdown).await?;
    if let Some(devices) = devices {
        devices.stop().await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// How often the certificate files are looked at: a renewed certificate
/// serves new connections within this (SIGHUP: at once).
const TLS_RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3);

/// Loads the certificate (a bad one stops the start) and keeps it fresh:
/// the files are read again every few seconds and on SIGHUP.
fn serve_tls(files: hubgate_server::tls::TlsFiles) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let cert = hubgate_server::tls::ReloadingCert::load(files)
        .context("cannot load the TLS certificate")?;
    let acceptor = cert.acceptor()?;
    let reload_now = Arc::new(tokio::sync::Notify::new());
    #[cfg(unix)]
    {
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("cannot handle SIGHUP")?;
        let reload_now = reload_now.clone();
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading the TLS certificate");
                reload_now.notify_one();
            }
        });
    }
    tokio::spawn(cert.watch(TLS_RELOAD_INTERVAL, reload_now));
    Ok(acceptor)
}

/// `println!` that never panics: a banner line lost to a full disk is no
/// reason to stop.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

fn print_banner(
    config: &ServerConfig,
    settings: &Settings,
    bound: std::net::SocketAddr,
    mqtt: Option<std::net::SocketAddr>,
    first_start: Option<&Bootstrapped>,
) {
    let data_dir = settings.data_dir.display();
    let store_flag = match &settings.database.url {
        Some(_) => "--database-url \"$HUBGATE_DATABASE_URL\"".to_owned(),
        None => format!("--data-dir {data_dir}"),
    };
    say!(
        "hubgate {} is serving at {}",
        env!("CARGO_PKG_VERSION"),
        config.public_url
    );
    say!("  listening       {bound}");
    say!("  console         {}", config.url("/console"));
    say!("  API docs        {}", config.url("/doc/swagger"));
    say!(
        "  token endpoint  {}",
        config.url("/identity/oauth/v2/token")
    );
    say!("  resource API    {}", config.url("/api/v1"));
    match mqtt {
        Some(addr) if settings.tls_files().is_some() => say!("  devices (MQTT)  mqtts://{addr}"),
        Some(addr) => say!("  devices (MQTT)  mqtt://{addr}"),
        None => say!("  devices (MQTT)  off (--no-mqtt)"),
    }
    say!(
        "  discovery       {}",
        config.url("/.well-known/oauth-authorization-server")
    );
    say!(
        "  store           {}",
        crate::master_key::describe_store(settings.database.url.as_deref(), &settings.data_dir)
    );
    match first_start {
        Some(first) => {
            say!();
            say!(
                "First start: created the owner and the account \"{}\" ({}).",
                first.account.name,
                first.account.id
            );
            say!("  log in as  {}", first.user.email);
            say!(
                "  password   {}   (shown once; keep it safe)",
                first.password
            );
            if first.hubs > 0 {
                say!(
                    "  demo fleet {} hubs and switches (--no-demo leaves them out)",
                    first.hubs
                );
            }
            say!();
            say!("Create an integration, then trade its client_id and client_secret for tokens:");
            say!(
                "  hubgate admin {store_flag} integration create --account {} --name \"My integration\" \\\n    \
                 --redirect-uri https://example.com/callback --scope \"sub email hubs:read hubs:write accounts:read\"",
                first.account.id
            );
            if let Some(addr) = mqtt {
                say!("Make the demo fleet live, as virtual hubs over MQTT:");
                say!("  hubgate simulate {store_flag} --mqtt {addr}");
            }
        }
        None => {
            say!("  log in with the owner created on first start (hubgate admin manages users)")
        }
    }
    say!("Stop with Ctrl-C; in-flight requests finish first.");
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
