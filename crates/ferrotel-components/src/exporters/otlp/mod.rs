//! `otlp_grpc` and `otlp_http` exporters (the Go Collector's current names; `otlp` and
//! `otlphttp` are accepted as aliases): the `ferrotel-otlp` client behind the shared sending
//! queue and retry of `exporter_helper`.

pub mod config;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use ferrotel_otlp::client::{
    ClientAuth, ClientSettings, ClientTls, Compression, OtlpClient, Protocol,
};
use ferrotel_pdata::{Payload, Signal};
use ferrotel_runtime::exporter_helper::{
    QueueSettings, QueuedExporter, RetrySettings, SendFailure, Sender,
};
use ferrotel_runtime::*;

pub use config::{OtlpGrpcConfig, OtlpHttpConfig};

fn compression(s: &str) -> Compression {
    match s {
        "gzip" => Compression::Gzip,
        "zstd" => Compression::Zstd,
        "snappy" => Compression::Snappy,
        "deflate" | "zlib" => Compression::Deflate,
        "lz4" => Compression::Lz4,
        _ => Compression::None,
    }
}

fn tls(t: &config::ClientTlsConfig) -> ClientTls {
    ClientTls {
        insecure: t.insecure,
        insecure_skip_verify: t.insecure_skip_verify,
        ca_file: t.ca_file.clone().map(PathBuf::from),
        cert_file: t.cert_file.clone().map(PathBuf::from),
        key_file: t.key_file.clone().map(PathBuf::from),
        server_name_override: t.server_name_override.clone(),
        min_version: t.min_version.clone(),
    }
}

fn auth(
    ctx: &CreateContext,
    a: &Option<config::ClientAuthConfig>,
) -> Result<Option<Arc<dyn ClientAuth>>, ComponentError> {
    a.as_ref()
        .map(|a| {
            ctx.extension_capability::<Arc<dyn ClientAuth>>(
                &a.authenticator,
                "client authentication",
            )
        })
        .transpose()
}

/// Factory of `otlp_grpc`.
pub struct OtlpGrpcExporterFactory;

impl ExporterFactory for OtlpGrpcExporterFactory {
    type Config = OtlpGrpcConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("otlp_grpc", "Sends OTLP over gRPC")
            .aliases(&["otlp"])
            .signal(Signal::Traces, Stability::Stable)
            .signal(Signal::Metrics, Stability::Stable)
            .signal(Signal::Logs, Stability::Stable)
            .signal(Signal::Profiles, Stability::Development)
    }

    fn create(
        &self,
        ctx: CreateContext,
        c: Self::Config,
        _signals: &[Signal],
    ) -> Result<Arc<dyn Exporter>, ComponentError> {
        let sender = grpc_sender(&ctx, &c)?;
        Ok(Arc::new(QueuedExporter::new(
            &ctx,
            sender,
            &c.sending_queue,
            c.retry_on_failure.clone(),
            c.timeout,
        )?))
    }
}

/// The OTLP/gRPC client of an `otlp_grpc` config, without queue and retry: the
/// `loadbalancing` exporter wraps one per backend in its own queue.
pub(crate) fn grpc_sender(
    ctx: &CreateContext,
    c: &OtlpGrpcConfig,
) -> Result<Arc<dyn Sender>, ComponentError> {
    let settings = ClientSettings {
        protocol: Protocol::Grpc,
        endpoint: c.endpoint.clone(),
        signal_endpoints: HashMap::new(),
        compression: compression(&c.compression),
        compression_level: None,
        headers: c.headers.clone().into_iter().collect(),
        timeout: c.timeout,
        tls: tls(&c.tls),
        auth: auth(ctx, &c.auth)?,
    };
    sender(ctx, settings)
}

/// Factory of `otlp_http`.
pub struct OtlpHttpExporterFactory;

impl ExporterFactory for OtlpHttpExporterFactory {
    type Config = OtlpHttpConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("otlp_http", "Sends OTLP over HTTP (protobuf or JSON)")
            .aliases(&["otlphttp"])
            .signal(Signal::Traces, Stability::Stable)
            .signal(Signal::Metrics, Stability::Stable)
            .signal(Signal::Logs, Stability::Stable)
            .signal(Signal::Profiles, Stability::Development)
    }

    fn create(
        &self,
        ctx: CreateContext,
        c: Self::Config,
        _signals: &[Signal],
    ) -> Result<Arc<dyn Exporter>, ComponentError> {
        let mut signal_endpoints = HashMap::new();
        for (s, url) in [
            (Signal::Traces, &c.traces_endpoint),
            (Signal::Metrics, &c.metrics_endpoint),
            (Signal::Logs, &c.logs_endpoint),
            (Signal::Profiles, &c.profiles_endpoint),
        ] {
            if !url.is_empty() {
                signal_endpoints.insert(s, url.clone());
            }
        }
        let settings = ClientSettings {
            protocol: match c.encoding {
                config::Encoding::Proto => Protocol::HttpProtobuf,
                config::Encoding::Json => Protocol::HttpJson,
            },
            endpoint: c.endpoint.clone(),
            signal_endpoints,
            compression: compression(&c.compression),
            compression_level: c.compression_params.level(),
            headers: c.headers.clone().into_iter().collect(),
            timeout: c.timeout,
            tls: tls(&c.tls),
            auth: auth(&ctx, &c.auth)?,
        };
        build(&ctx, settings, &c.sending_queue, c.retry_on_failure)
    }
}

/// The client behind the shared queue and retry.
fn build(
    ctx: &CreateContext,
    settings: ClientSettings,
    queue: &QueueSettings,
    retry: RetrySettings,
) -> Result<Arc<dyn Exporter>, ComponentError> {
    let timeout = settings.timeout;
    let sender = sender(ctx, settings)?;
    Ok(Arc::new(QueuedExporter::new(
        ctx, sender, queue, retry, timeout,
    )?))
}

fn sender(
    ctx: &CreateContext,
    settings: ClientSettings,
) -> Result<Arc<dyn Sender>, ComponentError> {
    let client = OtlpClient::new(settings).map_err(|e| ComponentError::new(e.to_string()))?;
    let id = ctx.id.to_string();
    let rejected = ctx.telemetry.counter(
        "ferrotel_exporter_partial_success_rejected_items",
        "Items the destination rejected in a partial-success answer.",
        &[("exporter", &id)],
    );
    Ok(Arc::new(OtlpSender {
        client,
        id,
        rejected,
    }))
}

struct OtlpSender {
    client: OtlpClient,
    id: String,
    /// Partial-success rejections are not retried (the spec says so) but are counted.
    rejected: ferrotel_runtime::telemetry::Counter,
}

impl Sender for OtlpSender {
    fn send(&self, payload: Payload, _ctx: Context) -> BoxFuture<'_, Result<(), SendFailure>> {
        Box::pin(async move {
            match self.client.export(&payload).await {
                Ok(partial) => {
                    if partial.rejected > 0 {
                        self.rejected.add(partial.rejected as u64);
                    }
                    if partial.rejected > 0 || !partial.message.is_empty() {
                        tracing::warn!(exporter = %self.id, rejected = partial.rejected, message = %partial.message, "partial success: the server rejected some items");
                    }
                    Ok(())
                }
                Err(e) => Err(SendFailure {
                    retryable: e.retryable,
                    retry_after: e.retry_after,
                    message: format!("{}: {}", e.status, e.message),
                }),
            }
        })
    }
}
