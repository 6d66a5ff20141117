//! The Prometheus endpoint of the collector's own metrics (`service::telemetry::metrics`),
//! plus the process metrics (CPU, RSS, uptime) read from /proc at scrape time.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::Telemetry;

/// A tiny HTTP server answering `GET /metrics`.
pub struct MetricsServer {
    pub local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    /// Binds now (a port conflict is a startup error) and serves in the background.
    pub async fn start(addr: SocketAddr, telemetry: Telemetry) -> std::io::Result<MetricsServer> {
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("service::telemetry::metrics: cannot listen on {addr}: {e}"),
            )
        })?;
        let local_addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let started = Instant::now();
        let task = tokio::spawn(async move {
            loop {
                let conn = tokio::select! {
                    c = listener.accept() => c,
                    _ = stopped.changed() => break,
                };
                let Ok((stream, _)) = conn else { continue };
                let telemetry = telemetry.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let telemetry = telemetry.clone();
                        async move {
                            let resp =
                                if req.uri().path() == "/metrics" {
                                    let mut body = telemetry.render_prometheus();
                                    body.push_str(&process_metrics(started));
                                    Response::builder()
                                        .header(
                                            "content-type",
                                            "text/plain; version=0.0.4; charset=utf-8",
                                        )
                                        .body(Full::new(Bytes::from(body)))
                                } else {
                                    Response::builder().status(StatusCode::NOT_FOUND).body(
                                        Full::new(Bytes::from_static(b"not found; try /metrics\n")),
                                    )
                                };
                            Ok::<_, Infallible>(resp.expect("static response parts are valid"))
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(MetricsServer {
            local_addr,
            stop,
            task,
        })
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// `otelcol_process_*` from /proc/self (Linux); empty elsewhere.
pub fn process_metrics(started: Instant) -> String {
    let mut out = String::new();
    let uptime = started.elapsed().as_secs_f64();
    out.push_str(&format!(
        "# HELP otelcol_process_uptime_seconds_total Uptime of the process.\n# TYPE otelcol_process_uptime_seconds_total counter\notelcol_process_uptime_seconds_total {uptime}\n"
    ));
    if let Some(cpu) = process_cpu_seconds() {
        out.push_str(&format!(
            "# HELP otelcol_process_cpu_seconds_total Total CPU user and system time in seconds.\n# TYPE otelcol_process_cpu_seconds_total counter\notelcol_process_cpu_seconds_total {cpu}\n"
        ));
    }
    if let Some(rss) = process_rss_bytes() {
        out.push_str(&format!(
            "# HELP otelcol_process_memory_rss_bytes Total physical memory (resident set size).\n# TYPE otelcol_process_memory_rss_bytes gauge\notelcol_process_memory_rss_bytes {rss}\n"
        ));
    }
    out
}

/// User + system CPU seconds of this process, from /proc/self/stat.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

fn clock_ticks() -> f64 {
    // sysconf(_SC_CLK_TCK) is 100 on every Linux ABI ferrotel targets.
    100.0
}

/// Resident set size in bytes, from /proc/self/status.
pub fn process_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
