//! The OTLP exporter waits as long as the server asks before retrying: HTTP 429/503 with
//! `Retry-After` and gRPC `RetryInfo` (on Unavailable and ResourceExhausted), against
//! ferrotel-otlp's server in-process. The exporter's own backoff is set to a few milliseconds,
//! so a retry that comes about a second later can only be the server's hint being honoured.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrotel_otlp::client::{Compression, Protocol};
use ferrotel_otlp::server::{
    ErrorKind, ExportError, ExportHandler, ExportRequest, GrpcServerSettings, HttpServerSettings,
    PartialSuccess, ServerHandle, start_grpc, start_http,
};
use ferrotel_sdk::{OtlpExporterConfig, OtlpSpanExporter, Sampler, TracerProvider};
use futures::future::BoxFuture;

/// Refuses the first `refusals` requests with `error`, then accepts; records arrival times.
struct Refuse {
    error: ExportError,
    refusals: usize,
    seen: AtomicUsize,
    arrivals: Mutex<Vec<Instant>>,
}

impl ExportHandler for Refuse {
    fn export(
        &self,
        _req: ExportRequest,
    ) -> BoxFuture<'static, Result<PartialSuccess, ExportError>> {
        self.arrivals.lock().unwrap().push(Instant::now());
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        let result = if n < self.refusals {
            Err(self.error.clone())
        } else {
            Ok(PartialSuccess::default())
        };
        Box::pin(async move { result })
    }
}

struct Server {
    rt: tokio::runtime::Runtime,
    handle: Option<ServerHandle>,
    handler: Arc<Refuse>,
}

impl Server {
    fn start(grpc: bool, error: ExportError, refusals: usize) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let handler = Arc::new(Refuse {
            error,
            refusals,
            seen: AtomicUsize::new(0),
            arrivals: Mutex::new(Vec::new()),
        });
        let endpoint = SocketAddr::from(([127, 0, 0, 1], 0));
        let h: Arc<dyn ExportHandler> = handler.clone();
        let handle = rt
            .block_on(async {
                if grpc {
                    let s = GrpcServerSettings {
                        endpoint,
                        ..Default::default()
                    };
                    start_grpc(s, h).await
                } else {
                    let s = HttpServerSettings {
                        endpoint,
                        ..Default::default()
                    };
                    start_http(s, h).await
                }
            })
            .unwrap();
        Server {
            rt,
            handle: Some(handle),
            handler,
        }
    }

    /// Gaps between consecutive requests.
    fn gaps(&self) -> Vec<Duration> {
        let a = self.handler.arrivals.lock().unwrap();
        a.windows(2).map(|w| w[1] - w[0]).collect()
    }

    fn config(&self, grpc: bool, timeout: Duration) -> OtlpExporterConfig {
        let addr = self.handle.as_ref().unwrap().local_addr();
        OtlpExporterConfig {
            protocol: if grpc {
                Protocol::Grpc
            } else {
                Protocol::HttpProtobuf
            },
            endpoint: if grpc {
                format!("http://{addr}")
            } else {
                format!("http://{addr}/v1/traces")
            },
            compression: Compression::None,
            timeout,
            // Backoff alone would retry within milliseconds.
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(10),
            ..OtlpExporterConfig::default()
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.rt
                .block_on(async { h.shutdown(Duration::from_millis(10)).await });
        }
    }
}

/// Exports one span through a simple processor (the export, retries included, runs on this
/// thread) and returns how long it took.
fn export_one(config: OtlpExporterConfig) -> Duration {
    let provider = TracerProvider::builder()
        .with_sampler(Sampler::AlwaysOn)
        .with_simple_exporter(OtlpSpanExporter::new(config).unwrap())
        .build();
    let tracer = provider.tracer("retry-after-test");
    let start = Instant::now();
    tracer.start_span("retried").end();
    let took = start.elapsed();
    let _ = provider.shutdown();
    took
}

fn error(kind: ErrorKind, retry_after: Duration) -> ExportError {
    ExportError {
        kind,
        message: "come back later".into(),
        retry_after: Some(retry_after),
    }
}

fn assert_waited(server: &Server, at_least: Duration) {
    let gaps = server.gaps();
    assert_eq!(gaps.len(), 1, "one refusal, one retry: {gaps:?}");
    assert!(
        gaps[0] >= at_least && gaps[0] < at_least + Duration::from_millis(900),
        "retried after {:?}, server asked for {at_least:?}",
        gaps[0]
    );
}

#[test]
fn http_429_with_retry_after() {
    let server = Server::start(
        false,
        error(ErrorKind::ResourceExhausted, Duration::from_secs(1)),
        1,
    );
    export_one(server.config(false, Duration::from_secs(5)));
    // Retry-After is whole seconds on the wire.
    assert_waited(&server, Duration::from_millis(990));
}

#[test]
fn http_503_with_retry_after() {
    let server = Server::start(
        false,
        error(ErrorKind::Unavailable, Duration::from_secs(1)),
        1,
    );
    export_one(server.config(false, Duration::from_secs(5)));
    assert_waited(&server, Duration::from_millis(990));
}

#[test]
fn grpc_unavailable_with_retry_info() {
    let server = Server::start(
        true,
        error(ErrorKind::Unavailable, Duration::from_millis(700)),
        1,
    );
    export_one(server.config(true, Duration::from_secs(5)));
    assert_waited(&server, Duration::from_millis(690));
}

#[test]
fn grpc_resource_exhausted_with_retry_info() {
    let server = Server::start(
        true,
        error(ErrorKind::ResourceExhausted, Duration::from_millis(600)),
        1,
    );
    export_one(server.config(true, Duration::from_secs(5)));
    assert_waited(&server, Duration::from_millis(590));
}

#[test]
fn a_retry_after_past_the_deadline_gives_up_at_once() {
    for grpc in [false, true] {
        let server = Server::start(
            grpc,
            error(ErrorKind::Unavailable, Duration::from_secs(30)),
            usize::MAX,
        );
        // The simple processor's export deadline is 30 s; the wait asked for reaches past it.
        let took = export_one(server.config(grpc, Duration::from_secs(2)));
        assert!(took < Duration::from_secs(3), "grpc={grpc}: {took:?}");
        assert_eq!(server.gaps().len(), 0, "grpc={grpc}: no retry");
    }
}
