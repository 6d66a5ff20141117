//! The OTLP client: sends one payload per call over gRPC, HTTP/protobuf or HTTP/JSON and
//! classifies failures as the OTLP specification and the Go exporters do. It does not retry:
//! the caller's queue decides what to do with a retryable [`SendError`].

mod grpc;
mod http;
mod post;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferrotel_pdata::{Payload, Signal};

pub use crate::PartialSuccess;
use crate::TransportError;
pub use crate::tls::ClientTls;
pub use post::{PostClient, PostSettings};

/// How to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    #[default]
    Grpc,
    HttpProtobuf,
    HttpJson,
}

/// Request compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Zstd,
    /// Snappy block format (HTTP only).
    Snappy,
    /// zlib (HTTP only).
    Deflate,
    /// LZ4 frame format (HTTP only).
    Lz4,
}

impl Compression {
    pub(crate) fn encoding(self) -> crate::compression::Encoding {
        use crate::compression::Encoding;
        match self {
            Compression::None => Encoding::Identity,
            Compression::Gzip => Encoding::Gzip,
            Compression::Zstd => Encoding::Zstd,
            Compression::Snappy => Encoding::Snappy,
            Compression::Deflate => Encoding::Deflate,
            Compression::Lz4 => Encoding::Lz4,
        }
    }

    /// The `Content-Encoding` / `grpc-encoding` token.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "identity",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Snappy => "snappy",
            Compression::Deflate => "deflate",
            Compression::Lz4 => "lz4",
        }
    }
}

/// Client-side authentication: adds credentials to each request's headers.
pub trait ClientAuth: Send + Sync + 'static {
    /// Adds or replaces headers; `Err` fails the export (not retryable).
    fn apply(&self, headers: &mut ::http::HeaderMap) -> Result<(), String>;
}

/// The client's settings.
#[derive(Clone)]
pub struct ClientSettings {
    pub protocol: Protocol,
    /// gRPC: `host:port` or `http(s)://host:port`. HTTP: base URL to which the signal's path
    /// (`/v1/traces`, ...) is appended.
    pub endpoint: String,
    /// Full per-signal URLs (HTTP), used as-is.
    pub signal_endpoints: HashMap<Signal, String>,
    pub compression: Compression,
    /// `compression_params::level` (HTTP only, as in Go); `None`: our default level.
    pub compression_level: Option<i32>,
    /// Extra request headers (gRPC metadata).
    pub headers: Vec<(String, String)>,
    /// Limit for one export call, connecting included.
    pub timeout: Duration,
    pub tls: ClientTls,
    pub auth: Option<Arc<dyn ClientAuth>>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            protocol: Protocol::Grpc,
            endpoint: String::new(),
            signal_endpoints: HashMap::new(),
            compression: Compression::None,
            compression_level: None,
            headers: Vec::new(),
            timeout: Duration::from_secs(5),
            tls: ClientTls::default(),
            auth: None,
        }
    }
}

/// A failed export.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct SendError {
    /// Whether sending the same data again may succeed.
    pub retryable: bool,
    /// When the server asked the client to come back (RetryInfo / Retry-After).
    pub retry_after: Option<Duration>,
    pub message: String,
    /// What answered: "HTTP 503", "gRPC Unavailable", "timeout", "connection", ...
    pub status: String,
}

impl SendError {
    fn permanent(status: &str, message: impl Into<String>) -> Self {
        SendError {
            retryable: false,
            retry_after: None,
            message: message.into(),
            status: status.to_owned(),
        }
    }

    fn retryable(status: &str, message: impl Into<String>) -> Self {
        SendError {
            retryable: true,
            retry_after: None,
            message: message.into(),
            status: status.to_owned(),
        }
    }
}

enum Inner {
    Grpc(Box<grpc::GrpcClient>),
    Http(Box<http::HttpClient>),
}

/// An OTLP exporter's connection(s) to one destination. Cheap to call concurrently: connections
/// are pooled (HTTP) or multiplexed (gRPC).
pub struct OtlpClient {
    inner: Inner,
}

impl OtlpClient {
    /// Builds the client; nothing connects until the first export. Must be called within a
    /// Tokio runtime.
    pub fn new(settings: ClientSettings) -> Result<Self, TransportError> {
        let inner = match settings.protocol {
            Protocol::Grpc => Inner::Grpc(Box::new(grpc::GrpcClient::new(&settings)?)),
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                Inner::Http(Box::new(http::HttpClient::new(&settings)?))
            }
        };
        Ok(OtlpClient { inner })
    }

    /// Sends one payload.
    pub async fn export(&self, payload: &Payload) -> Result<PartialSuccess, SendError> {
        match &self.inner {
            Inner::Grpc(c) => c.export(payload).await,
            Inner::Http(c) => c.export(payload).await,
        }
    }
}

/// The configured headers as a header map (checked once, at construction).
fn header_map(headers: &[(String, String)]) -> Result<::http::HeaderMap, TransportError> {
    let mut map = ::http::HeaderMap::new();
    for (k, v) in headers {
        let name = ::http::HeaderName::from_bytes(k.as_bytes())
            .map_err(|e| TransportError::Config(format!("header name {k:?}: {e}")))?;
        let value = ::http::HeaderValue::from_str(v)
            .map_err(|e| TransportError::Config(format!("header {k:?} value: {e}")))?;
        map.append(name, value);
    }
    Ok(map)
}

/// `a: b: c` from an error and its sources: hyper-util's client error says little at the top
/// level, the cause says what happened.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The TLS connector both protocols use (hyper-rustls over hyper-util's HTTP connector).
/// The HTTP(S) connector every client here uses (TLS per `tls` when `use_tls`); public for
/// other HTTP clients of the collector (the prometheus receiver's scrapes).
pub fn connector(
    tls: &ClientTls,
    use_tls: bool,
    timeout: Duration,
    http2_only: bool,
) -> Result<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    TransportError,
> {
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(timeout));
    let cfg = if use_tls {
        crate::tls::client_config(tls)?
    } else {
        // Never used for plaintext URLs; avoids loading system roots for nothing.
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::Tls(e.to_string()))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
    };
    let b = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(cfg)
        .https_or_http();
    let b = match &tls.server_name_override {
        Some(name) if !name.is_empty() => {
            let name = rustls_pki_types::ServerName::try_from(name.clone())
                .map_err(|e| TransportError::Tls(format!("server_name_override {name:?}: {e}")))?;
            b.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
        }
        _ => b,
    };
    Ok(if http2_only {
        b.enable_http2().wrap_connector(http)
    } else {
        b.enable_all_versions().wrap_connector(http)
    })
}
