//! Spans through the batch processor into the OTLP exporter, against ferrotel-otlp's server
//! running in-process as the collector (it decodes every request and counts the spans).
//!
//! `cargo bench -p ferrotel-sdk --bench batch_otlp` prints, per protocol, with one application
//! thread creating spans (5 attributes) as fast as it can, then at 50 000 spans/s: spans/s
//! received by the collector, the spans the processor dropped (queue full), the application
//! thread's CPU time per span, and the CPU time of the SDK's batch and exporter threads per
//! exported span (so spans/s per core of the export path).
//!
//! Against a running ferrotel collector instead (its OTLP receiver): `BENCH_COLLECTOR_GRPC=
//! 127.0.0.1:4317` and/or `BENCH_COLLECTOR_HTTP=127.0.0.1:4318`; "received" is then what the
//! collector accepted (the exporter's successful exports).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ferrotel_otlp::client::{Compression, Protocol};
use ferrotel_otlp::server::{
    ExportError, ExportHandler, ExportRequest, GrpcServerSettings, HttpServerSettings,
    PartialSuccess, start_grpc, start_http,
};
use ferrotel_pdata::Request;
use ferrotel_sdk::opentelemetry::KeyValue;
use ferrotel_sdk::{
    BatchConfig, BatchSpanProcessor, OtlpExporterConfig, OtlpSpanExporter, Resource, Sampler,
    TracerProvider,
};
use futures::future::BoxFuture;

#[derive(Default)]
struct Count(AtomicU64);

impl ExportHandler for Count {
    fn export(
        &self,
        req: ExportRequest,
    ) -> BoxFuture<'static, Result<PartialSuccess, ExportError>> {
        if let Ok(Request::Traces(t)) = req.payload.into_request() {
            let n: usize = t
                .resource_spans
                .iter()
                .flat_map(|r| r.scope_spans.iter())
                .map(|s| s.spans.len())
                .sum();
            self.0.fetch_add(n as u64, Ordering::Relaxed);
        }
        Box::pin(async { Ok(PartialSuccess::default()) })
    }
}

fn cpu(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; both clock ids exist on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time so far of each of this process's threads named `name`, by thread id (from /proc, in
/// clock ticks of 10 ms: enough over seconds).
fn threads_cpu(name: &str) -> std::collections::HashMap<String, u64> {
    let mut out = std::collections::HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for task in dir.flatten() {
            let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
                continue;
            };
            // `pid (comm) state ...`: fields after the comm's closing parenthesis.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            if &stat[open + 1..close] != name {
                continue;
            }
            let f: Vec<&str> = stat[close + 2..].split(' ').collect();
            let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            // utime, stime
            out.insert(
                task.file_name().to_string_lossy().into_owned(),
                ticks(11) + ticks(12),
            );
        }
    }
    out
}

/// The CPU time the threads alive at `now` used since `before` (threads of an earlier run that
/// ended in between do not count against this one).
fn cpu_since(
    before: &std::collections::HashMap<String, u64>,
    now: &std::collections::HashMap<String, u64>,
) -> Duration {
    let ticks: u64 = now
        .iter()
        .map(|(tid, t)| t.saturating_sub(before.get(tid).copied().unwrap_or(0)))
        .sum();
    Duration::from_millis(ticks * 10)
}

/// `rate`: spans per second the application thread aims at (`None`: as fast as it can).
fn run(protocol: Protocol, secs: u64, rate: Option<u64>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let count = Arc::new(Count::default());
    let handler: Arc<dyn ExportHandler> = count.clone();
    let external = std::env::var(if protocol == Protocol::Grpc {
        "BENCH_COLLECTOR_GRPC"
    } else {
        "BENCH_COLLECTOR_HTTP"
    })
    .ok();
    let endpoint = SocketAddr::from(([127, 0, 0, 1], 0));
    let handle = match &external {
        Some(_) => None,
        None => Some(
            rt.block_on(async {
                if protocol == Protocol::Grpc {
                    let s = GrpcServerSettings {
                        endpoint,
                        ..Default::default()
                    };
                    start_grpc(s, handler).await
                } else {
                    let s = HttpServerSettings {
                        endpoint,
                        ..Default::default()
                    };
                    start_http(s, handler).await
                }
            })
            .expect("server"),
        ),
    };
    let addr = match (&external, &handle) {
        (Some(e), _) => e.clone(),
        (None, Some(h)) => h.local_addr().to_string(),
        (None, None) => unreachable!("a server or an external collector"),
    };
    let exporter = OtlpSpanExporter::new(OtlpExporterConfig {
        protocol,
        endpoint: if protocol == Protocol::Grpc {
            format!("http://{addr}")
        } else {
            format!("http://{addr}/v1/traces")
        },
        compression: Compression::None,
        ..OtlpExporterConfig::default()
    })
    .expect("exporter");
    let processor = BatchSpanProcessor::builder(exporter)
        .with_config(BatchConfig {
            schedule_delay: Duration::from_millis(200),
            max_queue_size: 8192,
            max_export_batch_size: 512,
            export_timeout: Duration::from_secs(10),
        })
        .build();
    let stats = processor.stats_handle();
    let provider = TracerProvider::builder()
        .with_resource(Resource::new([KeyValue::new("service.name", "bench")]))
        .with_sampler(Sampler::AlwaysOn)
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("batch-bench");

    let sdk_threads = || {
        let mut t = threads_cpu("ferrotel-bsp");
        t.extend(threads_cpu("ferrotel-otlp"));
        t
    };
    let (sdk0, thread0, start) = (
        sdk_threads(),
        cpu(libc::CLOCK_THREAD_CPUTIME_ID),
        Instant::now(),
    );
    let mut created = 0u64;
    let until = start + Duration::from_secs(secs);
    while Instant::now() < until {
        for _ in 0..256 {
            let mut span = tracer.start_span("GET /orders");
            span.set_attribute(KeyValue::new("http.request.method", "GET"));
            span.set_attribute(KeyValue::new("url.path", "/orders"));
            span.set_attribute(KeyValue::new("http.response.status_code", 200));
            span.set_attribute(KeyValue::new("user.id", 42));
            span.set_attribute(KeyValue::new("cache.hit", false));
            span.end();
        }
        created += 256;
        if let Some(rate) = rate {
            let due = start + Duration::from_secs_f64(created as f64 / rate as f64);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
    }
    let app_cpu = cpu(libc::CLOCK_THREAD_CPUTIME_ID) - thread0;
    let _ = provider.force_flush_with_timeout(Duration::from_secs(10));
    let elapsed = start.elapsed();
    let sdk_cpu = cpu_since(&sdk0, &sdk_threads());
    let s = stats.get();
    let received = if external.is_some() {
        s.exported
    } else {
        count.0.load(Ordering::Relaxed)
    };
    let name = match protocol {
        Protocol::Grpc => "grpc",
        Protocol::HttpProtobuf => "http/protobuf",
        Protocol::HttpJson => "http/json",
    };
    let mut mode = rate.map_or("full speed".to_string(), |r| format!("{r} spans/s"));
    if let Some(e) = &external {
        mode.push_str(&format!(", collector at {e}"));
    }
    println!(
        "batch_otlp {name} ({mode}): created {created}, received {received} ({:.0} spans/s), \
         dropped {} ({:.1} %), app thread {:.0} ns CPU/span, batch + exporter threads {:.0} ns \
         CPU/exported span = {:.0} spans/s per core",
        received as f64 / elapsed.as_secs_f64(),
        s.dropped,
        100.0 * s.dropped as f64 / created.max(1) as f64,
        app_cpu.as_nanos() as f64 / created.max(1) as f64,
        sdk_cpu.as_nanos() as f64 / received.max(1) as f64,
        received as f64 / sdk_cpu.as_secs_f64().max(1e-9),
    );
    let _ = provider.shutdown();
    if let Some(handle) = handle {
        rt.block_on(handle.shutdown(Duration::from_millis(100)));
    }
}

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let name = format!("{protocol:?}").to_lowercase();
        if filter.as_deref().is_none_or(|f| name.contains(f)) {
            run(protocol, 3, None);
            run(protocol, 3, Some(50_000));
        }
    }
}
