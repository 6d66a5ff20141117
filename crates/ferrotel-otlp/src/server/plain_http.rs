//! The small HTTP server that components other than OTLP share (the extensions' pages, the
//! Prometheus exporter and remote-write receiver, the Zipkin and Jaeger receivers): HTTP/1.1
//! and h2c (or h2 by ALPN over TLS) on every connection, one accept loop that owns its
//! connections, so [`PlainHttpServer::stop`] closes them all.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub type PlainRequest = http::Request<Incoming>;
pub type PlainResponse = http::Response<Full<Bytes>>;

/// How long a client may take over its TLS handshake before it is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A response with a plain-text body.
pub fn text_response(status: http::StatusCode, body: impl Into<String>) -> PlainResponse {
    let mut r = http::Response::new(Full::new(Bytes::from(body.into())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// A server's accept task, if it runs.
#[derive(Default)]
pub struct PlainHttpServer {
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl PlainHttpServer {
    /// Binds `addr` and answers every request with `handler` (over TLS when `tls` is given)
    /// until [`PlainHttpServer::stop`]; returns the bound address. `what` names the server in
    /// errors and logs.
    /// The response body may be any hyper body (gRPC answers end in trailers).
    pub async fn start<F, Fut, B>(
        &self,
        what: &str,
        addr: SocketAddr,
        tls: Option<TlsAcceptor>,
        handler: F,
    ) -> Result<SocketAddr, String>
    where
        F: Fn(PlainRequest) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = http::Response<B>> + Send + 'static,
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("{what}: cannot listen on {addr}: {e}"))?;
        let bound = listener.local_addr().map_err(|e| format!("{what}: {e}"))?;
        let what = what.to_owned();
        let task = tokio::spawn(async move {
            // Owned here, so aborting this task drops (closes) every connection.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!("{what}: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                while connections.try_join_next().is_some() {}
                let handler = handler.clone();
                let tls = tls.clone();
                let what = what.clone();
                connections.spawn(async move {
                    let svc = service_fn(move |req| {
                        let fut = handler(req);
                        async move { Ok::<_, Infallible>(fut.await) }
                    });
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match tls {
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                        }
                        // The handshake runs in the connection's task, so a slow client holds
                        // up no one else.
                        Some(acceptor) => {
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(stream)) => {
                                    let _ =
                                        builder.serve_connection(TokioIo::new(stream), svc).await;
                                }
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "{what}: TLS handshake failed")
                                }
                                Err(_) => tracing::debug!(%peer, "{what}: TLS handshake timed out"),
                            }
                        }
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

    /// Stops accepting and closes open connections.
    pub fn stop(&self) {
        if let Some(t) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            t.abort();
        }
    }
}

impl Drop for PlainHttpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(addr: SocketAddr) -> std::io::Result<String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(b"GET /x HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
            .await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        Ok(out)
    }

    #[tokio::test]
    async fn serves_until_stopped_then_refuses() {
        let server = PlainHttpServer::default();
        let addr = server
            .start(
                "test server",
                "127.0.0.1:0".parse().unwrap(),
                None,
                |req: PlainRequest| async move {
                    text_response(http::StatusCode::OK, format!("path {}", req.uri().path()))
                },
            )
            .await
            .unwrap();
        let answer = get(addr).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("path /x"), "{answer}");
        server.stop();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(get(addr).await.is_err(), "still serving after stop");
    }

    #[tokio::test]
    async fn a_taken_port_is_a_named_error() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let err = PlainHttpServer::default()
            .start("zipkin receiver", addr, None, |_req: PlainRequest| async {
                text_response(http::StatusCode::OK, "")
            })
            .await
            .unwrap_err();
        assert!(
            err.starts_with("zipkin receiver: cannot listen on"),
            "{err}"
        );
    }
}
