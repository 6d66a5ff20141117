//! Running one scenario: sink (in-process) ← collector (child process) ← loadgen
//! (in-process), measuring only the collector process.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ferrotel_loadgen::args::ProtocolArg;
use ferrotel_loadgen::sink::{Sink, SinkArgs};
use ferrotel_loadgen::{LoadArgs, Report, send};
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;

use crate::procfs;
pub(crate) use crate::scenario::Ports;
use crate::scenario::{Scenario, collector_config};

/// How long and how hard to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub duration: Duration,
    pub warmup: Duration,
    /// Override the scenario's items per request / concurrent senders.
    pub batch_size: Option<usize>,
    pub workers: Option<usize>,
}

/// The two runtimes the generator and the sink run on (kept apart so one cannot starve the
/// other).
pub struct Runtimes {
    pub sink: Runtime,
    pub load: Runtime,
}

impl Runtimes {
    pub fn new(load_threads: usize) -> anyhow::Result<Self> {
        let rt = |n: usize, name: &str| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(n.max(1))
                .thread_name(name)
                .enable_all()
                .build()
        };
        Ok(Runtimes {
            sink: rt(1, "sink")?,
            load: rt(load_threads, "loadgen")?,
        })
    }
}

/// One measured run: a row of the results table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Row {
    pub scenario: String,
    pub collector: String,
    pub rate: String,
    /// Items acknowledged during the measured window.
    pub items: u64,
    /// Acknowledged items per second during the measured window.
    pub items_per_s: f64,
    /// Collector CPU (user + system) per million items.
    pub cpu_s_per_million: f64,
    /// Collector CPU as a percentage of one core.
    pub cpu_pct: f64,
    pub rss_peak_mib: f64,
    pub rss_steady_mib: f64,
    /// Request latency as the load generator saw it (collector ack, not sink arrival).
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Items the collector acknowledged that never reached the sink.
    pub loss: u64,
    /// Items that reached the sink more than once.
    pub duplicates: u64,
    /// CPU used on the machine by processes other than the collector and the bench (cores).
    pub foreign_cpu_cores: f64,
    pub steal_pct: f64,
    pub warnings: Vec<String>,
    /// Why the scenario did not run.
    pub skipped: Option<String>,
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn load_args(s: &Scenario, o: &RunOptions, port: u16, duration: Duration) -> LoadArgs {
    let endpoint = match s.protocol {
        ProtocolArg::Grpc => format!("127.0.0.1:{port}"),
        p if p.is_zipkin() => format!("http://127.0.0.1:{port}/api/v2/spans"),
        _ => format!("http://127.0.0.1:{port}"),
    };
    let rate = s.rate.map_or("max".to_owned(), |r| r.to_string());
    let args = [
        "--endpoint".to_owned(),
        endpoint,
        "--protocol".into(),
        s.protocol.as_str().into(),
        "--rate".into(),
        rate,
        "--duration".into(),
        format!("{}ms", duration.as_millis()),
        "--workers".into(),
        o.workers.unwrap_or(s.workers).to_string(),
        "--batch-size".into(),
        o.batch_size.unwrap_or(s.batch_size).to_string(),
        "--max-retries".into(),
        "20".into(),
        "--compression".into(),
        s.compression.into(),
    ];
    LoadArgs::parse_from_strs(&args).expect("bench builds valid loadgen arguments")
}

/// The collector child; terminated (SIGTERM, then SIGKILL) when dropped.
pub(crate) struct Collector {
    child: Child,
}

impl Collector {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop();
    }
}

fn tail(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// The collector's command line: with placeholders (`{receiver_grpc}`, `{receiver_http}`,
/// `{sink_grpc}`, `{sink_http}`: ports on 127.0.0.1; `{config}`: the generated config file)
/// they are filled in, for collectors configured by flags; without, `--config FILE` is
/// appended, for collectors that read the OpenTelemetry Collector's YAML.
pub fn command_line(cmd: &[String], ports: &Ports, config: &Path) -> Vec<String> {
    let fill = |arg: &str| {
        arg.replace("{receiver_grpc}", &ports.receiver_grpc.to_string())
            .replace("{receiver_http}", &ports.receiver_http.to_string())
            .replace("{sink_grpc}", &ports.sink_grpc.to_string())
            .replace("{sink_http}", &ports.sink_http.to_string())
            .replace("{config}", &config.to_string_lossy())
    };
    let filled: Vec<String> = cmd.iter().map(|a| fill(a)).collect();
    if filled != cmd {
        return filled;
    }
    let mut v = cmd.to_vec();
    v.push("--config".into());
    v.push(config.to_string_lossy().into_owned());
    v
}

pub(crate) fn start_collector(
    cmd: &[String],
    ports: &Ports,
    dir: &Path,
    config: &str,
    port: u16,
) -> anyhow::Result<Collector> {
    let cfg = dir.join("collector.yaml");
    std::fs::write(&cfg, config)?;
    let log = dir.join("collector.log");
    let out = std::fs::File::create(&log)?;
    let cmd = command_line(cmd, ports, &cfg);
    let child = Command::new(&cmd[0])
        .args(&cmd[1..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("starting {}", cmd[0]))?;
    let mut c = Collector { child };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = c.child.try_wait() {
            bail!("collector exited ({status}):\n{}", tail(&log));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(c);
        }
        if Instant::now() > until {
            c.stop();
            bail!(
                "collector did not listen on {addr} within 30 s:\n{}",
                tail(&log)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Samples `VmRSS` of `pid` every 100 ms until stopped.
pub(crate) fn rss_sampler(pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<u64>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            if let Some(b) = procfs::status_kb(pid, "VmRSS") {
                v.push(b);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        v
    })
}

const MIB: f64 = 1024.0 * 1024.0;

/// Runs `s` against the collector command `cmd` (see [`command_line`]).
pub fn run(
    s: &Scenario,
    cmd: &[String],
    label: &str,
    o: &RunOptions,
    rt: &Runtimes,
) -> anyhow::Result<Row> {
    let sink = rt.sink.block_on(Sink::start(SinkArgs {
        grpc: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        http: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..Default::default()
    }))?;
    let ports = Ports {
        receiver_grpc: free_port()?,
        receiver_http: free_port()?,
        sink_grpc: sink.grpc_addr().map_or(0, |a| a.port()),
        sink_http: sink.http_addr().map_or(0, |a| a.port()),
    };
    let dir = tempfile::tempdir()?;
    let storage = dir.path().join("storage");
    std::fs::create_dir_all(&storage)?;
    let config = collector_config(s, &ports, &storage.to_string_lossy());
    let port = match s.protocol {
        ProtocolArg::Grpc => ports.receiver_grpc,
        _ => ports.receiver_http,
    };
    let mut collector = start_collector(cmd, &ports, dir.path(), &config, port)?;
    let pid = collector.pid();
    let mut acked_total = 0;
    let send = |d: Duration| -> anyhow::Result<Report> {
        rt.load
            .block_on(send::run(s.signal, &load_args(s, o, port, d)))
    };
    if !o.warmup.is_zero() {
        acked_total += send(o.warmup)?.acknowledged;
    }

    let load_before = procfs::load_average();
    let machine0 = procfs::machine_cpu();
    let self0 = procfs::cpu_time(std::process::id()).unwrap_or_default();
    let cpu0 = procfs::cpu_time(pid).context("reading the collector's CPU time")?;
    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = rss_sampler(pid, stop.clone());

    let report = send(o.duration)?;
    acked_total += report.acknowledged;
    // Let the collector flush its batches to the sink before stopping the clock.
    let until = Instant::now() + Duration::from_secs(15);
    while sink.summary().signal(s.signal).unique_ids < acked_total && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = (procfs::cpu_time(pid).unwrap_or(cpu0) - cpu0).as_secs_f64();
    let self_cpu = (procfs::cpu_time(std::process::id()).unwrap_or(self0) - self0).as_secs_f64();
    let machine1 = procfs::machine_cpu();
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap_or_default();
    let hwm = procfs::status_kb(pid, "VmHWM").unwrap_or(0);
    collector.stop();
    let summary = rt.sink.block_on(sink.shutdown(Duration::from_millis(200)));
    let got = summary.signal(s.signal);

    let ticks = procfs::clock_ticks();
    let busy = (machine1.busy - machine0.busy) as f64 / ticks;
    let total_ticks = (machine1.total - machine0.total).max(1) as f64;
    let steal_pct = (machine1.steal - machine0.steal) as f64 / total_ticks * 100.0;
    let foreign = ((busy - cpu - self_cpu) / wall).max(0.0);
    let steady = {
        let mut tail: Vec<u64> = samples[samples.len() / 2..].to_vec();
        tail.sort_unstable();
        tail.get(tail.len() / 2).copied().unwrap_or(0)
    };
    let peak = samples.iter().copied().max().unwrap_or(0).max(hwm);
    let items = report.acknowledged;
    let mut warnings = Vec::new();
    let (nproc, _) = procfs::machine();
    if foreign > 0.3 {
        warnings.push(format!(
            "noisy: other processes used {foreign:.2} cores during the run"
        ));
    }
    if steal_pct > 5.0 {
        warnings.push(format!("noisy: {steal_pct:.1}% CPU steal"));
    }
    if load_before > nproc as f64 {
        warnings.push(format!(
            "noisy: load average {load_before:.2} on {nproc} cores before the run"
        ));
    }
    if report.dropped + report.refused_permanent > 0 {
        warnings.push(format!(
            "the collector refused {} items ({})",
            report.dropped + report.refused_permanent,
            report.last_error.clone().unwrap_or_default()
        ));
    }
    if got.without_id > 0 {
        warnings.push(format!("{} items arrived without an id", got.without_id));
    }
    Ok(Row {
        scenario: s.name.into(),
        collector: label.into(),
        rate: s.rate_label(),
        items,
        items_per_s: items as f64 / report.elapsed_s.max(1e-9),
        cpu_s_per_million: if items == 0 {
            0.0
        } else {
            cpu / items as f64 * 1e6
        },
        cpu_pct: cpu / wall * 100.0,
        rss_peak_mib: peak as f64 / MIB,
        rss_steady_mib: steady as f64 / MIB,
        p50_ms: report.latency_ms.p50,
        p99_ms: report.latency_ms.p99,
        loss: acked_total.saturating_sub(got.unique_ids),
        duplicates: got.duplicates,
        foreign_cpu_cores: foreign,
        steal_pct,
        warnings,
        skipped: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_fills_placeholders_or_appends_config() {
        let ports = Ports {
            receiver_grpc: 1,
            receiver_http: 2,
            sink_grpc: 3,
            sink_http: 4,
        };
        let cfg = Path::new("/tmp/c.yaml");
        let plain = vec!["otelcol".to_string()];
        assert_eq!(
            command_line(&plain, &ports, cfg),
            ["otelcol", "--config", "/tmp/c.yaml"]
        );
        let flags: Vec<String> = "rotel start --otlp-grpc-endpoint 127.0.0.1:{receiver_grpc} --otlp-exporter-endpoint http://127.0.0.1:{sink_grpc} --x {receiver_http},{sink_http},{config}"
            .split(' ')
            .map(str::to_owned)
            .collect();
        assert_eq!(
            command_line(&flags, &ports, cfg).join(" "),
            "rotel start --otlp-grpc-endpoint 127.0.0.1:1 --otlp-exporter-endpoint http://127.0.0.1:3 --x 2,4,/tmp/c.yaml"
        );
    }
}
