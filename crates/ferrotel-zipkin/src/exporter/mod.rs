//! `zipkin` exporter: OTLP spans as Zipkin v2 JSON or protobuf, POSTed to a Zipkin server
//! behind the shared sending queue and retry (5xx, 429 and transport errors retried, other
//! statuses permanent).

pub mod config;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use ferrotel_otlp::client::{ClientAuth, ClientTls, PostClient, PostSettings};
use ferrotel_otlp::compression::{Encoding, compress_into_level};
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::exporter_helper::{QueuedExporter, SendFailure, Sender};
use ferrotel_runtime::*;
use http::HeaderValue;
use http::header::{self, HeaderName};

pub use self::config::{ZipkinExporterConfig, ZipkinFormat};
use crate::{from_otlp, json, proto};

/// Factory of the `zipkin` exporter.
pub struct ZipkinExporterFactory;

impl ExporterFactory for ZipkinExporterFactory {
    type Config = ZipkinExporterConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("zipkin", "Sends spans to Zipkin (v2 JSON or protobuf)")
            .signal(Signal::Traces, Stability::Beta)
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
        let sender = Arc::new(ZipkinSender::new(&c, client));
        Ok(Arc::new(QueuedExporter::new(
            &ctx,
            sender,
            &c.sending_queue,
            c.retry_on_failure,
            c.timeout,
        )?))
    }
}

pub struct ZipkinSender {
    format: ZipkinFormat,
    default_service_name: String,
    encoding: Encoding,
    /// `compression_params::level`; `None`: the default.
    level: Option<i32>,
    headers: Vec<(HeaderName, HeaderValue)>,
    client: PostClient,
}

impl ZipkinSender {
    pub fn new(c: &ZipkinExporterConfig, client: PostClient) -> Self {
        let encoding = match c.compression.as_str() {
            "" | "none" => Encoding::Identity,
            other => Encoding::parse(other).unwrap_or(Encoding::Identity),
        };
        let mut headers = vec![(
            header::CONTENT_TYPE,
            HeaderValue::from_static(match c.format {
                ZipkinFormat::Json => "application/json",
                ZipkinFormat::Proto => "application/x-protobuf",
            }),
        )];
        if encoding != Encoding::Identity
            && let Ok(v) = HeaderValue::from_str(&c.compression)
        {
            headers.push((header::CONTENT_ENCODING, v));
        }
        ZipkinSender {
            format: c.format,
            default_service_name: c.default_service_name.clone(),
            encoding,
            level: c.compression_params.level(),
            headers,
            client,
        }
    }

    /// The request body of one payload (`None` when it holds no span Zipkin can carry).
    pub fn body(&self, payload: Payload) -> Result<Option<Bytes>, SendFailure> {
        let permanent = |message: String| SendFailure {
            retryable: false,
            retry_after: None,
            message,
        };
        let request = payload
            .into_request()
            .map_err(|e| permanent(format!("undecodable traces: {e}")))?;
        let Request::Traces(t) = request else {
            return Ok(None);
        };
        let spans = from_otlp::from_otlp(&t, &self.default_service_name);
        if spans.is_empty() {
            return Ok(None);
        }
        let raw = match self.format {
            ZipkinFormat::Json => json::encode(&spans),
            ZipkinFormat::Proto => proto::encode(&spans),
        };
        if self.encoding == Encoding::Identity {
            return Ok(Some(raw.into()));
        }
        let mut out = Vec::new();
        compress_into_level(self.encoding, self.level, &raw, &mut out)
            .map_err(|e| permanent(format!("compressing: {e}")))?;
        Ok(Some(out.into()))
    }
}

impl Sender for ZipkinSender {
    fn send(&self, payload: Payload, _ctx: Context) -> BoxFuture<'_, Result<(), SendFailure>> {
        Box::pin(async move {
            let Some(body) = self.body(payload)? else {
                return Ok(());
            };
            self.client
                .post(body, &self.headers)
                .await
                .map_err(|e| SendFailure {
                    retryable: e.retryable,
                    retry_after: e.retry_after,
                    message: format!("{}: {}", e.status, e.message),
                })
        })
    }
}
