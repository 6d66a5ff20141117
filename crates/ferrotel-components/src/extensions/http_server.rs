//! The page-serving extensions' server (health_check, zpages, pprof): ferrotel-otlp's
//! [`PlainHttpServer`] bound at `start` from the extension's `endpoint`, aborted at `shutdown`.

use std::future::Future;

use bytes::Bytes;
use ferrotel_otlp::server::{PlainHttpServer, PlainRequest};
use http_body_util::Full;
use tokio_rustls::TlsAcceptor;

use ferrotel_runtime::ComponentError;
use ferrotel_runtime::config::parse_endpoint;

#[derive(Default)]
pub(crate) struct ServerTask(PlainHttpServer);

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
        F: Fn(PlainRequest) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = http::Response<Full<Bytes>>> + Send + 'static,
    {
        let addr = parse_endpoint(endpoint).map_err(ComponentError::new)?;
        self.0
            .start("extension", addr, tls, handler)
            .await
            .map(|_| ())
            .map_err(ComponentError::new)
    }

    /// Stops accepting and drops open connections.
    pub(crate) fn stop(&self) {
        self.0.stop();
    }
}
