//! Traces over OTLP/HTTP (protobuf), when `--otlp-endpoint` is given: the
//! request span and the spans of its inner steps (the store's part, the
//! signing), each carrying the request id. Off by default, and then no
//! layer exists: the inner steps' spans are debug-level and disabled at
//! their call sites.

use std::time::Duration;

use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterFn, Filtered};
use tracing_subscriber::registry::LookupSpan;

/// `http://collector:4318` gets the traces path appended; a URL that
/// already names a path is used as it is.
pub fn traces_url(endpoint: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(endpoint).context("--otlp-endpoint is not a URL")?;
    Ok(if url.path() == "/" {
        format!("{}/v1/traces", endpoint.trim_end_matches('/'))
    } else {
        endpoint.to_owned()
    })
}

/// The exporter's HTTP client: the blocking reqwest already in the tree,
/// called from the batch processor's own thread (not an async worker).
#[derive(Debug)]
struct BlockingClient(reqwest::blocking::Client);

#[async_trait::async_trait]
impl HttpClient for BlockingClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let response = self.0.execute(request.try_into()?)?;
        let mut answer = Response::builder().status(response.status());
        if let Some(headers) = answer.headers_mut() {
            *headers = response.headers().clone();
        }
        // The collector's answer is small; its body is not needed beyond errors.
        Ok(answer.body(response.bytes()?)?)
    }
}

/// Spans of hubgate's own crates, at any level up to debug; events stay in
/// the log.
fn hubgate_spans(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.is_span()
        && metadata.target().starts_with("hubgate")
        && *metadata.level() <= tracing::Level::DEBUG
}

type SpanFilter = FilterFn<fn(&tracing::Metadata<'_>) -> bool>;

/// The layer that turns hubgate's spans into OpenTelemetry spans.
pub type TraceLayer<S> = Filtered<
    tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>,
    SpanFilter,
    S,
>;

/// The tracing layer exporting to `endpoint`, and the provider to shut down
/// (flushing what is queued) at exit.
pub fn layer<S>(endpoint: &str) -> anyhow::Result<(TraceLayer<S>, SdkTracerProvider)>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let url = traces_url(endpoint)?;
    let timeout = Duration::from_secs(10);
    // reqwest's blocking client starts a runtime of its own: build it off
    // any async worker.
    let client = std::thread::spawn(move || {
        reqwest::blocking::Client::builder()
            .timeout(timeout)
            .build()
    })
    .join()
    .map_err(|_| anyhow::anyhow!("building the OTLP HTTP client panicked"))?
    .context("cannot build the OTLP HTTP client")?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(BlockingClient(client))
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(url)
        .with_timeout(timeout)
        .build()
        .context("cannot build the OTLP exporter")?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("hubgate")
                .build(),
        )
        .build();
    let tracer = provider.tracer("hubgate");
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(
            FilterFn::new(hubgate_spans as fn(&tracing::Metadata<'_>) -> bool)
                // Decided once per call site; nothing below debug is ever asked.
                .with_max_level_hint(tracing::level_filters::LevelFilter::DEBUG),
        );
    Ok((layer, provider))
}

/// Exports what is still queued; blocks, so run it off the async workers.
pub fn shutdown(provider: SdkTracerProvider) {
    if let Err(error) = provider.shutdown() {
        tracing::warn!(%error, "cannot flush the last traces");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bare_endpoint_gets_the_traces_path() {
        assert_eq!(
            super::traces_url("http://collector:4318").unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            super::traces_url("http://collector:4318/").unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            super::traces_url("https://otel.example/custom/traces").unwrap(),
            "https://otel.example/custom/traces"
        );
        assert!(super::traces_url("not a url").is_err());
    }
}
