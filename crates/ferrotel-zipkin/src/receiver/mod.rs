//! `zipkin` receiver: `POST /api/v2/spans` (JSON, or protobuf when `Content-Type` says
//! `application/x-protobuf`) and `POST /api/v1/spans` (JSON, or Thrift when it says
//! `application/x-thrift`), bodies plain or compressed
//! (gzip, zstd, deflate, … through the OTLP receiver's size-limited decompression), answered
//! 202 as Zipkin does. A malformed body is a 400 naming what was wrong; a pipeline that
//! refuses for now is a 503, which senders retry.

pub mod config;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use ferrotel_otlp::compression::{DecompressError, Encoding, decompress};
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::config::parse_endpoint;
use ferrotel_runtime::telemetry::obs::ReceiverObs;
use ferrotel_runtime::*;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Limited};

pub use self::config::ZipkinReceiverConfig;
use crate::{direct, json, proto, to_otlp, v1};
use ferrotel_otlp::server::{
    PlainHttpServer as Server, PlainRequest, PlainResponse as Response, text_response as text,
};

/// Factory of the `zipkin` receiver.
pub struct ZipkinReceiverFactory;

impl ReceiverFactory for ZipkinReceiverFactory {
    type Config = ZipkinReceiverConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "zipkin",
            "Receives Zipkin spans (v2 JSON and protobuf, v1 JSON and Thrift) on /api/v2/spans and /api/v1/spans",
        )
        .signal(Signal::Traces, Stability::Beta)
    }

    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        outputs: SignalOutputs,
    ) -> Result<Arc<dyn Receiver>, ComponentError> {
        let next = single_signal_output(outputs, Signal::Traces, "zipkin")?;
        Ok(Arc::new(ZipkinReceiver::new(&ctx, config, next)))
    }
}

struct Inner {
    id: String,
    config: ZipkinReceiverConfig,
    next: ConsumerRef,
    obs: ReceiverObs,
}

pub struct ZipkinReceiver {
    inner: Arc<Inner>,
    server: Server,
    address: Mutex<Option<SocketAddr>>,
}

impl ZipkinReceiver {
    pub fn new(ctx: &CreateContext, config: ZipkinReceiverConfig, next: ConsumerRef) -> Self {
        let id = ctx.id.to_string();
        ZipkinReceiver {
            inner: Arc::new(Inner {
                obs: ReceiverObs::new(&ctx.telemetry, &id, "http"),
                id,
                config,
                next,
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

/// The wire format of a request, from its path and `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    V2Json,
    V2Proto,
    V1Json,
    V1Thrift,
}

impl Format {
    pub fn of(path: &str, content_type: Option<&str>) -> Result<Format, String> {
        let media = content_type
            .and_then(|c| c.split(';').next())
            .map(str::trim)
            .unwrap_or("");
        let proto = media.eq_ignore_ascii_case("application/x-protobuf")
            || media.eq_ignore_ascii_case("application/protobuf");
        let thrift = media.eq_ignore_ascii_case("application/x-thrift");
        match path {
            "/api/v2/spans" if proto => Ok(Format::V2Proto),
            "/api/v2/spans" if thrift => {
                Err("Zipkin v2 has no Thrift encoding; send Thrift to /api/v1/spans".into())
            }
            "/api/v2/spans" => Ok(Format::V2Json),
            "/api/v1/spans" if thrift => Ok(Format::V1Thrift),
            "/api/v1/spans" if proto => {
                Err("Zipkin v1 has no protobuf encoding; send it to /api/v2/spans".into())
            }
            "/api/v1/spans" => Ok(Format::V1Json),
            _ => Err(format!(
                "Zipkin spans are served on /api/v2/spans and /api/v1/spans, not {path}"
            )),
        }
    }
}

/// Decodes one (decompressed) body into the payload the receiver passes on: v2 JSON and
/// protobuf straight to OTLP bytes ([`crate::direct`]), anything that path leaves to the
/// reference (v1, unusual or invalid bodies) through [`decode`].
pub fn decode_payload(
    format: Format,
    body: &[u8],
    opts: &to_otlp::Options,
) -> Result<Payload, String> {
    if let Some((bytes, spans)) = direct::translate(format, body, opts) {
        // Our own encoding of checked input (strings UTF-8 checked, ids sized): no second pass
        // over it; debug builds (tests, fuzzing) still validate it and its count.
        return Ok(Payload::from_encoded(Signal::Traces, bytes.into(), spans));
    }
    decode(format, body, opts).map(|r| Payload::from_request(Request::Traces(r)))
}

/// Decodes one (decompressed) body and translates it by the reference path.
pub fn decode(
    format: Format,
    body: &[u8],
    opts: &to_otlp::Options,
) -> Result<ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest, String> {
    let spans = match format {
        Format::V2Json => json::decode(body).map_err(|e| e.to_string())?,
        Format::V2Proto => proto::decode(body).map_err(|e| e.to_string())?,
        Format::V1Json => v1::decode(body).map_err(|e| e.to_string())?,
        Format::V1Thrift => v1::thrift::decode(body).map_err(|e| e.to_string())?,
    };
    Ok(to_otlp::to_otlp(spans, opts))
}

/// Largest plain body decoded on the async worker that received it (≈ 1 ms of work).
const INLINE_DECODE_MAX: usize = 256 * 1024;

/// Decompresses and decodes one body: `Err(None)` when it is over `limit` once decompressed,
/// `Err(Some(message))` when it is malformed.
fn decode_body(
    encoding: Encoding,
    body: bytes::Bytes,
    limit: usize,
    format: Format,
    opts: &to_otlp::Options,
    coding: &str,
) -> Result<Payload, Option<String>> {
    let raw = match decompress(encoding, body, limit) {
        Ok(r) => r,
        Err(DecompressError::TooLarge) => return Err(None),
        Err(DecompressError::Corrupt(m)) => {
            return Err(Some(format!("decompressing the {coding} body: {m}")));
        }
    };
    decode_payload(format, &raw, opts).map_err(Some)
}

fn bad(status: StatusCode, id: &str, msg: String) -> Response {
    tracing::debug!(receiver = %id, "refused a Zipkin request: {msg}");
    text(status, format!("{msg}\n"))
}

impl Inner {
    async fn handle(self: Arc<Self>, req: PlainRequest) -> Response {
        let header_str = |n: header::HeaderName| {
            req.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let format = match Format::of(
            req.uri().path(),
            header_str(header::CONTENT_TYPE).as_deref(),
        ) {
            Ok(f) => f,
            Err(m) => {
                let status = if m.contains("served on") {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::UNSUPPORTED_MEDIA_TYPE
                };
                return bad(status, &self.id, m);
            }
        };
        if req.method() != Method::POST {
            return text(StatusCode::METHOD_NOT_ALLOWED, "Zipkin spans are POSTed\n");
        }
        let coding = header_str(header::CONTENT_ENCODING).unwrap_or_default();
        let Some(encoding) = Encoding::parse(&coding) else {
            return bad(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &self.id,
                format!("unsupported Content-Encoding {coding:?}"),
            );
        };
        if let Err(e) = self.next.admit(Signal::Traces) {
            return text(StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n"));
        }
        let limit = self.config.max_request_body_size;
        let too_large = || {
            bad(
                StatusCode::PAYLOAD_TOO_LARGE,
                &self.id,
                format!("the body is over max_request_body_size ({limit} bytes)"),
            )
        };
        let body = match Limited::new(req.into_body(), limit).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
            Err(e) => {
                return bad(
                    StatusCode::BAD_REQUEST,
                    &self.id,
                    format!("reading the body: {e}"),
                );
            }
        };
        let opts = to_otlp::Options {
            parse_string_tags: self.config.parse_string_tags,
        };
        // Small plain bodies, the usual case (an SDK's batch), decode here: a trip to the
        // blocking pool costs two thread wake-ups per request, more than decoding ~100 spans.
        // Compressed or larger bodies (up to `limit`, several ms of work) go off the workers.
        let decoded = if encoding == Encoding::Identity && body.len() <= INLINE_DECODE_MAX {
            Ok(decode_body(encoding, body, limit, format, &opts, &coding))
        } else {
            tokio::task::spawn_blocking(move || {
                decode_body(encoding, body, limit, format, &opts, &coding)
            })
            .await
        };
        let payload = match decoded {
            Ok(Ok(r)) => r,
            Ok(Err(None)) => return too_large(),
            Ok(Err(Some(m))) => return bad(StatusCode::BAD_REQUEST, &self.id, m),
            Err(e) => {
                return bad(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &self.id,
                    format!("decoding failed: {e}"),
                );
            }
        };
        let items = payload.items();
        if items > 0 {
            match self.next.consume(payload, Context::default()).await {
                Ok(()) => self.obs.accepted(Signal::Traces, items),
                Err(e) => {
                    self.obs.refused(Signal::Traces, items);
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
        *r.status_mut() = StatusCode::ACCEPTED;
        r
    }
}

impl Lifecycle for ZipkinReceiver {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let id = &self.inner.id;
            let addr = parse_endpoint(&self.inner.config.endpoint)
                .map_err(|e| ComponentError::new(format!("receiver {id}: {e}")))?;
            let inner = self.inner.clone();
            let handler = move |req| inner.clone().handle(req);
            let bound = self
                .server
                .start(&format!("receiver {id}"), addr, None, handler)
                .await
                .map_err(|e| ComponentError::new(format!("receiver {id}: {e}")))?;
            *self.address.lock().unwrap_or_else(|e| e.into_inner()) = Some(bound);
            tracing::info!(receiver = %id, "Zipkin on http://{bound}/api/v2/spans");
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

impl Receiver for ZipkinReceiver {}
