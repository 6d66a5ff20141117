//! `ferrotel-bench --prometheus-scrape`: issue 21's side-by-side scrape benchmark. One target
//! (an HTTP server in this process) serves a text-0.0.4 exposition of `--series` series (100
//! metrics, half counters, half gauges, three labels); ferrotel's `prometheus` receiver (into
//! the `debug` exporter at `basic` verbosity) and the Debian `prometheus` server scrape it every
//! 5 s in the same run. Per process: CPU per sample and memory per series, idle subtracted.
//!
//! Each scraper has its own phase, so each is measured on its own request sequence: its first
//! `IDLE_SCRAPES` scrapes get a one-series body (the idle baseline: CPU rate and RSS of the
//! process scraping almost nothing), then every scrape gets the full body; after `WARM_SCRAPES`
//! full scrapes (series creation), the next `--scrapes` are measured. CPU is read from
//! `/proc/<pid>/stat` half an interval after a scrape started, when the process is quiet, so a
//! window holds whole scrapes. Values change on every scrape (counters increase), as a real
//! target's do.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::procfs;

const INTERVAL: Duration = Duration::from_secs(5);
const IDLE_SCRAPES: usize = 4;
const WARM_SCRAPES: usize = 2;
const METRICS: usize = 100;

/// Who scraped: requests are told apart by User-Agent.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scraper {
    Ferrotel = 0,
    Prometheus = 1,
}

/// The exposition: per series its `name{labels} ` prefix and a base value; the body is
/// rendered per request with the scrape number added, so counters grow.
struct Exposition {
    families: Vec<ExpositionFamily>,
}

/// (name, is a counter, per series its `name{labels} ` prefix and base value).
type ExpositionFamily = (String, bool, Vec<(String, f64)>);

impl Exposition {
    fn new(series: usize) -> Self {
        let per = series.div_ceil(METRICS).max(1);
        let families = (0..METRICS)
            .map(|m| {
                let counter = m % 2 == 0;
                let name = if counter {
                    format!("bench_metric_{m}_total")
                } else {
                    format!("bench_metric_{m}")
                };
                let lines = (0..per)
                    .map(|i| {
                        (
                            format!(
                                "{name}{{route=\"/api/v1/items/{}\",status=\"{}\",pod=\"pod-{i}\"}} ",
                                i % 50,
                                200 + i / 50
                            ),
                            (i * 3) as f64,
                        )
                    })
                    .collect();
                (name, counter, lines)
            })
            .collect();
        Exposition { families }
    }

    fn series(&self) -> usize {
        self.families.iter().map(|f| f.2.len()).sum()
    }

    fn render(&self, scrape: usize) -> Vec<u8> {
        let mut s = String::with_capacity(self.series() * 80);
        for (name, counter, lines) in &self.families {
            let kind = if *counter { "counter" } else { "gauge" };
            let _ = write!(
                s,
                "# HELP {name} A benchmark metric.\n# TYPE {name} {kind}\n"
            );
            for (prefix, base) in lines {
                s.push_str(prefix);
                let v = if *counter {
                    base + scrape as f64
                } else {
                    base + (scrape % 7) as f64 * 0.5
                };
                let _ = writeln!(s, "{v}");
            }
        }
        s.into_bytes()
    }
}

const TINY: &[u8] = b"# TYPE bench_idle gauge\nbench_idle 1\n";

/// Request counts and times per scraper.
#[derive(Default)]
struct Target {
    requests: [AtomicUsize; 2],
    other: AtomicUsize,
    times: Mutex<[Vec<Instant>; 2]>,
}

async fn serve_connection(
    mut stream: tokio::net::TcpStream,
    target: Arc<Target>,
    exposition: Arc<Exposition>,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    loop {
        // Read one request head (scrapes are GETs without a body).
        let end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        buf.drain(..end);
        let who = head
            .lines()
            .find_map(|l| l.strip_prefix("user-agent:"))
            .and_then(|ua| {
                if ua.contains("prometheus") {
                    Some(Scraper::Prometheus)
                } else if ua.contains("ferrotel") {
                    Some(Scraper::Ferrotel)
                } else {
                    None
                }
            });
        let body = match who {
            Some(w) => {
                let n = target.requests[w as usize].fetch_add(1, Ordering::SeqCst);
                target.times.lock().unwrap()[w as usize].push(Instant::now());
                if n < IDLE_SCRAPES {
                    TINY.to_vec()
                } else {
                    exposition.render(n)
                }
            }
            None => {
                target.other.fetch_add(1, Ordering::Relaxed);
                TINY.to_vec()
            }
        };
        let header = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(header.as_bytes()).await?;
        stream.write_all(&body).await?;
    }
}

/// A child process, killed when dropped.
struct Proc(Child, &'static str);

impl Drop for Proc {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(what: &'static str, cmd: &mut Command, log: &Path) -> anyhow::Result<Proc> {
    let out = std::fs::File::create(log)?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    Ok(Proc(child, what))
}

/// One process's figures.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub scrapes: usize,
    pub samples: usize,
    pub cpu_s: f64,
    pub idle_cpu_s: f64,
    pub ns_per_sample: f64,
    pub rss_idle: u64,
    pub rss: u64,
    pub hwm: u64,
    pub bytes_per_series: f64,
}

fn wait_for(target: &Target, who: Scraper, n: usize, proc: &mut Proc) -> anyhow::Result<Instant> {
    let pending = n.saturating_sub(target.requests[who as usize].load(Ordering::SeqCst));
    let limit = Instant::now() + INTERVAL * (pending as u32 + 2) + Duration::from_secs(10);
    loop {
        if target.requests[who as usize].load(Ordering::SeqCst) >= n {
            return Ok(target.times.lock().unwrap()[who as usize][n - 1]);
        }
        if let Ok(Some(status)) = proc.0.try_wait() {
            bail!("{} exited ({status})", proc.1);
        }
        if Instant::now() > limit {
            bail!("{} did not make scrape {n} in time", proc.1);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// CPU time and RSS of `pid` half an interval after scrape `n` started.
fn quiet_after(
    target: &Target,
    who: Scraper,
    n: usize,
    proc: &mut Proc,
) -> anyhow::Result<(Instant, f64, u64)> {
    let started = wait_for(target, who, n, proc)?;
    let at = started + INTERVAL / 2;
    std::thread::sleep(at.saturating_duration_since(Instant::now()));
    let pid = proc.0.id();
    let cpu = procfs::cpu_time(pid)
        .with_context(|| format!("reading /proc/{pid}/stat"))?
        .as_secs_f64();
    let rss = procfs::status_kb(pid, "VmRSS").unwrap_or(0);
    Ok((Instant::now(), cpu, rss))
}

fn measure(
    target: &Target,
    who: Scraper,
    proc: &mut Proc,
    scrapes: usize,
    series: usize,
) -> anyhow::Result<Figures> {
    let (t0, c0, _) = quiet_after(target, who, 1, proc)?;
    let (t1, c1, rss_idle) = quiet_after(target, who, IDLE_SCRAPES, proc)?;
    let idle_rate = (c1 - c0) / (t1 - t0).as_secs_f64();
    let first = IDLE_SCRAPES + WARM_SCRAPES;
    let (t2, c2, _) = quiet_after(target, who, first, proc)?;
    let (t3, c3, rss) = quiet_after(target, who, first + scrapes, proc)?;
    let idle_cpu_s = idle_rate * (t3 - t2).as_secs_f64();
    let cpu_s = c3 - c2;
    let samples = scrapes * series;
    Ok(Figures {
        scrapes,
        samples,
        cpu_s,
        idle_cpu_s,
        ns_per_sample: (cpu_s - idle_cpu_s).max(0.0) * 1e9 / samples as f64,
        rss_idle,
        rss,
        hwm: procfs::status_kb(proc.0.id(), "VmHWM").unwrap_or(0),
        bytes_per_series: rss.saturating_sub(rss_idle) as f64 / series as f64,
    })
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Runs the benchmark; prints the table and returns (ferrotel, prometheus).
pub fn run(
    collector: &Path,
    prometheus: &Path,
    series: usize,
    scrapes: usize,
) -> anyhow::Result<(Figures, Figures)> {
    if !prometheus.exists() {
        bail!(
            "{} not found (Debian: apt-get install prometheus)",
            prometheus.display()
        );
    }
    let exposition = Arc::new(Exposition::new(series));
    let series = exposition.series();
    let target = Arc::new(Target::default());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    {
        let (target, exposition) = (target.clone(), exposition.clone());
        rt.spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                tokio::spawn(serve_connection(s, target.clone(), exposition.clone()));
            }
        });
    }
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("ferrotel.yaml");
    // body_size_limit: Prometheus reads bodies of any size; ferrotel's default cap (64 MiB)
    // would refuse the ~76 MB body of `--series 1000000`.
    std::fs::write(
        &cfg,
        format!(
            "receivers:\n  prometheus:\n    config:\n      scrape_configs:\n        - job_name: bench\n          scrape_interval: 5s\n          scrape_timeout: 5s\n          body_size_limit: 1GiB\n          static_configs:\n            - targets: ['{addr}']\nexporters:\n  debug:\n    verbosity: basic\nservice:\n  telemetry:\n    metrics:\n      level: none\n  pipelines:\n    metrics:\n      receivers: [prometheus]\n      exporters: [debug]\n"
        ),
    )?;
    let prom_cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom_cfg,
        format!(
            "global:\n  scrape_interval: 5s\n  scrape_timeout: 5s\nscrape_configs:\n  - job_name: bench\n    static_configs:\n      - targets: ['{addr}']\n"
        ),
    )?;
    let mut ferrotel = spawn(
        "ferrotel",
        Command::new(collector).arg("--config").arg(&cfg),
        &dir.path().join("ferrotel.log"),
    )?;
    let mut prom = spawn(
        "prometheus",
        Command::new(prometheus)
            .arg(format!("--config.file={}", prom_cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", free_port()?))
            .arg("--log.level=warn"),
        &dir.path().join("prometheus.log"),
    )?;
    println!(
        "prometheus-scrape: {series} series ({} bytes), scraped every {:?} by ferrotel and {}; {scrapes} scrapes measured each after {IDLE_SCRAPES} idle and {WARM_SCRAPES} warm-up; load average {:.2}",
        exposition.render(0).len(),
        INTERVAL,
        prometheus.display(),
        procfs::load_average()
    );
    let (t, t2) = (target.clone(), target.clone());
    let f = std::thread::spawn(move || {
        let r = measure(&t, Scraper::Ferrotel, &mut ferrotel, scrapes, series);
        (r, ferrotel)
    });
    let p = std::thread::spawn(move || {
        let r = measure(&t2, Scraper::Prometheus, &mut prom, scrapes, series);
        (r, prom)
    });
    let (fr, ferrotel) = f.join().expect("measuring thread");
    let (pr, prom) = p.join().expect("measuring thread");
    drop((ferrotel, prom));
    let log = |name: &str| {
        std::fs::read_to_string(dir.path().join(name))
            .unwrap_or_default()
            .lines()
            .rev()
            .take(10)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let fr = fr.with_context(|| format!("ferrotel:\n{}", log("ferrotel.log")))?;
    let pr = pr.with_context(|| format!("prometheus:\n{}", log("prometheus.log")))?;
    const MIB: f64 = 1024.0 * 1024.0;
    println!(
        "{:<12} {:>8} {:>10} {:>9} {:>9} {:>11} {:>10} {:>10} {:>10} {:>12}",
        "scraper",
        "scrapes",
        "samples",
        "cpu s",
        "idle s",
        "ns/sample",
        "RSS idle",
        "RSS MiB",
        "peak MiB",
        "B/series"
    );
    for (name, r) in [("ferrotel", &fr), ("prometheus", &pr)] {
        println!(
            "{:<12} {:>8} {:>10} {:>9.2} {:>9.2} {:>11.0} {:>10.1} {:>10.1} {:>10.1} {:>12.0}",
            name,
            r.scrapes,
            r.samples,
            r.cpu_s,
            r.idle_cpu_s,
            r.ns_per_sample,
            r.rss_idle as f64 / MIB,
            r.rss as f64 / MIB,
            r.hwm as f64 / MIB,
            r.bytes_per_series
        );
    }
    println!(
        "ferrotel/prometheus: CPU per sample {:.2}x (goal <= 0.5x), memory per series {:.2}x",
        fr.ns_per_sample / pr.ns_per_sample,
        fr.bytes_per_series / pr.bytes_per_series
    );
    Ok((fr, pr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_the_series_asked_for_and_counters_grow() {
        let e = Exposition::new(1000);
        assert_eq!(e.series(), 1000);
        let a = String::from_utf8(e.render(1)).unwrap();
        let b = String::from_utf8(e.render(2)).unwrap();
        assert_eq!(a.lines().filter(|l| !l.starts_with('#')).count(), 1000);
        assert!(a.contains(
            "bench_metric_0_total{route=\"/api/v1/items/3\",status=\"200\",pod=\"pod-3\"} 10\n"
        ));
        assert!(b.contains(
            "bench_metric_0_total{route=\"/api/v1/items/3\",status=\"200\",pod=\"pod-3\"} 11\n"
        ));
    }
}
