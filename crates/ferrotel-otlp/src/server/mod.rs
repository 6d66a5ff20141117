//! OTLP servers: gRPC ([`start_grpc`]) and HTTP ([`start_http`]).
//!
//! Both hand each export request to an [`ExportHandler`] as a validated, still-encoded
//! [`Payload`] and map the handler's answer to the wire as the OTLP specification says.

mod conn;
mod grpc;
mod http;
mod plain_http;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferrotel_pdata::{Payload, Signal};
use futures::future::BoxFuture;

pub use crate::PartialSuccess;
pub use crate::tls::{TlsServerSettings, server_config};

/// A TLS acceptor for a plain HTTP server beside OTLP's (the extensions' pages), offering
/// h2 and http/1.1 by ALPN; errors name the file that could not be used.
pub fn tls_acceptor(
    settings: &TlsServerSettings,
) -> Result<tokio_rustls::TlsAcceptor, crate::TransportError> {
    crate::tls::server_config(settings, &[b"h2", b"http/1.1"]).map(tokio_rustls::TlsAcceptor::from)
}
pub use conn::ServerHandle;
pub use grpc::start_grpc;
pub use http::start_http;
pub use plain_http::{PlainHttpServer, PlainRequest, PlainResponse, text_response};

/// The transport a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Grpc,
    Http,
}

/// What a [`ServerAuth`] learned about the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthData {
    /// Who the caller is (user, service account, certificate subject, ...).
    pub subject: String,
    /// Further claims the authenticator chooses to expose (tenant, scopes, ...).
    pub attributes: Vec<(String, String)>,
}

/// Who sent a request.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// The peer's address.
    pub addr: Option<SocketAddr>,
    /// Request headers (names lower-case), only when the server's `include_metadata` is set.
    pub metadata: Vec<(String, String)>,
    /// What the server's authenticator returned, when one is configured.
    pub auth: Option<Arc<AuthData>>,
}

/// One export request, decoded just enough to be validated and counted.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub payload: Payload,
    pub client: ClientInfo,
    pub transport: Transport,
}

/// Why an export failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The data is malformed; retrying will not help (gRPC InvalidArgument, HTTP 400).
    InvalidArgument,
    /// The pipeline refused under pressure; the client should retry (gRPC Unavailable, HTTP 503).
    Unavailable,
    /// Rate limit or quota (gRPC ResourceExhausted, HTTP 429).
    ResourceExhausted,
    /// Missing or bad credentials (gRPC Unauthenticated, HTTP 401).
    Unauthenticated,
    /// Credentials valid but not allowed (gRPC PermissionDenied, HTTP 403).
    PermissionDenied,
    /// A bug or unexpected failure (gRPC Internal, HTTP 500).
    Internal,
}

impl ErrorKind {
    pub(crate) fn grpc_code(self) -> i32 {
        use crate::grpc_status::code;
        match self {
            ErrorKind::InvalidArgument => code::INVALID_ARGUMENT,
            ErrorKind::Unavailable => code::UNAVAILABLE,
            ErrorKind::ResourceExhausted => code::RESOURCE_EXHAUSTED,
            ErrorKind::Unauthenticated => code::UNAUTHENTICATED,
            ErrorKind::PermissionDenied => code::PERMISSION_DENIED,
            ErrorKind::Internal => code::INTERNAL,
        }
    }

    pub(crate) fn http_status(self) -> ::http::StatusCode {
        use ::http::StatusCode;
        match self {
            ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A failed export, as the handler reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct ExportError {
    pub kind: ErrorKind,
    pub message: String,
    /// How long the client should wait before retrying (Unavailable / ResourceExhausted):
    /// sent as gRPC `RetryInfo` or HTTP `Retry-After`.
    pub retry_after: Option<Duration>,
}

impl ExportError {
    /// An error of `kind` without a retry hint.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ExportError {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A retryable refusal, optionally telling the client when to come back.
    pub fn unavailable(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        ExportError {
            kind: ErrorKind::Unavailable,
            message: message.into(),
            retry_after,
        }
    }
}

/// What a server does with the requests it receives (the receiver's pipeline entry).
pub trait ExportHandler: Send + Sync + 'static {
    /// Handles one export request.
    fn export(&self, req: ExportRequest)
    -> BoxFuture<'static, Result<PartialSuccess, ExportError>>;

    /// Consulted BEFORE the body is read (memory limiter): refusing here costs nothing.
    fn admit(&self, signal: Signal) -> Result<(), ExportError> {
        let _ = signal;
        Ok(())
    }
}

/// Server-side authentication, checked before anything else: a refused request never reaches
/// the handler and its body is never read.
pub trait ServerAuth: Send + Sync + 'static {
    /// Authenticates from the request headers; `Err` carries the reason (sent to the client).
    fn authenticate(&self, headers: &::http::HeaderMap) -> Result<AuthData, String>;
}

/// gRPC keepalive, as the Go collector's `keepalive` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeepaliveSettings {
    /// Close a connection with no request in flight for this long (GOAWAY, graceful).
    pub max_connection_idle: Option<Duration>,
    /// Close a connection after this long (GOAWAY, graceful).
    pub max_connection_age: Option<Duration>,
    /// After `max_connection_age`, how long in-flight requests may take before the connection
    /// is closed hard. `None` waits for them.
    pub max_connection_age_grace: Option<Duration>,
    /// Ping an idle connection this often.
    pub time: Option<Duration>,
    /// Close the connection if a ping is not answered within this.
    pub timeout: Option<Duration>,
    /// Enforcement policy: the minimum interval between client pings. Not enforced: hyper/h2
    /// answer pings without policing their rate; kept so configs round-trip.
    pub min_time: Option<Duration>,
    /// Enforcement policy: whether clients may ping with no active stream. Not enforced, as
    /// above.
    pub permit_without_stream: bool,
}

/// The gRPC server's settings.
#[derive(Clone)]
pub struct GrpcServerSettings {
    pub endpoint: SocketAddr,
    /// Listen on this Unix domain socket instead of `endpoint` (`transport: unix`).
    pub unix_socket: Option<std::path::PathBuf>,
    /// Largest accepted request message, after decompression (default 4 MiB).
    pub max_recv_msg_size: usize,
    pub tls: Option<TlsServerSettings>,
    pub keepalive: KeepaliveSettings,
    /// Put request headers into [`ClientInfo::metadata`].
    pub include_metadata: bool,
    pub auth: Option<Arc<dyn ServerAuth>>,
    /// The signals whose services are served; the others answer Unimplemented.
    pub signals: Vec<Signal>,
}

impl Default for GrpcServerSettings {
    fn default() -> Self {
        GrpcServerSettings {
            endpoint: SocketAddr::from(([127, 0, 0, 1], 4317)),
            unix_socket: None,
            max_recv_msg_size: 4 * 1024 * 1024,
            tls: None,
            keepalive: KeepaliveSettings::default(),
            include_metadata: false,
            auth: None,
            signals: Signal::ALL.to_vec(),
        }
    }
}

/// CORS, with the Go collector's (rs/cors) semantics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsSettings {
    /// Origins allowed to send requests: exact, `*`, or with one `*` wildcard
    /// (`https://*.example.com`).
    pub allowed_origins: Vec<String>,
    /// Request headers allowed beyond the always-allowed simple ones; `*` allows any.
    pub allowed_headers: Vec<String>,
    /// How long browsers may cache a preflight answer.
    pub max_age: Option<Duration>,
}

/// The HTTP server's settings.
#[derive(Clone)]
pub struct HttpServerSettings {
    pub endpoint: SocketAddr,
    /// Listen on this Unix domain socket instead of `endpoint` (`transport: unix`).
    pub unix_socket: Option<std::path::PathBuf>,
    /// URL path per signal; missing signals use [`Signal::default_http_path`].
    pub paths: HashMap<Signal, String>,
    /// Largest accepted body, compressed and after decompression (default 20 MiB).
    pub max_request_body_size: usize,
    pub cors: Option<CorsSettings>,
    pub tls: Option<TlsServerSettings>,
    /// Put request headers into [`ClientInfo::metadata`].
    pub include_metadata: bool,
    pub auth: Option<Arc<dyn ServerAuth>>,
    /// The signals served; the others' paths answer 404.
    pub signals: Vec<Signal>,
    /// Time allowed for a request's headers to arrive (slow-loris protection; default 30 s).
    pub read_header_timeout: Duration,
    /// Time allowed for a request's body to arrive (default 30 s).
    pub read_timeout: Duration,
}

impl Default for HttpServerSettings {
    fn default() -> Self {
        HttpServerSettings {
            endpoint: SocketAddr::from(([127, 0, 0, 1], 4318)),
            unix_socket: None,
            paths: HashMap::new(),
            max_request_body_size: 20 * 1024 * 1024,
            cors: None,
            tls: None,
            include_metadata: false,
            auth: None,
            signals: Signal::ALL.to_vec(),
            read_header_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(30),
        }
    }
}

/// Request headers as [`ClientInfo::metadata`].
pub(crate) fn metadata_of(headers: &::http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Runs a decoding step that may panic (a decoder bug must not take the connection down).
pub(crate) fn guard<T>(f: impl FnOnce() -> T) -> Result<T, ExportError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|_| {
        ExportError::new(
            ErrorKind::Internal,
            "internal error while decoding the request",
        )
    })
}

/// Calls the handler, turning a panic into an Internal error.
pub(crate) async fn call_handler(
    handler: &dyn ExportHandler,
    req: ExportRequest,
) -> Result<PartialSuccess, ExportError> {
    use futures::FutureExt;
    let fut = match guard(|| handler.export(req)) {
        Ok(f) => f,
        Err(e) => return Err(e),
    };
    match std::panic::AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => r,
        Err(_) => Err(ExportError::new(
            ErrorKind::Internal,
            "internal error while handling the request",
        )),
    }
}
