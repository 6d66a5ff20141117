//! The small HTTP server the page-serving extensions share (health_check, zpages, pprof):
//! bound at `start`, HTTP/1 and HTTP/2 on every connection, TLS where configured, aborted at
//! `shutdown`.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use ferrotel_runtime::ComponentError;
use ferrotel_runtime::config::parse_endpoint;

/// A running server's task, if any.
#[derive(Default)]
pub(crate) struct ServerTask(Mutex<Option<tokio::task::JoinHandle<()>>>);

impl ServerTask {
    /// Binds `endpoint` (an error says which address could not be bound) and answers every
    /// request with `handler`, over TLS when `tls` is given.
    pub(crate) async fn start<F, Fut>(
        &self,
        endpoint: &str,
        tls: Option<TlsAcceptor>,
        handler: F,
    ) -> Result<(), ComponentError>
    where
        F: Fn(http::Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = http::Response<Full<Bytes>>> + Send + 'static,
    {
        let addr = parse_endpoint(endpoint).map_err(ComponentError::new)?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| ComponentError::new(format!("cannot listen on {addr}: {e}")))?;
        let task = tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                let handler = handler.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
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
                        Some(acceptor) => {
                            let handshake = tokio::time::timeout(
                                std::time::Duration::from_secs(10),
                                acceptor.accept(stream),
                            );
                            match handshake.await {
                                Ok(Ok(stream)) => {
                                    let _ =
                                        builder.serve_connection(TokioIo::new(stream), svc).await;
                                }
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "TLS handshake failed")
                                }
                                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                            }
                        }
                    }
                });
            }
        });
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        Ok(())
    }

    /// Stops accepting and drops open connections.
    pub(crate) fn stop(&self) {
        if let Some(t) = self.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
            t.abort();
        }
    }
}
