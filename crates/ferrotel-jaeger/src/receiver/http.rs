//! The collector's endpoints: `POST /api/traces` (Thrift binary `Batch`, answered 202 as the
//! Jaeger collector does) and gRPC `jaeger.api_v2.CollectorService/PostSpans` (framing done
//! here over hyper's HTTP/2, as ferrotel-otlp does for OTLP).

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use ferrotel_otlp::compression::{Encoding, decompress};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Limited};

use super::Shared;
use crate::http_body::{Body, Request, Response, text};
use crate::thrift::Protocol;
use crate::to_otlp::to_otlp;

pub const TRACES_PATH: &str = "/api/traces";
pub const POST_SPANS_PATH: &str = "/jaeger.api_v2.CollectorService/PostSpans";

/// The media types the Jaeger collector accepts on /api/traces.
const THRIFT_TYPES: &[&str] = &[
    "application/x-thrift",
    "application/vnd.apache.thrift.binary",
];

pub(super) struct ThriftHttp {
    pub shared: Arc<Shared>,
    pub max_body: usize,
}

fn bad(id: &str, status: StatusCode, msg: String) -> Response {
    tracing::debug!(receiver = %id, "refused a Jaeger request: {msg}");
    text(status, format!("{msg}\n"))
}

impl ThriftHttp {
    pub async fn handle(self: Arc<Self>, req: Request) -> Response {
        let id = &self.shared.id;
        if req.uri().path() != TRACES_PATH {
            return bad(
                id,
                StatusCode::NOT_FOUND,
                format!(
                    "Jaeger Thrift is served on {TRACES_PATH}, not {}",
                    req.uri().path()
                ),
            );
        }
        if req.method() != Method::POST {
            return text(StatusCode::METHOD_NOT_ALLOWED, "Jaeger spans are POSTed\n");
        }
        let media = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase())
            .unwrap_or_default();
        if !THRIFT_TYPES.contains(&media.as_str()) {
            return bad(
                id,
                StatusCode::BAD_REQUEST,
                format!("Unsupported content type: {media}"),
            );
        }
        if let Err(e) = self.shared.next.admit(ferrotel_pdata::Signal::Traces) {
            return text(StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n"));
        }
        let body = match Limited::new(req.into_body(), self.max_body).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return bad(
                    id,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "the body is over max_request_body_size ({} bytes)",
                        self.max_body
                    ),
                );
            }
            Err(e) => {
                return bad(
                    id,
                    StatusCode::BAD_REQUEST,
                    format!("reading the body: {e}"),
                );
            }
        };
        let delivered = self
            .shared
            .deliver_thrift(&body, Protocol::Binary, false, &self.shared.obs_http)
            .await;
        let delivered = match delivered {
            Ok(d) => d,
            Err(e) => {
                return bad(
                    id,
                    StatusCode::BAD_REQUEST,
                    format!("Unable to process request body: {e}"),
                );
            }
        };
        match delivered {
            Ok(()) => {
                let mut r = http::Response::new(Body::default());
                *r.status_mut() = StatusCode::ACCEPTED;
                r
            }
            Err(e) => {
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
                r
            }
        }
    }
}

pub(super) struct Grpc {
    pub shared: Arc<Shared>,
    pub max_message: usize,
}

mod code {
    pub const OK: u32 = 0;
    pub const INVALID_ARGUMENT: u32 = 3;
    pub const RESOURCE_EXHAUSTED: u32 = 8;
    pub const UNIMPLEMENTED: u32 = 12;
    pub const INTERNAL: u32 = 13;
    pub const UNAVAILABLE: u32 = 14;
}

/// grpc-message is percent-encoded (the gRPC HTTP/2 spec).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn grpc_headers(status: u32, message: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("grpc-status", HeaderValue::from(status));
    if !message.is_empty()
        && let Ok(v) = HeaderValue::from_str(&percent_encode(message))
    {
        h.insert("grpc-message", v);
    }
    h
}

fn grpc_response(body: Body, headers: HeaderMap) -> Response {
    let mut r = http::Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    r.headers_mut().extend(headers);
    r
}

/// A failed call, "trailers-only": the status travels in the headers.
fn grpc_fail(id: &str, status: u32, message: String) -> Response {
    tracing::debug!(receiver = %id, "refused a Jaeger gRPC call: {message}");
    grpc_response(Body::default(), grpc_headers(status, &message))
}

impl Grpc {
    pub async fn handle(self: Arc<Self>, req: Request) -> Response {
        let id = &self.shared.id;
        if req.uri().path() != POST_SPANS_PATH {
            return grpc_fail(
                id,
                code::UNIMPLEMENTED,
                format!(
                    "unknown method {} (served: {POST_SPANS_PATH})",
                    req.uri().path()
                ),
            );
        }
        if let Err(e) = self.shared.next.admit(ferrotel_pdata::Signal::Traces) {
            return grpc_fail(id, code::UNAVAILABLE, e.to_string());
        }
        let encoding = req
            .headers()
            .get("grpc-encoding")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("identity")
            .to_owned();
        let limit = self.max_message;
        let body = match Limited::new(req.into_body(), limit.saturating_add(5))
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return grpc_fail(
                    id,
                    code::RESOURCE_EXHAUSTED,
                    format!("the message is over max_recv_msg_size_mib ({limit} bytes)"),
                );
            }
            Err(e) => return grpc_fail(id, code::INTERNAL, format!("reading the body: {e}")),
        };
        let message = match unframe(body, &encoding, limit) {
            Ok(m) => m,
            Err(m) => return grpc_fail(id, code::INVALID_ARGUMENT, m),
        };
        let request = match crate::proto::decode_post_spans(&message) {
            Ok(b) => to_otlp(vec![b]),
            Err(m) => return grpc_fail(id, code::INVALID_ARGUMENT, m),
        };
        match self.shared.deliver(request, &self.shared.obs_grpc).await {
            Ok(()) => {
                // PostSpansResponse is empty: a zero-length message, then the status.
                let mut frame = BytesMut::with_capacity(5);
                frame.put_u8(0);
                frame.put_u32(0);
                grpc_response(
                    Body::new(frame.freeze(), Some(grpc_headers(code::OK, ""))),
                    HeaderMap::new(),
                )
            }
            Err(e) => {
                let status = if e.is_retryable() {
                    code::UNAVAILABLE
                } else {
                    code::INVALID_ARGUMENT
                };
                grpc_fail(id, status, e.to_string())
            }
        }
    }
}

/// The one message of a unary call: 1 byte compressed flag, 4 bytes length, the message.
fn unframe(body: Bytes, encoding: &str, limit: usize) -> Result<Bytes, String> {
    if body.len() < 5 {
        return Err(format!(
            "the request has {} bytes, less than a gRPC message header",
            body.len()
        ));
    }
    let compressed = body[0];
    let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    if body.len() - 5 != len {
        return Err(format!(
            "the gRPC message declares {len} bytes but {} follow (one message per call)",
            body.len() - 5
        ));
    }
    let message = body.slice(5..);
    match compressed {
        0 => Ok(message),
        1 => {
            let enc = Encoding::parse(encoding)
                .ok_or_else(|| format!("unsupported grpc-encoding {encoding:?}"))?;
            decompress(enc, message, limit).map_err(|e| format!("decompressing: {e:?}"))
        }
        f => Err(format!("bad gRPC compressed flag {f}")),
    }
}
