//! OTLP export against real OTLP servers (ferrotel-otlp's, in-process) over every protocol,
//! then with the server down or stalled: the application never blocks, drops are counted, and
//! shutdown returns within its timeout. The SDK side runs on plain threads, no tokio runtime.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrotel_otlp::client::{Compression, Protocol};
use ferrotel_otlp::server::{
    ExportError, ExportHandler, ExportRequest, GrpcServerSettings, HttpServerSettings,
    PartialSuccess, ServerHandle, start_grpc, start_http,
};
use ferrotel_pdata::Request;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::any_value::Value as AnyValue;
use ferrotel_sdk::opentelemetry::KeyValue;
use ferrotel_sdk::opentelemetry::trace::SpanKind;
use ferrotel_sdk::{
    BatchConfig, BatchSpanProcessor, OtlpExporterConfig, OtlpSpanExporter, Resource, Sampler,
    TracerProvider,
};
use futures::future::BoxFuture;

#[derive(Default)]
struct Collect {
    requests: Mutex<Vec<ExportTraceServiceRequest>>,
    stall: bool,
}

impl ExportHandler for Collect {
    fn export(
        &self,
        req: ExportRequest,
    ) -> BoxFuture<'static, Result<PartialSuccess, ExportError>> {
        if let Ok(Request::Traces(t)) = req.payload.into_request() {
            self.requests.lock().unwrap().push(t);
        }
        let stall = self.stall;
        Box::pin(async move {
            if stall {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Ok(PartialSuccess::default())
        })
    }
}

struct Server {
    rt: tokio::runtime::Runtime,
    handle: Option<ServerHandle>,
    collect: Arc<Collect>,
}

impl Server {
    fn start(grpc: bool, stall: bool) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let collect = Arc::new(Collect {
            stall,
            ..Default::default()
        });
        let endpoint = SocketAddr::from(([127, 0, 0, 1], 0));
        let handler: Arc<dyn ExportHandler> = collect.clone();
        let handle = rt.block_on(async {
            if grpc {
                start_grpc(
                    GrpcServerSettings {
                        endpoint,
                        ..Default::default()
                    },
                    handler,
                )
                .await
            } else {
                start_http(
                    HttpServerSettings {
                        endpoint,
                        ..Default::default()
                    },
                    handler,
                )
                .await
            }
        });
        Server {
            rt,
            handle: Some(handle.unwrap()),
            collect,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.handle.as_ref().unwrap().local_addr()
    }

    fn spans(&self) -> Vec<ferrotel_pdata::proto::trace::v1::Span> {
        self.collect
            .requests
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| r.resource_spans.iter())
            .flat_map(|rs| rs.scope_spans.iter())
            .flat_map(|ss| ss.spans.iter().cloned())
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let h = self.handle.take();
        self.rt.block_on(async {
            if let Some(h) = h {
                h.shutdown(Duration::from_millis(10)).await;
            }
        });
    }
}

fn exporter_config(
    protocol: Protocol,
    addr: SocketAddr,
    compression: Compression,
) -> OtlpExporterConfig {
    OtlpExporterConfig {
        protocol,
        endpoint: if protocol == Protocol::Grpc {
            format!("http://{addr}")
        } else {
            format!("http://{addr}/v1/traces")
        },
        compression,
        timeout: Duration::from_secs(5),
        headers: vec![("x-tenant".into(), "t1".into())],
        ..OtlpExporterConfig::default()
    }
}

fn provider(
    config: OtlpExporterConfig,
    batch: BatchConfig,
) -> (TracerProvider, ferrotel_sdk::BatchStatsHandle) {
    let exporter = OtlpSpanExporter::new(config).unwrap();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_config(batch)
        .build();
    let stats = processor.stats_handle();
    let p = TracerProvider::builder()
        .with_resource(Resource::new([KeyValue::new(
            "service.name",
            "export-test",
        )]))
        .with_sampler(Sampler::AlwaysOn)
        .with_span_processor(processor)
        .build();
    (p, stats)
}

fn export_roundtrip(protocol: Protocol, compression: Compression) {
    let server = Server::start(protocol == Protocol::Grpc, false);
    let (p, stats) = provider(
        exporter_config(protocol, server.addr(), compression),
        BatchConfig {
            schedule_delay: Duration::from_millis(100),
            ..Default::default()
        },
    );
    let t = p.tracer("export-test");
    let mut sent = Vec::new();
    for i in 0..25i64 {
        let mut s = t.span(format!("op-{i}")).kind(SpanKind::Client).start();
        s.set_attribute(KeyValue::new("i", i));
        s.set_attribute(KeyValue::new("s", "v"));
        s.add_event("ev", vec![KeyValue::new("e", true)]);
        sent.push((s.span_context().span_id().to_bytes(), i));
        s.end();
    }
    p.shutdown_with_timeout(Duration::from_secs(10)).unwrap();
    let got = server.spans();
    assert_eq!(got.len(), sent.len(), "{protocol:?} {compression:?}");
    for (id, i) in sent {
        let s = got
            .iter()
            .find(|s| s.span_id.as_ref() == id)
            .unwrap_or_else(|| panic!("span {i} missing"));
        assert_eq!(s.name, format!("op-{i}"));
        assert_eq!(s.kind, 3);
        assert_eq!(s.attributes[0].key, "i");
        assert_eq!(
            s.attributes[0].value.as_ref().unwrap().value,
            Some(AnyValue::IntValue(i))
        );
        assert_eq!(s.events[0].name, "ev");
        assert!(s.end_time_unix_nano >= s.start_time_unix_nano);
    }
    let reqs = server.collect.requests.lock().unwrap();
    let rs = &reqs[0].resource_spans[0];
    let res = rs.resource.as_ref().unwrap();
    assert!(res.attributes.iter().any(|kv| kv.key == "service.name"
        && kv.value.as_ref().unwrap().value == Some(AnyValue::StringValue("export-test".into()))));
    assert_eq!(
        rs.scope_spans[0].scope.as_ref().unwrap().name,
        "export-test"
    );
    assert_eq!(stats.get().exported, 25);
    assert_eq!(stats.get().dropped, 0);
}

#[test]
fn grpc() {
    export_roundtrip(Protocol::Grpc, Compression::None);
}

#[test]
fn grpc_gzip() {
    export_roundtrip(Protocol::Grpc, Compression::Gzip);
}

#[test]
fn http_protobuf() {
    export_roundtrip(Protocol::HttpProtobuf, Compression::None);
}

#[test]
fn http_protobuf_zstd() {
    export_roundtrip(Protocol::HttpProtobuf, Compression::Zstd);
}

#[test]
fn http_json_gzip() {
    export_roundtrip(Protocol::HttpJson, Compression::Gzip);
}

/// Creates many spans against a broken backend; checks the application's side.
fn never_blocks(protocol: Protocol, addr: SocketAddr) -> ferrotel_sdk::BatchStats {
    let (p, stats) = provider(
        OtlpExporterConfig {
            timeout: Duration::from_millis(300),
            ..exporter_config(protocol, addr, Compression::None)
        },
        BatchConfig {
            schedule_delay: Duration::from_millis(20),
            max_queue_size: 100,
            max_export_batch_size: 10,
            export_timeout: Duration::from_millis(500),
        },
    );
    let t = p.tracer("down");
    let start = Instant::now();
    let mut worst = Duration::ZERO;
    let mut ids = HashSet::new();
    for _ in 0..20_000 {
        let s0 = Instant::now();
        let mut s = t.start_span("op");
        s.set_attribute(KeyValue::new("k", 1));
        ids.insert(s.span_context().span_id());
        s.end();
        worst = worst.max(s0.elapsed());
    }
    let took = start.elapsed();
    // 20 000 spans in well under a second even on a loaded 2-core machine; no single span
    // waited for the network.
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(worst < Duration::from_millis(200), "worst span {worst:?}");
    let start = Instant::now();
    let _ = p.shutdown_with_timeout(Duration::from_secs(1));
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "shutdown took {:?}",
        start.elapsed()
    );
    let s = stats.get();
    assert!(s.dropped > 0, "{s:?}");
    assert_eq!(s.exported, 0, "{s:?}");
    s
}

#[test]
fn collector_down() {
    // A port nothing listens on.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    never_blocks(Protocol::HttpProtobuf, addr);
    never_blocks(Protocol::Grpc, addr);
}

#[test]
fn collector_stalled() {
    let server = Server::start(false, true);
    never_blocks(Protocol::HttpProtobuf, server.addr());
    let server = Server::start(true, true);
    never_blocks(Protocol::Grpc, server.addr());
}
