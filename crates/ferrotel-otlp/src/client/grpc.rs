//! OTLP/gRPC unary calls over hyper's HTTP/2 client, framing the message ourselves.
//!
//! Written here rather than through tonic: the payload is already protobuf bytes, so a call is
//! a 5-byte prefix, the bytes (sent as they are, no copy) and a status in the trailers; and the
//! compression is ours, at gzip's fastest level (tonic compresses at level 6 with no way to
//! choose, which cost most of the collector's CPU on a gzip pipeline: docs/benchmarks.md).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use ferrotel_pdata::Payload;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{
    ClientAuth, ClientSettings, Compression, PartialSuccess, SendError, error_chain, header_map,
};
use crate::TransportError;
use crate::compression::{Encoding, compress_into, decompress};
use crate::grpc_status::{code, decode_response_proto, percent_decode, retry_delay_from_status};

/// Responses are a few bytes; this only bounds a hostile server.
const MAX_RESPONSE: usize = 4 * 1024 * 1024;

pub(super) struct GrpcClient {
    client: Client<HttpsConnector<HttpConnector>, GrpcBody>,
    /// The export method's URI per signal, in `Signal::ALL` order (built once).
    uris: Vec<(ferrotel_pdata::Signal, Uri)>,
    encoding: Encoding,
    headers: HeaderMap,
    auth: Option<Arc<dyn ClientAuth>>,
    timeout: Duration,
}

/// `(uri, tls)` for a gRPC endpoint as the Go exporter accepts it.
fn endpoint_uri(endpoint: &str, insecure: bool) -> Result<(String, bool), TransportError> {
    let ep = endpoint.trim();
    if ep.is_empty() {
        return Err(TransportError::Config("endpoint is empty".into()));
    }
    let (uri, tls) = if let Some(rest) = ep.strip_prefix("http://") {
        (format!("http://{rest}"), false)
    } else if let Some(rest) = ep.strip_prefix("https://") {
        (format!("https://{rest}"), true)
    } else if insecure {
        (format!("http://{ep}"), false)
    } else {
        (format!("https://{ep}"), true)
    };
    let parsed: http::Uri = uri
        .parse()
        .map_err(|e| TransportError::Config(format!("endpoint {endpoint:?}: {e}")))?;
    let Some(authority) = parsed.authority() else {
        return Err(TransportError::Config(format!(
            "endpoint {endpoint:?} has no host"
        )));
    };
    let scheme = if tls { "https" } else { "http" };
    Ok((format!("{scheme}://{authority}"), tls))
}

impl GrpcClient {
    pub(super) fn new(s: &ClientSettings) -> Result<Self, TransportError> {
        let encoding = match s.compression {
            Compression::None => Encoding::Identity,
            Compression::Gzip => Encoding::Gzip,
            Compression::Zstd => Encoding::Zstd,
            other => {
                return Err(TransportError::Config(format!(
                    "compression {:?} is not supported over gRPC (use gzip, zstd or none)",
                    other.as_str()
                )));
            }
        };
        let (base, use_tls) = endpoint_uri(&s.endpoint, s.tls.insecure)?;
        let connector = super::connector(&s.tls, use_tls, s.timeout, true)?;
        let client = Client::builder(TokioExecutor::new())
            .http2_only(true)
            // Responses are a few bytes: no adaptive window (its PINGs cost more than they
            // save); what we send is governed by the server's window.
            .http2_adaptive_window(false)
            .timer(hyper_util::rt::TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        let uris = ferrotel_pdata::Signal::ALL
            .iter()
            .map(|s| {
                format!("{base}{}", s.grpc_path())
                    .parse()
                    .map(|u| (*s, u))
                    .map_err(|e| TransportError::Config(format!("endpoint {base:?}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(GrpcClient {
            client,
            uris,
            encoding,
            headers: header_map(&s.headers)?,
            auth: s.auth.clone(),
            timeout: s.timeout,
        })
    }

    pub(super) async fn export(&self, payload: &Payload) -> Result<PartialSuccess, SendError> {
        let body = if let (Encoding::Zstd, Some(stream)) = (self.encoding, payload.zstd_source()) {
            // Received as zstd and unchanged since: sent as it came, not compressed again.
            let mut prefix = [1u8, 0, 0, 0, 0];
            prefix[1..].copy_from_slice(&(stream.len() as u32).to_be_bytes());
            GrpcBody::new(Bytes::copy_from_slice(&prefix), stream.clone())
        } else if self.encoding == Encoding::Identity {
            let message = payload.to_proto();
            let mut prefix = [0u8; 5];
            prefix[1..].copy_from_slice(&(message.len() as u32).to_be_bytes());
            GrpcBody::new(Bytes::copy_from_slice(&prefix), message)
        } else {
            let message = payload.to_proto();
            // Compressed straight after a reserved prefix: one buffer, one DATA stream.
            let mut framed = Vec::with_capacity(5 + message.len() / 4);
            framed.extend_from_slice(&[1, 0, 0, 0, 0]);
            compress_into(self.encoding, &message, &mut framed)
                .map_err(|e| SendError::permanent("encode", format!("compressing: {e}")))?;
            let len = (framed.len() - 5) as u32;
            framed[1..5].copy_from_slice(&len.to_be_bytes());
            GrpcBody::new(Bytes::from(framed), Bytes::new())
        };
        let signal = payload.signal();
        let uri = self
            .uris
            .iter()
            .find(|(s, _)| *s == signal)
            .map(|(_, u)| u.clone())
            .ok_or_else(|| SendError::permanent("encode", format!("no URI for {signal:?}")))?;
        let mut req = Request::post(uri)
            .body(body)
            .map_err(|e| SendError::permanent("encode", e.to_string()))?;
        let h = req.headers_mut();
        *h = self.headers.clone();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        if self.encoding != Encoding::Identity {
            h.insert(
                "grpc-encoding",
                HeaderValue::from_static(if self.encoding == Encoding::Gzip {
                    "gzip"
                } else {
                    "zstd"
                }),
            );
        }
        h.insert(
            "grpc-accept-encoding",
            HeaderValue::from_static("gzip,zstd,identity"),
        );
        h.insert("grpc-timeout", grpc_timeout(self.timeout));
        h.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!(
                "grpc-rust ferrotel-otlp/",
                env!("CARGO_PKG_VERSION")
            )),
        );
        if let Some(a) = &self.auth {
            a.apply(h).map_err(|m| SendError::permanent("auth", m))?;
        }
        let call = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| unavailable(&e))?;
            read_response(resp).await
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| {
                SendError::retryable(
                    "gRPC DeadlineExceeded",
                    format!("no response within {:?}", self.timeout),
                )
            })?
    }
}

/// `grpc-timeout` in milliseconds (at most 8 digits, as the spec allows).
fn grpc_timeout(t: Duration) -> HeaderValue {
    let ms = t.as_millis().clamp(1, 99_999_999);
    HeaderValue::from_str(&format!("{ms}m")).unwrap_or(HeaderValue::from_static("99999999m"))
}

/// A transport failure (connection refused, reset, GOAWAY, stream reset): the server may never
/// have seen the request, so it is retryable, as grpc-go reports it (`Unavailable`).
fn unavailable(e: &dyn std::error::Error) -> SendError {
    SendError::retryable("gRPC Unavailable", error_chain(e))
}

/// Reads the unary response: the status from Trailers-Only headers or the trailers, and the
/// message (an export response, for partial success).
async fn read_response(
    resp: http::Response<hyper::body::Incoming>,
) -> Result<PartialSuccess, SendError> {
    let (parts, mut body) = resp.into_parts();
    if parts.status != StatusCode::OK {
        // gRPC over HTTP/2, "HTTP to gRPC Status Code Mapping".
        let c = match parts.status.as_u16() {
            400 => code::INTERNAL,
            401 => code::UNAUTHENTICATED,
            403 => code::PERMISSION_DENIED,
            404 => code::UNIMPLEMENTED,
            429 | 502 | 503 | 504 => code::UNAVAILABLE,
            _ => code::UNKNOWN,
        };
        return Err(classify(
            c,
            format!("unexpected HTTP status {}", parts.status),
            None,
        ));
    }
    if let Some(status) = status_of(&parts.headers) {
        // Trailers-Only.
        return status.map(|()| PartialSuccess::default());
    }
    let mut data = BytesMut::new();
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| unavailable(&e))?;
        match frame.into_data() {
            Ok(d) => {
                if data.len() + d.len() > MAX_RESPONSE + 5 {
                    return Err(classify(
                        code::RESOURCE_EXHAUSTED,
                        format!("response larger than {MAX_RESPONSE} bytes"),
                        None,
                    ));
                }
                data.put_slice(&d);
            }
            Err(f) => {
                if let Ok(t) = f.into_trailers() {
                    trailers = Some(t);
                }
            }
        }
    }
    let Some(status) = trailers.as_ref().and_then(status_of) else {
        // The stream ended without a status: as grpc-go, the call's outcome is unknown.
        return Err(SendError::retryable(
            "gRPC Unavailable",
            "server closed the stream without sending trailers",
        ));
    };
    status?;
    let message = response_message(&parts.headers, data.freeze()).unwrap_or_default();
    let (rejected, message) = decode_response_proto(&message).unwrap_or_default();
    Ok(PartialSuccess { rejected, message })
}

/// The one response message, decompressed if flagged so (an undecodable one means no
/// partial-success details: the data was accepted).
fn response_message(headers: &HeaderMap, data: Bytes) -> Option<Bytes> {
    if data.len() < 5 {
        return None;
    }
    let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
    let msg = data.slice(5..(5 + len).min(data.len()));
    if data[0] == 0 {
        return Some(msg);
    }
    let enc = headers
        .get("grpc-encoding")
        .and_then(|v| v.to_str().ok())
        .and_then(Encoding::parse)?;
    decompress(enc, msg, MAX_RESPONSE).ok()
}

/// `Some(Ok)` for grpc-status 0, `Some(Err)` for a failure, `None` when absent.
fn status_of(h: &HeaderMap) -> Option<Result<(), SendError>> {
    let c: i32 = h
        .get("grpc-status")?
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(code::UNKNOWN);
    if c == 0 {
        return Some(Ok(()));
    }
    let message = h
        .get("grpc-message")
        .map(|v| percent_decode(v.as_bytes()))
        .unwrap_or_default();
    let details = h.get("grpc-status-details-bin").and_then(|v| {
        // Sent unpadded by gRPC implementations; accept padding too.
        let v = v.as_bytes();
        let v = v.strip_suffix(b"==").or(v.strip_suffix(b"=")).unwrap_or(v);
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(v)
            .ok()
    });
    Some(Err(classify(c, message, details.as_deref())))
}

/// Retryable per the OTLP spec: Cancelled, DeadlineExceeded, Aborted, OutOfRange, Unavailable,
/// DataLoss; ResourceExhausted only when the server sent RetryInfo.
fn classify(c: i32, message: String, details: Option<&[u8]>) -> SendError {
    let retry_after = details.and_then(retry_delay_from_status);
    let retryable = match c {
        1 | 4 | 10 | 11 | 14 | 15 => true,
        8 => retry_after.is_some(),
        _ => false,
    };
    SendError {
        retryable,
        retry_after: if retryable { retry_after } else { None },
        message,
        status: format!("gRPC {}", code_name(c)),
    }
}

/// The canonical code names, as grpc-go and tonic print them.
fn code_name(c: i32) -> &'static str {
    match c {
        0 => "Ok",
        1 => "Cancelled",
        2 => "Unknown",
        3 => "InvalidArgument",
        4 => "DeadlineExceeded",
        5 => "NotFound",
        6 => "AlreadyExists",
        7 => "PermissionDenied",
        8 => "ResourceExhausted",
        9 => "FailedPrecondition",
        10 => "Aborted",
        11 => "OutOfRange",
        12 => "Unimplemented",
        13 => "Internal",
        14 => "Unavailable",
        15 => "DataLoss",
        16 => "Unauthenticated",
        _ => "Unknown",
    }
}

/// The request body: the gRPC prefix and the message as two chunks, so the message's bytes
/// are handed to HTTP/2 as they are.
pub(super) struct GrpcBody {
    chunks: [Option<Bytes>; 2],
}

impl GrpcBody {
    fn new(head: Bytes, tail: Bytes) -> Self {
        GrpcBody {
            chunks: [Some(head), (!tail.is_empty()).then_some(tail)],
        }
    }
}

impl Body for GrpcBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let next = this.chunks.iter_mut().find_map(Option::take);
        Poll::Ready(next.map(|d| Ok(Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.iter().all(Option::is_none)
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.chunks.iter().flatten().map(|c| c.len() as u64).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            endpoint_uri("localhost:4317", false).unwrap(),
            ("https://localhost:4317".into(), true)
        );
        assert_eq!(
            endpoint_uri("localhost:4317", true).unwrap(),
            ("http://localhost:4317".into(), false)
        );
        assert_eq!(
            endpoint_uri("http://h:1", false).unwrap(),
            ("http://h:1".into(), false)
        );
        assert_eq!(
            endpoint_uri("https://h:1/", true).unwrap(),
            ("https://h:1".into(), true)
        );
        assert!(endpoint_uri("", true).is_err());
    }

    #[test]
    fn classification() {
        assert!(!classify(8, "x".into(), None).retryable);
        let details = crate::grpc_status::encode_status(8, "x", Some(Duration::from_secs(2)));
        let e = classify(8, "x".into(), Some(&details));
        assert!(e.retryable);
        assert_eq!(e.retry_after, Some(Duration::from_secs(2)));
        assert!(classify(15, String::new(), None).retryable);
        assert!(!classify(3, String::new(), None).retryable);
        assert_eq!(classify(14, String::new(), None).status, "gRPC Unavailable");
        // Sent by a server, Unknown and Internal are permanent.
        assert!(!classify(2, "x".into(), None).retryable);
        assert!(!classify(13, "x".into(), None).retryable);
        // A broken connection is not.
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let e = unavailable(&reset);
        assert!(e.retryable, "{e:?}");
        assert_eq!(e.status, "gRPC Unavailable");
        assert!(e.message.contains("reset by peer"), "{}", e.message);
    }

    #[test]
    fn trailers_only_status() {
        let mut h = HeaderMap::new();
        assert!(status_of(&h).is_none());
        h.insert("grpc-status", HeaderValue::from_static("0"));
        assert!(matches!(status_of(&h), Some(Ok(()))));
        h.insert("grpc-status", HeaderValue::from_static("14"));
        h.insert(
            "grpc-message",
            HeaderValue::from_static("down%20for%0Amaintenance"),
        );
        let e = status_of(&h).unwrap().unwrap_err();
        assert!(e.retryable);
        assert_eq!(e.message, "down for\nmaintenance");
        assert_eq!(grpc_timeout(Duration::from_secs(5)), "5000m");
        assert_eq!(grpc_timeout(Duration::ZERO), "1m");
    }
}
