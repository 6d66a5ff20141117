//! The OTLP/HTTP server (HTTP/1.1 and h2/h2c) on hyper.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrotel_pdata::{Payload, Signal};
use futures::future::BoxFuture;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio_rustls::TlsAcceptor;

use super::conn::{ServeFn, ServerHandle, bind, drive, spawn_server};
use super::{
    ClientInfo, CorsSettings, ErrorKind, ExportError, ExportHandler, ExportRequest,
    HttpServerSettings, ServerAuth, Transport, call_handler, guard, metadata_of,
};
use crate::TransportError;
use crate::body::OneShot;
use crate::compression::{DecompressError, Encoding, decompress};
use crate::grpc_status::{
    encode_response_json, encode_response_proto, encode_status, encode_status_json,
};

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

struct State {
    handler: Arc<dyn ExportHandler>,
    routes: Vec<(String, Signal)>,
    max_body: usize,
    cors: Option<Cors>,
    auth: Option<Arc<dyn ServerAuth>>,
    include_metadata: bool,
    read_timeout: Duration,
}

/// Starts an OTLP/HTTP server. The address is bound before this returns.
pub async fn start_http(
    settings: HttpServerSettings,
    handler: Arc<dyn ExportHandler>,
) -> Result<ServerHandle, TransportError> {
    let tls = settings
        .tls
        .as_ref()
        .map(|t| crate::tls::server_config(t, &[b"h2", b"http/1.1"]))
        .transpose()?
        .map(TlsAcceptor::from);
    let mut routes = Vec::new();
    for s in &settings.signals {
        let path = settings
            .paths
            .get(s)
            .cloned()
            .unwrap_or_else(|| s.default_http_path().to_owned());
        if !path.starts_with('/') {
            return Err(TransportError::Config(format!(
                "{s} path {path:?} must start with '/'"
            )));
        }
        if routes.iter().any(|(p, _)| *p == path) {
            return Err(TransportError::Config(format!(
                "path {path:?} is used by two signals"
            )));
        }
        routes.push((path, *s));
    }
    let listener = bind(settings.endpoint, settings.unix_socket.as_deref()).await?;
    let state = Arc::new(State {
        handler,
        routes,
        max_body: settings.max_request_body_size,
        cors: settings
            .cors
            .as_ref()
            .filter(|c| !c.allowed_origins.is_empty())
            .map(Cors::new),
        auth: settings.auth.clone(),
        include_metadata: settings.include_metadata,
        read_timeout: settings.read_timeout,
    });
    let header_timeout = settings.read_header_timeout;
    let serve: ServeFn = Arc::new(move |io, peer, stop| {
        let state = state.clone();
        Box::pin(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let state = state.clone();
                let fut: BoxFuture<'static, Result<Response<OneShot>, Infallible>> =
                    Box::pin(async move { Ok(handle(&state, req, peer).await) });
                fut
            });
            let mut b = auto::Builder::new(TokioExecutor::new());
            b.http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            b.http2().timer(TokioTimer::new()).adaptive_window(true);
            let conn = b.serve_connection(TokioIo::new(io), svc);
            drive(conn, stop, std::future::pending()).await;
        })
    });
    // The TLS handshake is part of "reading the headers" for slow-loris purposes.
    spawn_server(listener, tls, header_timeout, serve)
}

/// The body format of a request (and so of its response).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Protobuf,
    Json,
}

async fn handle(
    state: &State,
    req: Request<Incoming>,
    peer: Option<SocketAddr>,
) -> Response<OneShot> {
    let origin = req.headers().get(header::ORIGIN).cloned();
    if let Some(cors) = &state.cors
        && req.method() == Method::OPTIONS
        && origin.is_some()
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return cors.preflight(req.headers());
    }
    let mut resp = handle_export(state, req, peer).await;
    if let (Some(cors), Some(origin)) = (&state.cors, origin) {
        cors.decorate(&origin, &mut resp);
    }
    resp
}

async fn handle_export(
    state: &State,
    req: Request<Incoming>,
    peer: Option<SocketAddr>,
) -> Response<OneShot> {
    let (parts, body) = req.into_parts();
    let auth = match &state.auth {
        Some(a) => match guard(|| a.authenticate(&parts.headers)) {
            Ok(Ok(d)) => Some(Arc::new(d)),
            Ok(Err(msg)) => return text(StatusCode::UNAUTHORIZED, msg),
            Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.message),
        },
        None => None,
    };
    let Some(signal) = state
        .routes
        .iter()
        .find(|(p, _)| p == parts.uri.path())
        .map(|(_, s)| *s)
    else {
        return text(StatusCode::NOT_FOUND, "404 page not found".into());
    };
    if parts.method != Method::POST {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "405 method not allowed, supported: [POST]".into(),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return r;
    }
    let format = match media_type(&parts.headers).as_deref() {
        Some(PROTOBUF) => Format::Protobuf,
        Some(JSON) => Format::Json,
        _ => {
            return text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("415 unsupported media type, supported: [{JSON}, {PROTOBUF}]"),
            );
        }
    };
    let encoding = match parts.headers.get(header::CONTENT_ENCODING) {
        None => Encoding::Identity,
        Some(v) => match v.to_str().ok().and_then(Encoding::parse) {
            Some(e) => e,
            None => {
                return text(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!(
                        "unsupported Content-Encoding: {}",
                        String::from_utf8_lossy(v.as_bytes())
                    ),
                );
            }
        },
    };
    if let Err(e) = state.handler.admit(signal) {
        return error_response(format, &e);
    }
    let too_large = || {
        error_response(
            format,
            &ExportError::new(
                ErrorKind::InvalidArgument,
                format!("request body too large (limit {} bytes)", state.max_body),
            ),
        )
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body as u64) {
        return too_large().closing();
    }

    let read = tokio::time::timeout(
        state.read_timeout,
        Limited::new(body, state.max_body).collect(),
    )
    .await;
    let raw = match read {
        Err(_) => {
            return text(
                StatusCode::REQUEST_TIMEOUT,
                "timed out reading the request body".into(),
            )
            .closing();
        }
        Ok(Err(e)) => {
            if e.is::<http_body_util::LengthLimitError>() {
                return too_large().closing();
            }
            return error_response(
                format,
                &ExportError::new(
                    ErrorKind::InvalidArgument,
                    format!("reading the request body: {e}"),
                ),
            )
            .closing();
        }
        Ok(Ok(c)) => c.to_bytes(),
    };
    // Kept for an exporter compressing with zstd: it sends this instead of compressing again.
    let zstd_source =
        (encoding == Encoding::Zstd && format == Format::Protobuf).then(|| raw.clone());
    let data = match decompress(encoding, raw, state.max_body) {
        Ok(d) => d,
        Err(DecompressError::TooLarge) => return too_large(),
        Err(DecompressError::Corrupt(m)) => {
            return error_response(
                format,
                &ExportError::new(
                    ErrorKind::InvalidArgument,
                    format!("decompressing the request body: {m}"),
                ),
            );
        }
    };
    let payload = match decode(format, signal, data) {
        Ok(p) => match zstd_source {
            Some(z) => p.with_zstd_source(z),
            None => p,
        },
        Err(e) => return error_response(format, &e),
    };
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
        transport: Transport::Http,
    };
    match call_handler(&*state.handler, req).await {
        Ok(ps) => {
            let (body, ct) = match format {
                Format::Protobuf => (encode_response_proto(ps.rejected, &ps.message), PROTOBUF),
                Format::Json => (encode_response_json(signal, ps.rejected, &ps.message), JSON),
            };
            let mut r = Response::new(OneShot::new(body));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            r
        }
        Err(e) => error_response(format, &e),
    }
}

fn decode(format: Format, signal: Signal, data: Bytes) -> Result<Payload, ExportError> {
    let bad = |e: ferrotel_pdata::DecodeError| {
        ExportError::new(ErrorKind::InvalidArgument, e.to_string())
    };
    match format {
        Format::Protobuf => guard(|| Payload::from_proto(signal, data))?.map_err(bad),
        // Straight to protobuf bytes (no prost structs), so a pipeline that does not modify
        // the data forwards them as a protobuf request would be. `from_proto` re-validates
        // and counts; the transcoder's output always passes (its checks are a superset).
        Format::Json => guard(|| {
            ferrotel_pdata::json::transcode(signal, &data)
                .and_then(|proto| Payload::from_proto(signal, proto))
        })?
        .map_err(bad),
    }
}

/// The media type of Content-Type, lower-cased, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(v.split(';').next()?.trim().to_ascii_lowercase())
}

/// A `google.rpc.Status` body in the request's format, with the status for `e.kind` and
/// `Retry-After` when the handler gave one.
fn error_response(format: Format, e: &ExportError) -> Response<OneShot> {
    let code = e.kind.grpc_code();
    let (body, ct) = match format {
        Format::Protobuf => (Bytes::from(encode_status(code, &e.message, None)), PROTOBUF),
        Format::Json => (encode_status_json(code, &e.message), JSON),
    };
    let mut r = Response::new(OneShot::new(body));
    *r.status_mut() = e.kind.http_status();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    if let Some(d) = e.retry_after
        && matches!(
            e.kind,
            ErrorKind::Unavailable | ErrorKind::ResourceExhausted
        )
    {
        // Whole seconds, rounded up: Retry-After has no finer unit.
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}

fn text(status: StatusCode, msg: String) -> Response<OneShot> {
    let mut r = Response::new(OneShot::new(Bytes::from(msg)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

trait ResponseExt {
    fn with_status(self, s: StatusCode) -> Self;
    /// Asks the client to close the connection: the unread rest of the body makes it unusable.
    fn closing(self) -> Self;
}

impl ResponseExt for Response<OneShot> {
    fn with_status(mut self, s: StatusCode) -> Self {
        *self.status_mut() = s;
        self
    }
    fn closing(mut self) -> Self {
        self.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        self
    }
}

/// CORS as the Go collector's confighttp (rs/cors) does it, for POST.
struct Cors {
    all_origins: bool,
    origins: Vec<(String, Option<String>)>,
    all_headers: bool,
    headers: Vec<String>,
    max_age: Option<Duration>,
}

impl Cors {
    fn new(s: &CorsSettings) -> Self {
        let mut origins = Vec::new();
        let mut all_origins = false;
        for o in &s.allowed_origins {
            let o = o.trim().to_ascii_lowercase();
            if o == "*" {
                all_origins = true;
            } else if let Some((pre, suf)) = o.split_once('*') {
                origins.push((pre.to_owned(), Some(suf.to_owned())));
            } else {
                origins.push((o, None));
            }
        }
        // Simple headers are always allowed (a browser sends Content-Type for every export).
        let mut headers: Vec<String> = ["accept", "content-type", "x-requested-with", "origin"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut all_headers = false;
        for h in &s.allowed_headers {
            if h.trim() == "*" {
                all_headers = true;
            } else {
                headers.push(h.trim().to_ascii_lowercase());
            }
        }
        Cors {
            all_origins,
            origins,
            all_headers,
            headers,
            max_age: s.max_age,
        }
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        if self.all_origins {
            return true;
        }
        let o = origin.to_ascii_lowercase();
        self.origins.iter().any(|(pre, suf)| match suf {
            None => *pre == o,
            Some(suf) => o.len() >= pre.len() + suf.len() && o.starts_with(pre) && o.ends_with(suf),
        })
    }

    fn allow_origin_value(&self, origin: &HeaderValue) -> HeaderValue {
        if self.all_origins {
            HeaderValue::from_static("*")
        } else {
            origin.clone()
        }
    }

    fn preflight(&self, h: &HeaderMap) -> Response<OneShot> {
        let mut r = Response::new(OneShot::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        let out = r.headers_mut();
        out.insert(
            header::VARY,
            HeaderValue::from_static(
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
            ),
        );
        let Some(origin) = h.get(header::ORIGIN) else {
            return r;
        };
        if !origin.to_str().is_ok_and(|o| self.origin_allowed(o)) {
            return r;
        }
        let method = h
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| m.to_str().ok())
            .unwrap_or("")
            .to_ascii_uppercase();
        if method != "POST" {
            return r;
        }
        let requested: Vec<String> = h
            .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        if !self.all_headers && !requested.iter().all(|x| self.headers.contains(x)) {
            return r;
        }
        let out = r.headers_mut();
        out.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            self.allow_origin_value(origin),
        );
        out.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST"),
        );
        if !requested.is_empty()
            && let Ok(v) = HeaderValue::from_str(&requested.join(", "))
        {
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        if let Some(age) = self.max_age.filter(|a| !a.is_zero()) {
            out.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from(age.as_secs()),
            );
        }
        r
    }

    fn decorate(&self, origin: &HeaderValue, r: &mut Response<OneShot>) {
        r.headers_mut()
            .append(header::VARY, HeaderValue::from_static("Origin"));
        if origin.to_str().is_ok_and(|o| self.origin_allowed(o)) {
            r.headers_mut().insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                self.allow_origin_value(origin),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_origins() {
        let c = Cors::new(&CorsSettings {
            allowed_origins: vec!["https://*.example.com".into(), "http://a.test".into()],
            allowed_headers: vec![],
            max_age: None,
        });
        assert!(c.origin_allowed("https://x.example.com"));
        assert!(c.origin_allowed("HTTPS://X.Example.com"));
        assert!(!c.origin_allowed("https://example.com"));
        assert!(!c.origin_allowed("http://x.example.com"));
        assert!(c.origin_allowed("http://a.test"));
        assert!(!c.origin_allowed("http://b.test"));
    }
}
