//! `prometheusremotewrite` receiver: `POST /api/v1/write` with Remote-Write 1.0 (what
//! Prometheus 2.x sends) or 2.0, told apart by `Content-Type`, converted to OTLP metrics.
//! A malformed, truncated or oversized body is answered 400 (or 413) with the reason, and the
//! receiver serves on; a pipeline that refuses for now is a 503, which senders retry.

pub mod config;
pub mod decode;
#[cfg(test)]
mod tests;
pub mod to_otlp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::config::parse_endpoint;
use ferrotel_runtime::telemetry::obs::ReceiverObs;
use ferrotel_runtime::*;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Limited};

pub use self::config::RemoteWriteReceiverConfig;
use self::decode::{DecodeError, Meta, Version};
use ferrotel_otlp::server::{
    PlainHttpServer as Server, PlainRequest, PlainResponse as Response, text_response as text,
};

/// Factory of the `prometheusremotewrite` receiver.
pub struct RemoteWriteReceiverFactory;

impl ReceiverFactory for RemoteWriteReceiverFactory {
    type Config = RemoteWriteReceiverConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "prometheusremotewrite",
            "Receives Prometheus remote write 1.0 and 2.0 on /api/v1/write",
        )
        .signal(Signal::Metrics, Stability::Alpha)
    }

    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        outputs: SignalOutputs,
    ) -> Result<Arc<dyn Receiver>, ComponentError> {
        let next = single_signal_output(outputs, Signal::Metrics, "prometheusremotewrite")?;
        Ok(Arc::new(RemoteWriteReceiver::new(&ctx, config, next)))
    }
}

struct Inner {
    id: String,
    config: RemoteWriteReceiverConfig,
    next: ConsumerRef,
    obs: ReceiverObs,
    /// 1.0 metadata by family, as senders sent it (bounded).
    metadata: Mutex<HashMap<String, Meta>>,
}

pub struct RemoteWriteReceiver {
    inner: Arc<Inner>,
    server: Server,
    address: Mutex<Option<SocketAddr>>,
}

impl RemoteWriteReceiver {
    pub fn new(ctx: &CreateContext, config: RemoteWriteReceiverConfig, next: ConsumerRef) -> Self {
        let id = ctx.id.to_string();
        RemoteWriteReceiver {
            inner: Arc::new(Inner {
                obs: ReceiverObs::new(&ctx.telemetry, &id, "http"),
                id,
                config,
                next,
                metadata: Mutex::new(HashMap::new()),
            }),
            server: Server::default(),
            address: Mutex::new(None),
        }
    }

    /// Where the receiver listens once started.
    pub fn address(&self) -> Option<SocketAddr> {
        *self.address.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn bad(status: StatusCode, id: &str, msg: String) -> Response {
    tracing::debug!(receiver = %id, "refused a remote write request: {msg}");
    text(status, format!("{msg}\n"))
}

impl Inner {
    async fn handle(self: Arc<Self>, req: PlainRequest) -> Response {
        if req.uri().path() != "/api/v1/write" {
            return text(
                StatusCode::NOT_FOUND,
                "remote write is served on /api/v1/write\n",
            );
        }
        if req.method() != Method::POST {
            return text(StatusCode::METHOD_NOT_ALLOWED, "POST /api/v1/write\n");
        }
        let header_str = |n: header::HeaderName| {
            req.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let Some(version) = Version::from_content_type(header_str(header::CONTENT_TYPE).as_deref())
        else {
            return bad(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &self.id,
                format!(
                    "unsupported Content-Type {:?}: expected application/x-protobuf with proto=prometheus.WriteRequest or io.prometheus.write.v2.Request",
                    header_str(header::CONTENT_TYPE).unwrap_or_default()
                ),
            );
        };
        match header_str(header::CONTENT_ENCODING).as_deref() {
            None | Some("snappy") => {}
            Some(other) => {
                return bad(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    &self.id,
                    format!(
                        "unsupported Content-Encoding {other:?}: remote write bodies are snappy"
                    ),
                );
            }
        }
        if let Err(e) = self.next.admit(Signal::Metrics) {
            return text(StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n"));
        }
        let limit = self.config.max_request_body_size;
        let body = match Limited::new(req.into_body(), limit).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                let too_large = e
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some();
                return if too_large {
                    bad(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        &self.id,
                        format!("the body is over max_request_body_size ({limit} bytes)"),
                    )
                } else {
                    bad(
                        StatusCode::BAD_REQUEST,
                        &self.id,
                        format!("reading the body: {e}"),
                    )
                };
            }
        };
        let max = self.config.max_decompressed_body_size;
        let this = self.clone();
        // Decoding and converting a few MB is CPU work: off the async workers.
        let converted = tokio::task::spawn_blocking(move || {
            let decoded = decode::decode_body(&body, version, max)?;
            let mut cache = this.metadata.lock().unwrap_or_else(|e| e.into_inner());
            for (k, v) in decoded.metadata {
                if cache.len() < this.config.max_metadata_families || cache.contains_key(&k) {
                    cache.insert(k, v);
                }
            }
            let samples: usize = decoded.series.iter().map(|s| s.samples.len()).sum();
            let histograms: usize = decoded.series.iter().map(|s| s.histograms.len()).sum();
            let exemplars: usize = decoded.series.iter().map(|s| s.exemplars.len()).sum();
            Ok::<_, DecodeError>((
                to_otlp::to_otlp(&decoded.series, &cache),
                samples,
                histograms,
                exemplars,
            ))
        })
        .await;
        let (request, samples, histograms, exemplars) = match converted {
            Ok(Ok(c)) => c,
            Ok(Err(e @ DecodeError::TooLarge(..))) => {
                return bad(StatusCode::PAYLOAD_TOO_LARGE, &self.id, e.to_string());
            }
            Ok(Err(e)) => return bad(StatusCode::BAD_REQUEST, &self.id, e.to_string()),
            Err(e) => {
                return bad(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &self.id,
                    format!("decoding failed: {e}"),
                );
            }
        };
        let payload = Payload::from_request(Request::Metrics(request));
        let items = payload.items();
        if items > 0 {
            match self.next.consume(payload, Context::default()).await {
                Ok(()) => self.obs.accepted(Signal::Metrics, items),
                Err(e) => {
                    self.obs.refused(Signal::Metrics, items);
                    let status = if e.is_retryable() {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::BAD_REQUEST
                    };
                    let mut r = text(status, format!("{e}\n"));
                    if let Some(after) = e.retry_after()
                        && let Ok(v) = HeaderValue::from_str(&after.as_secs().max(1).to_string())
                    {
                        r.headers_mut().insert(header::RETRY_AFTER, v);
                    }
                    return r;
                }
            }
        }
        let mut r = http::Response::new(Default::default());
        *r.status_mut() = StatusCode::NO_CONTENT;
        if version == Version::V2 {
            // 2.0 senders read what was written from these headers.
            let h = r.headers_mut();
            for (name, n) in [
                ("x-prometheus-remote-write-samples-written", samples),
                ("x-prometheus-remote-write-histograms-written", histograms),
                ("x-prometheus-remote-write-exemplars-written", exemplars),
            ] {
                h.insert(header::HeaderName::from_static(name), HeaderValue::from(n));
            }
        }
        r
    }
}

impl Lifecycle for RemoteWriteReceiver {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let id = &self.inner.id;
            let addr = parse_endpoint(&self.inner.config.endpoint)
                .map_err(|e| ComponentError::new(format!("receiver {id}: {e}")))?;
            let inner = self.inner.clone();
            let handler = move |req| inner.clone().handle(req);
            let tls = (self.inner.config.tls.as_ref())
                .map(|t| t.acceptor())
                .transpose()
                .map_err(|e| ComponentError::new(format!("receiver {id}: {e}")))?;
            let bound = self
                .server
                .start(&format!("receiver {id}"), addr, tls, handler)
                .await
                .map_err(|e| ComponentError::new(format!("receiver {id}: {e}")))?;
            *self.address.lock().unwrap_or_else(|e| e.into_inner()) = Some(bound);
            let scheme = if self.inner.config.tls.is_some() {
                "https"
            } else {
                "http"
            };
            tracing::info!(receiver = %id, "remote write on {scheme}://{bound}/api/v1/write");
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            self.server.stop();
            Ok(())
        })
    }
}

impl Receiver for RemoteWriteReceiver {}

/// Entry point for the fuzz target (`fuzz/fuzz_targets/prometheus_remote_write.rs`), not an API:
/// decoding and converting any body never panics, and what decodes converts.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    for version in [Version::V1, Version::V2] {
        // Raw protobuf (the snappy layer is exercised by the compressed attempt below).
        if let Ok(d) = decode::decode(data, version) {
            let _ = to_otlp::to_otlp(&d.series, &d.metadata);
        }
        if let Ok(d) = decode::decode_body(data, version, 1 << 20) {
            let _ = to_otlp::to_otlp(&d.series, &d.metadata);
        }
    }
}
