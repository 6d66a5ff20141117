//! A small HTTP/1.1 + h2c server for the pull exporter and the remote-write receiver: one
//! accept loop owning every connection, so stopping it closes them all.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use ferrotel_runtime::BoxFuture;
use ferrotel_runtime::config::{ConfigError, duration};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// `tls` of the exporter's and the remote-write receiver's servers: the Go Collector's
/// configtls server settings (the OTLP receiver's keys), served with the same rustls setup.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerTls {
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    /// Clients must present a certificate signed by this CA (mTLS).
    pub client_ca_file: Option<String>,
    /// Accepted for compatibility; clients are verified against `client_ca_file`.
    pub ca_file: Option<String>,
    /// "1.2" (default) or "1.3".
    pub min_version: Option<String>,
    /// Accepted for compatibility (rustls serves up to 1.3).
    pub max_version: Option<String>,
    /// Accepted for compatibility; certificates are read at start.
    #[serde(deserialize_with = "duration::deserialize")]
    pub reload_interval: std::time::Duration,
}

impl ServerTls {
    /// Both files are required; the versions must be ones rustls serves.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.cert_file.as_deref().unwrap_or("").is_empty()
            || self.key_file.as_deref().unwrap_or("").is_empty()
        {
            return Err(ConfigError::field(
                "tls",
                "cert_file and key_file are both required to serve TLS",
            ));
        }
        for (field, v) in [
            ("min_version", &self.min_version),
            ("max_version", &self.max_version),
        ] {
            if let Some(v) = v
                && !matches!(v.as_str(), "" | "1.2" | "1.3")
            {
                return Err(ConfigError::field(
                    &format!("tls::{field}"),
                    format!("unsupported TLS version {v:?} (supported: \"1.2\", \"1.3\")"),
                ));
            }
        }
        Ok(())
    }

    /// The rustls server config (reads the certificate and key files).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, String> {
        let settings = ferrotel_otlp::server::TlsServerSettings {
            cert_file: self.cert_file.clone().unwrap_or_default().into(),
            key_file: self.key_file.clone().unwrap_or_default().into(),
            client_ca_file: self.client_ca_file.clone().map(Into::into),
            min_version: self.min_version.clone(),
        };
        ferrotel_otlp::server::server_config(&settings, &[b"h2", b"http/1.1"])
            .map_err(|e| e.to_string())
    }
}

pub type Request = http::Request<hyper::body::Incoming>;
pub type Response = http::Response<Full<Bytes>>;
pub type Handler = Arc<dyn Fn(Request) -> BoxFuture<'static, Response> + Send + Sync>;

/// A response with a plain-text body.
pub fn text(status: http::StatusCode, body: impl Into<String>) -> Response {
    let mut r = http::Response::new(Full::new(Bytes::from(body.into())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[derive(Default)]
pub struct Server {
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Server {
    /// Binds `addr` and serves `handler` (over TLS when `tls` is set) until [`Server::stop`];
    /// returns the bound address.
    pub async fn start(
        &self,
        what: &str,
        addr: SocketAddr,
        tls: Option<&ServerTls>,
        handler: Handler,
    ) -> Result<SocketAddr, String> {
        let acceptor = tls
            .map(|t| t.server_config().map(TlsAcceptor::from))
            .transpose()
            .map_err(|e| format!("tls: {e}"))?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        let what = what.to_owned();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!("{what}: accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                while connections.try_join_next().is_some() {}
                let handler = handler.clone();
                let acceptor = acceptor.clone();
                let what = what.clone();
                connections.spawn(async move {
                    let svc = service_fn(move |req: Request| {
                        let fut = handler(req);
                        async move { Ok::<_, Infallible>(fut.await) }
                    });
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match acceptor {
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                        }
                        // The handshake runs in the connection's task, so a slow client holds
                        // up no one else.
                        Some(a) => match a.accept(stream).await {
                            Ok(tls) => {
                                let _ = builder.serve_connection(TokioIo::new(tls), svc).await;
                            }
                            Err(e) => tracing::debug!("{what}: TLS handshake failed: {e}"),
                        },
                    }
                });
            }
        });
        if let Some(old) = self
            .task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(task)
        {
            old.abort();
        }
        Ok(bound)
    }

    pub fn stop(&self) {
        if let Some(t) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            t.abort();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
