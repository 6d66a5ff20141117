//! `prometheusremotewrite` exporter: OTLP metrics as snappy-compressed remote write 1.0
//! requests, behind the shared sending queue and retry (5xx and 429 retried, other statuses
//! permanent).

pub mod config;
pub mod convert;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use ferrotel_otlp::client::{ClientAuth, ClientTls, PostClient, PostSettings};
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::exporter_helper::{QueuedExporter, SendFailure, Sender};
use ferrotel_runtime::*;
use http::HeaderValue;
use http::header::{self, HeaderName};
use prost::Message;

pub use self::config::RemoteWriteExporterConfig;
use self::convert::Settings;
use crate::naming::{MetricNamer, TranslationStrategy};
use crate::series::LabelOptions;

/// Factory of the `prometheusremotewrite` exporter.
pub struct RemoteWriteExporterFactory;

impl ExporterFactory for RemoteWriteExporterFactory {
    type Config = RemoteWriteExporterConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "prometheusremotewrite",
            "Sends metrics with Prometheus remote write 1.0 (snappy protobuf)",
        )
        .signal(Signal::Metrics, Stability::Beta)
    }

    fn create(
        &self,
        ctx: CreateContext,
        c: Self::Config,
        _signals: &[Signal],
    ) -> Result<Arc<dyn Exporter>, ComponentError> {
        let auth = c
            .auth
            .as_ref()
            .map(|a| {
                ctx.extension_capability::<Arc<dyn ClientAuth>>(
                    &a.authenticator,
                    "client authentication",
                )
            })
            .transpose()?;
        let id = ctx.id.to_string();
        let client = PostClient::new(PostSettings {
            url: c.endpoint.clone(),
            headers: c.headers.clone().into_iter().collect(),
            timeout: c.timeout,
            tls: ClientTls {
                insecure: c.tls.insecure,
                insecure_skip_verify: c.tls.insecure_skip_verify,
                ca_file: c.tls.ca_file.clone().map(PathBuf::from),
                cert_file: c.tls.cert_file.clone().map(PathBuf::from),
                key_file: c.tls.key_file.clone().map(PathBuf::from),
                server_name_override: c.tls.server_name_override.clone(),
                min_version: c.tls.min_version.clone(),
            },
            auth,
        })
        .map_err(|e| ComponentError::new(format!("exporter {id}: {e}")))?;
        let sender = Arc::new(RemoteWriteSender::new(&id, &c, client));
        Ok(Arc::new(QueuedExporter::new(
            &ctx,
            sender,
            &c.queue(),
            c.retry_on_failure,
            c.timeout,
        )?))
    }
}

pub struct RemoteWriteSender {
    id: String,
    settings: Settings,
    max_batch_size_bytes: usize,
    client: PostClient,
}

/// The headers the remote write 1.0 spec requires.
fn protocol_headers() -> [(HeaderName, HeaderValue); 3] {
    [
        (header::CONTENT_ENCODING, HeaderValue::from_static("snappy")),
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        ),
        (
            HeaderName::from_static("x-prometheus-remote-write-version"),
            HeaderValue::from_static("0.1.0"),
        ),
    ]
}

impl RemoteWriteSender {
    pub fn new(id: &str, c: &RemoteWriteExporterConfig, client: PostClient) -> Self {
        let strategy = TranslationStrategy::resolve(c.translation_strategy, c.add_metric_suffixes);
        RemoteWriteSender {
            id: id.to_owned(),
            settings: Settings {
                namer: MetricNamer::new(&c.namespace, strategy),
                labels: LabelOptions {
                    strategy,
                    resource_to_telemetry: c.resource_to_telemetry_conversion.enabled,
                    scope_info: false,
                },
                external_labels: c
                    .external_labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                target_info: c.target_info.enabled,
            },
            max_batch_size_bytes: c.max_batch_size_bytes,
            client,
        }
    }

    /// The compressed bodies of one payload.
    pub fn bodies(&self, payload: Payload) -> Result<Vec<Bytes>, SendFailure> {
        let request = payload.into_request().map_err(|e| SendFailure {
            retryable: false,
            retry_after: None,
            message: format!("undecodable metrics: {e}"),
        })?;
        let Request::Metrics(m) = request else {
            return Ok(Vec::new());
        };
        let converted = convert::convert(&m, &self.settings);
        if converted.dropped > 0 {
            tracing::warn!(exporter = %self.id, dropped = converted.dropped, "{}", converted.reasons.join("; "));
        }
        let mut out = Vec::new();
        for batch in convert::batches(converted.series, self.max_batch_size_bytes) {
            let raw = batch.encode_to_vec();
            let compressed =
                snap::raw::Encoder::new()
                    .compress_vec(&raw)
                    .map_err(|e| SendFailure {
                        retryable: false,
                        retry_after: None,
                        message: format!("snappy: {e}"),
                    })?;
            out.push(Bytes::from(compressed));
        }
        Ok(out)
    }
}

impl Sender for RemoteWriteSender {
    fn send(&self, payload: Payload, _ctx: Context) -> BoxFuture<'_, Result<(), SendFailure>> {
        Box::pin(async move {
            let headers = protocol_headers();
            for body in self.bodies(payload)? {
                self.client
                    .post(body, &headers)
                    .await
                    .map_err(|e| SendFailure {
                        retryable: e.retryable,
                        retry_after: e.retry_after,
                        message: format!("{}: {}", e.status, e.message),
                    })?;
            }
            Ok(())
        })
    }
}
