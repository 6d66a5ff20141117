//! Under a 10× overload (ten times more data than the memory limit, sent as fast as the
//! machine allows to a collector whose backend never answers), `memory_limiter` keeps the
//! process under its limit: requests are refused with retryable errors instead.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ferrotel_otlp::client::{ClientSettings, Compression, OtlpClient, Protocol};

fn vm_hwm_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    kib / 1024.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limiter_holds_the_limit_under_10x_overload() {
    const LIMIT_MIB: usize = 64;
    let dir = tempfile::tempdir().unwrap();
    let blackhole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hole = blackhole.local_addr().unwrap();
    let grpc = free_port();
    let yaml = format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}", max_recv_msg_size_mib: 16}}
processors:
  memory_limiter: {{check_interval: 10ms, limit_mib: {LIMIT_MIB}, spike_limit_mib: 24}}
exporters:
  otlp_http/never:
    endpoint: http://{hole}
    compression: none
    timeout: 60s
    sending_queue: {{queue_size: 1000000, num_consumers: 1}}
service:
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [memory_limiter], exporters: [otlp_http/never]}}
"#
    );
    let collector = Collector::start(dir.path(), &yaml);
    let pid = collector.child.id();
    // ~1 MiB requests; 640 MiB in total = 10× the limit.
    let payload = spans(&"x".repeat(200), 0, 3000);
    let bytes_per_request = payload.to_proto().len();
    let total_requests = 10 * LIMIT_MIB * (1 << 20) / bytes_per_request;
    let started = Instant::now();
    let mut tasks = Vec::new();
    let (accepted, refused) = (
        std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0)),
    );
    for w in 0..8 {
        let (payload, accepted, refused) = (payload.clone(), accepted.clone(), refused.clone());
        tasks.push(tokio::spawn(async move {
            let client = OtlpClient::new(ClientSettings {
                protocol: Protocol::Grpc,
                endpoint: format!("http://127.0.0.1:{grpc}"),
                compression: Compression::None,
                timeout: Duration::from_secs(10),
                ..Default::default()
            })
            .unwrap();
            for _ in (w..total_requests).step_by(8) {
                match client.export(&payload).await {
                    Ok(_) => accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                    Err(e) => {
                        assert!(e.retryable, "refusals must be retryable: {e:?}");
                        refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let peak = vm_hwm_mib(pid);
    let (a, r) = (
        accepted.load(std::sync::atomic::Ordering::Relaxed),
        refused.load(std::sync::atomic::Ordering::Relaxed),
    );
    eprintln!(
        "sent {total_requests} requests of {bytes_per_request} B in {:?}: {a} accepted, {r} refused; peak RSS {peak:.1} MiB (limit {LIMIT_MIB})",
        started.elapsed()
    );
    assert!(r > 0, "the overload was refused at least in part");
    assert!(a > 0, "data was accepted below the limit");
    assert!(
        peak <= LIMIT_MIB as f64,
        "peak RSS {peak:.1} MiB exceeds the {LIMIT_MIB} MiB limit"
    );
    drop(blackhole);
}
