//! The OTLP/gRPC server: one hyper HTTP/2 service that routes the four export methods by path
//! and does gRPC framing itself, so the request message reaches [`Payload::from_proto`] as the
//! received bytes (no prost decode, no copy when the message arrives in one DATA frame).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use ferrotel_pdata::{Payload, Signal};
use futures::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio_rustls::TlsAcceptor;

use super::conn::{ServeFn, ServerHandle, bind, drive, spawn_server};
use super::{
    ClientInfo, ExportError, ExportHandler, ExportRequest, GrpcServerSettings, KeepaliveSettings,
    ServerAuth, Transport, call_handler, guard, metadata_of,
};
use crate::TransportError;
use crate::body::OneShot;

/// HTTP/2 flow-control window per stream (the connection's is twice this): fixed instead of
/// hyper's adaptive window, whose bandwidth-delay PINGs cost a frame, a write and a wake-up per
/// burst of data (measured at 10 k spans/s in docs/benchmarks.md). 4 MiB lets a sender keep a
/// typical request in flight without waiting for WINDOW_UPDATE on any link where OTLP is used;
/// it bounds what one stream may send ahead, it is not allocated up front.
const WINDOW: u32 = 4 << 20;
/// Largest HTTP/2 frame we accept (h2's default is 16 KiB): fewer DATA frames per request.
const MAX_FRAME: u32 = 256 << 10;
use crate::compression::{DecompressError, Encoding, decompress};
use crate::grpc_status::{code, encode_response_proto, encode_status, percent_encode};

/// A gRPC failure: status code, message, optional RetryInfo.
struct Fail {
    code: i32,
    message: String,
    retry_after: Option<Duration>,
}

impl Fail {
    fn new(code: i32, message: impl Into<String>) -> Self {
        Fail {
            code,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<ExportError> for Fail {
    fn from(e: ExportError) -> Self {
        Fail {
            code: e.kind.grpc_code(),
            message: e.message,
            retry_after: e.retry_after,
        }
    }
}

struct State {
    handler: Arc<dyn ExportHandler>,
    routes: Vec<(&'static str, Signal)>,
    max_recv: usize,
    auth: Option<Arc<dyn ServerAuth>>,
    include_metadata: bool,
}

/// Starts an OTLP/gRPC server. The address is bound before this returns.
pub async fn start_grpc(
    settings: GrpcServerSettings,
    handler: Arc<dyn ExportHandler>,
) -> Result<ServerHandle, TransportError> {
    let tls = settings
        .tls
        .as_ref()
        .map(|t| crate::tls::server_config(t, &[b"h2"]))
        .transpose()?
        .map(TlsAcceptor::from);
    let listener = bind(settings.endpoint, settings.unix_socket.as_deref()).await?;
    let state = Arc::new(State {
        handler,
        routes: settings
            .signals
            .iter()
            .map(|s| (s.grpc_path(), *s))
            .collect(),
        max_recv: settings.max_recv_msg_size,
        auth: settings.auth.clone(),
        include_metadata: settings.include_metadata,
    });
    let ka = settings.keepalive.clone();
    let serve: ServeFn = Arc::new(move |io, peer, stop| {
        let state = state.clone();
        let ka = ka.clone();
        Box::pin(async move {
            let activity = Arc::new(Activity::new());
            let act = activity.clone();
            let svc = service_fn(move |req: Request<Incoming>| {
                let state = state.clone();
                let busy = act.begin();
                let fut: BoxFuture<'static, Result<Response<OneShot>, Infallible>> =
                    Box::pin(async move {
                        let resp = handle(&state, req, peer).await;
                        drop(busy);
                        Ok(resp)
                    });
                fut
            });
            let mut b = http2::Builder::new(TokioExecutor::new());
            b.timer(TokioTimer::new())
                .initial_stream_window_size(WINDOW)
                .initial_connection_window_size(2 * WINDOW)
                .max_frame_size(MAX_FRAME);
            if let Some(t) = ka.time {
                b.keep_alive_interval(t);
            }
            if let Some(t) = ka.timeout {
                b.keep_alive_timeout(t);
            }
            // Enforcement policy (min_time, permit_without_stream) is not applied: h2 answers
            // client pings without policing their rate.
            let conn = b.serve_connection(TokioIo::new(io), svc);
            drive(conn, stop, close_when(ka, activity)).await;
        })
    });
    spawn_server(listener, tls, Duration::from_secs(10), serve)
}

/// In-flight requests on a connection and when the last one ended (for max_connection_idle).
struct Activity(Mutex<(usize, Instant)>);

struct Busy(Arc<Activity>);

impl Activity {
    fn new() -> Self {
        Activity(Mutex::new((0, Instant::now())))
    }
    fn begin(self: &Arc<Self>) -> Busy {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).0 += 1;
        Busy(self.clone())
    }
    fn snapshot(&self) -> (usize, Instant) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut g = self.0.0.lock().unwrap_or_else(|e| e.into_inner());
        g.0 -= 1;
        g.1 = Instant::now();
    }
}

/// Completes when keepalive settings say the connection should go: max age (bounded by the
/// age grace) or max idle.
async fn close_when(ka: KeepaliveSettings, activity: Arc<Activity>) -> Option<Duration> {
    let (max_age, age_grace, max_idle) = (
        ka.max_connection_age,
        ka.max_connection_age_grace,
        ka.max_connection_idle,
    );
    let age = async move {
        match max_age {
            Some(age) => {
                tokio::time::sleep(age).await;
                age_grace
            }
            None => std::future::pending().await,
        }
    };
    let idle = async move {
        let Some(idle) = max_idle else {
            return std::future::pending().await;
        };
        loop {
            let (inflight, last) = activity.snapshot();
            let since = last.elapsed();
            if inflight == 0 && since >= idle {
                return None;
            }
            let wait = if inflight == 0 { idle - since } else { idle };
            tokio::time::sleep(wait).await;
        }
    };
    tokio::select! {
        g = age => g,
        g = idle => g,
    }
}

async fn handle(
    state: &State,
    req: Request<Incoming>,
    peer: Option<SocketAddr>,
) -> Response<OneShot> {
    if req.method() != http::Method::POST {
        return http_error(StatusCode::METHOD_NOT_ALLOWED);
    }
    let is_grpc = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct == "application/grpc"
                || ct.starts_with("application/grpc+")
                || ct.starts_with("application/grpc;")
        });
    if !is_grpc {
        return http_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    match export(state, req, peer).await {
        Ok(body) => ok_response(body),
        Err(f) => status_response(f),
    }
}

async fn export(
    state: &State,
    req: Request<Incoming>,
    peer: Option<SocketAddr>,
) -> Result<Bytes, Fail> {
    let path = req.uri().path();
    let Some(signal) = state
        .routes
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, s)| *s)
    else {
        let service = path.trim_start_matches('/').split('/').next().unwrap_or("");
        return Err(Fail::new(
            code::UNIMPLEMENTED,
            format!("unknown service {service}"),
        ));
    };
    let (parts, body) = req.into_parts();
    let auth = match &state.auth {
        Some(a) => match guard(|| a.authenticate(&parts.headers))? {
            Ok(d) => Some(Arc::new(d)),
            Err(msg) => return Err(Fail::new(code::UNAUTHENTICATED, msg)),
        },
        None => None,
    };
    let encoding = match parts.headers.get("grpc-encoding") {
        None => Encoding::Identity,
        Some(v) => match v.to_str().ok().and_then(Encoding::parse) {
            Some(e @ (Encoding::Identity | Encoding::Gzip | Encoding::Zstd)) => e,
            _ => {
                return Err(Fail::new(
                    code::UNIMPLEMENTED,
                    format!(
                        "grpc: Decompressor is not installed for grpc-encoding {:?}",
                        String::from_utf8_lossy(v.as_bytes())
                    ),
                ));
            }
        },
    };
    state.handler.admit(signal)?;
    let deadline = parts
        .headers
        .get("grpc-timeout")
        .and_then(|v| parse_grpc_timeout(v.as_bytes()));

    let (compressed, message) = read_message(body, state.max_recv).await?;
    // Kept for an exporter compressing with zstd: it sends this instead of compressing again.
    let zstd_source = (compressed && encoding == Encoding::Zstd).then(|| message.clone());
    let message = if compressed {
        if encoding == Encoding::Identity {
            return Err(Fail::new(
                code::INTERNAL,
                "grpc: compressed flag set with identity or empty encoding",
            ));
        }
        decompress(encoding, message, state.max_recv).map_err(|e| match e {
            DecompressError::TooLarge => Fail::new(
                code::RESOURCE_EXHAUSTED,
                format!(
                    "grpc: received message after decompression larger than max ({})",
                    state.max_recv
                ),
            ),
            // Malformed data, as the OTLP specification classes it (grpc-go says Internal;
            // both are permanent for the sender).
            DecompressError::Corrupt(m) => Fail::new(
                code::INVALID_ARGUMENT,
                format!("grpc: failed to decompress the received message: {m}"),
            ),
        })?
    } else {
        message
    };
    let mut payload = guard(|| Payload::from_proto(signal, message))?
        .map_err(|e| Fail::new(code::INVALID_ARGUMENT, e.to_string()))?;
    if let Some(z) = zstd_source {
        payload = payload.with_zstd_source(z);
    }
    let client = ClientInfo {
        addr: peer,
        metadata: if state.include_metadata {
            metadata_of(&parts.headers)
        } else {
            Vec::new()
        },
        auth,
    };
    let req = ExportRequest {
        payload,
        client,
        transport: Transport::Grpc,
    };
    let call = call_handler(&*state.handler, req);
    let result = match deadline {
        Some(d) => tokio::time::timeout(d, call)
            .await
            .map_err(|_| Fail::new(code::DEADLINE_EXCEEDED, "deadline exceeded"))?,
        None => call.await,
    }?;
    Ok(encode_response_proto(result.rejected, &result.message))
}

/// Reads the single request message of a unary call: (compressed flag, message bytes).
/// A declared length over `max` is refused before the message is read.
async fn read_message(mut body: Incoming, max: usize) -> Result<(bool, Bytes), Fail> {
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    let mut need: Option<usize> = None;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| Fail::new(code::CANCELLED, format!("reading request: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len();
        chunks.push(data);
        if need.is_none() && total >= 5 {
            let mut hdr = [0u8; 5];
            copy_prefix(&chunks, &mut hdr);
            let len = u32::from_be_bytes([hdr[1], hdr[2], hdr[3], hdr[4]]) as usize;
            if len > max {
                return Err(Fail::new(
                    code::RESOURCE_EXHAUSTED,
                    format!("grpc: received message larger than max ({len} vs. {max})"),
                ));
            }
            need = Some(5 + len);
        }
        if let Some(n) = need
            && total > n
        {
            return Err(Fail::new(
                code::UNIMPLEMENTED,
                "grpc: more than one request message in a unary call",
            ));
        }
    }
    match need {
        Some(n) if total == n => {}
        _ if total == 0 => {
            return Err(Fail::new(code::INTERNAL, "grpc: missing request message"));
        }
        _ => return Err(Fail::new(code::INTERNAL, "grpc: truncated request message")),
    }
    let all = if chunks.len() == 1 {
        chunks.pop().unwrap_or_default()
    } else {
        let mut b = BytesMut::with_capacity(total);
        for c in &chunks {
            b.put_slice(c);
        }
        b.freeze()
    };
    let flag = all[0];
    if flag > 1 {
        return Err(Fail::new(code::INTERNAL, "grpc: invalid message flag"));
    }
    Ok((flag == 1, all.slice(5..)))
}

fn copy_prefix(chunks: &[Bytes], out: &mut [u8]) {
    let mut filled = 0;
    for c in chunks {
        let n = (out.len() - filled).min(c.len());
        out[filled..filled + n].copy_from_slice(&c[..n]);
        filled += n;
        if filled == out.len() {
            break;
        }
    }
}

/// `grpc-timeout`: up to 8 digits and a unit (H, M, S, m, u, n).
fn parse_grpc_timeout(v: &[u8]) -> Option<Duration> {
    let (unit, digits) = v.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

fn grpc_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    h
}

fn ok_response(msg: Bytes) -> Response<OneShot> {
    let mut framed = BytesMut::with_capacity(5 + msg.len());
    framed.put_u8(0);
    framed.put_u32(msg.len() as u32);
    framed.put_slice(msg.chunk());
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let mut r = Response::new(OneShot::with_trailers(framed.freeze(), trailers));
    *r.headers_mut() = grpc_headers();
    r
}

/// A Trailers-Only response carrying the status.
fn status_response(f: Fail) -> Response<OneShot> {
    let mut h = grpc_headers();
    h.insert("grpc-status", HeaderValue::from(f.code));
    if let Ok(v) = HeaderValue::from_str(&percent_encode(&f.message)) {
        h.insert("grpc-message", v);
    }
    if f.retry_after.is_some() {
        let details = encode_status(f.code, &f.message, f.retry_after);
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(details);
        if let Ok(v) = HeaderValue::from_str(&b64) {
            h.insert("grpc-status-details-bin", v);
        }
    }
    if f.code == code::UNIMPLEMENTED {
        h.insert(
            "grpc-accept-encoding",
            HeaderValue::from_static("gzip,zstd,identity"),
        );
    }
    let mut r = Response::new(OneShot::empty());
    *r.headers_mut() = h;
    r
}

fn http_error(status: StatusCode) -> Response<OneShot> {
    let mut r = Response::new(OneShot::empty());
    *r.status_mut() = status;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout() {
        assert_eq!(
            parse_grpc_timeout(b"100m"),
            Some(Duration::from_millis(100))
        );
        assert_eq!(parse_grpc_timeout(b"2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout(b"S"), None);
        assert_eq!(parse_grpc_timeout(b"123456789S"), None);
        assert_eq!(parse_grpc_timeout(b"1x"), None);
    }
}
