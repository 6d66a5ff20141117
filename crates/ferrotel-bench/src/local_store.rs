//! `ferrotel-bench --local-store`: issue 19's store targets, end to end. The `ferrotel` binary
//! runs `otlp → batch → X` twice in one bench run, X being first the `debug` exporter sampled
//! down to nothing (the pipeline's own cost) and then `local_store` with a `max_size_mib` cap;
//! each time the load generator sends `--spans` spans over OTLP/gRPC as fast as they are
//! accepted. The store's cost per span is the difference of the two CPU figures. Then, against
//! the running store, the Jaeger query API is timed over HTTP as Grafana calls it: trace by id,
//! and a search by service + operation + min duration + one tag (each the median of several
//! calls, a new connection each, as `ferrotel query` makes them).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use ferrotel_loadgen::{LoadArgs, send};
use ferrotel_local::client;
use ferrotel_pdata::Signal;
use serde_json::Value;

use crate::procfs;
use crate::run::{Ports, free_port, rss_sampler, start_collector};

const MIB: f64 = 1024.0 * 1024.0;
/// The search's operation: the load generator's root spans (SERVER, 5 ms each).
const ROOT_OP: &str = "GET /api/v1/items/{id}";
/// A `url.path` the load generator never writes (its values are 1..10 000): the search then
/// reads every candidate's attributes and finds nothing, the worst case.
const ABSENT_PATH: &str = "/api/v1/items/0";

/// What `--local-store` runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub spans: u64,
    pub cap_mib: u64,
    /// Calls per timed query (the median is reported).
    pub calls: usize,
    pub repeat: usize,
}

/// The figures of one pipeline run.
#[derive(Debug, Clone, Default)]
struct Ingest {
    acked: u64,
    /// Seconds from the first request until the last span was stored (or acknowledged, for
    /// the no-op exporter).
    seconds: f64,
    cpu_s: f64,
    idle_rss: u64,
    peak_rss: u64,
}

impl Ingest {
    fn spans_per_s(&self) -> f64 {
        self.acked as f64 / self.seconds.max(1e-9)
    }
    fn cpu_s_per_million(&self) -> f64 {
        self.cpu_s / self.acked.max(1) as f64 * 1e6
    }
}

/// `otlp → batch → exporter`; `exporter` is `debug` (sampled to nothing) or `local_store`.
fn config(p: &Ports, ui: u16, exporter: &str, cap_mib: u64) -> String {
    let exporters = match exporter {
        "debug" => "  debug:\n    verbosity: basic\n    sampling_initial: 1\n    sampling_thereafter: 1000000000\n".to_owned(),
        _ => format!(
            "  local_store:\n    max_size_mib: {cap_mib}\n    ui:\n      endpoint: 127.0.0.1:{ui}\n"
        ),
    };
    format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:{}\n      http:\n        endpoint: 127.0.0.1:{}\nprocessors:\n  batch:\nexporters:\n{exporters}service:\n  telemetry:\n    logs:\n      level: warn\n    metrics:\n      level: none\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [{exporter}]\n",
        p.receiver_grpc, p.receiver_http
    )
}

fn load_args(port: u16, spans: u64) -> LoadArgs {
    let args = [
        "--endpoint".to_owned(),
        format!("127.0.0.1:{port}"),
        "--rate".into(),
        "max".into(),
        "--count".into(),
        spans.to_string(),
        // As the saturating scenarios send: 500-span requests from 4 workers.
        "--workers".into(),
        "4".into(),
        "--batch-size".into(),
        "500".into(),
        "--max-retries".into(),
        "20".into(),
    ];
    LoadArgs::parse_from_strs(&args).expect("bench builds valid loadgen arguments")
}

/// GET `path` from the store's HTTP server as JSON; (the JSON, seconds taken).
fn get_json(ui: u16, path: &str) -> anyhow::Result<(Value, f64)> {
    let t = Instant::now();
    let r = client::get(&format!("http://127.0.0.1:{ui}"), path, "application/json")
        .map_err(anyhow::Error::msg)?;
    let took = t.elapsed().as_secs_f64();
    if r.status != 200 {
        bail!("GET {path}: {} {}", r.status, r.text());
    }
    Ok((r.json().map_err(anyhow::Error::msg)?, took))
}

/// Spans stored plus spans pruned, from ferrotel's own `/api/v1/stats`.
fn stored(ui: u16) -> anyhow::Result<(u64, Value)> {
    let (v, _) = get_json(ui, "/api/v1/stats")?;
    let n = v["spans"].as_u64().unwrap_or(0) + v["prunedSpans"].as_u64().unwrap_or(0);
    Ok((n, v))
}

/// Runs one pipeline under the load; leaves the collector running for the queries.
fn ingest(
    collector: &Path,
    exporter: &str,
    o: &Options,
    load: &tokio::runtime::Runtime,
    dir: &Path,
) -> anyhow::Result<(Ingest, crate::run::Collector, u16)> {
    let ports = Ports {
        receiver_grpc: free_port()?,
        receiver_http: free_port()?,
        sink_grpc: 0,
        sink_http: 0,
    };
    let ui = free_port()?;
    let yaml = config(&ports, ui, exporter, o.cap_mib);
    let cmd = vec![collector.to_string_lossy().into_owned()];
    let c = start_collector(&cmd, &ports, dir, &yaml, ports.receiver_grpc)?;
    let pid = c.pid();
    if exporter != "debug" {
        let until = Instant::now() + Duration::from_secs(10);
        while stored(ui).is_err() {
            if Instant::now() > until {
                bail!("the local_store UI did not answer on 127.0.0.1:{ui}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // The baseline: the started process, idle.
    std::thread::sleep(Duration::from_millis(500));
    let idle_rss = procfs::status_kb(pid, "VmRSS").unwrap_or(0);
    let cpu0 = procfs::cpu_time(pid).context("reading the collector's CPU time")?;
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = rss_sampler(pid, stop.clone());
    let t0 = Instant::now();
    let report = load.block_on(send::run(
        Signal::Traces,
        &load_args(ports.receiver_grpc, o.spans),
    ))?;
    if report.acknowledged < o.spans {
        eprintln!(
            "  warning: {exporter}: {} of {} spans acknowledged ({})",
            report.acknowledged,
            o.spans,
            report.last_error.clone().unwrap_or_default()
        );
    }
    let seconds = if exporter == "debug" {
        let s = t0.elapsed().as_secs_f64();
        // Past the batch processor's 200 ms timeout, so its last batch is exported.
        std::thread::sleep(Duration::from_millis(500));
        s
    } else {
        // Acknowledged is not stored: the batch processor holds the tail, the exporter may
        // lag; wait until every span is in the store (or was pruned from it).
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            let (n, _) = stored(ui)?;
            if n >= report.acknowledged {
                break t0.elapsed().as_secs_f64();
            }
            if Instant::now() > until {
                bail!(
                    "the store holds {n} of {} acknowledged spans after 60 s",
                    report.acknowledged
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let cpu_s = (procfs::cpu_time(pid).unwrap_or(cpu0) - cpu0).as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap_or_default();
    let hwm = procfs::status_kb(pid, "VmHWM").unwrap_or(0);
    let peak_rss = samples.iter().copied().max().unwrap_or(0).max(hwm);
    Ok((
        Ingest {
            acked: report.acknowledged,
            seconds,
            cpu_s,
            idle_rss,
            peak_rss,
        },
        c,
        ui,
    ))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Percent-encodes a query parameter value.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The timed queries against the running store; prints a line each, returns whether both
/// met their targets.
fn queries(ui: u16, o: &Options, window_start_us: u64) -> anyhow::Result<bool> {
    let (services, _) = get_json(ui, "/api/services")?;
    let services: Vec<String> = services["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let Some(service) = services.first() else {
        bail!("the store lists no services");
    };
    // Trace ids from every service's newest traces, to fetch one by one.
    let mut ids = Vec::new();
    for s in &services {
        let (v, _) = get_json(ui, &format!("/api/v1/traces?service={}&limit=8", enc(s)))?;
        for t in v["traces"].as_array().into_iter().flatten() {
            if let Some(id) = t["traceId"].as_str() {
                ids.push(id.to_owned());
            }
        }
    }
    if ids.is_empty() {
        bail!("no trace found to fetch by id");
    }
    let mut by_id = Vec::new();
    let mut spans = 0;
    let mut url_path = None;
    for k in 0..o.calls.max(1) {
        let id = &ids[k % ids.len()];
        let (v, took) = get_json(ui, &format!("/api/traces/{id}"))?;
        by_id.push(took);
        let trace_spans = v["data"][0]["spans"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        spans += trace_spans.len();
        // The search below looks for a `url.path` this service's root spans really have.
        if url_path.is_none() && v["data"][0]["processes"]["p1"]["serviceName"] == service.as_str()
        {
            url_path = trace_spans
                .iter()
                .filter(|s| s["operationName"] == ROOT_OP)
                .flat_map(|s| s["tags"].as_array().cloned().unwrap_or_default())
                .find(|t| t["key"] == "url.path")
                .and_then(|t| t["value"].as_str().map(str::to_owned));
        }
    }
    let by_id_ms = median(by_id) * 1e3;
    let ok_id = by_id_ms < 5.0;
    println!(
        "  trace by id (GET /api/traces/{{id}}, {} calls over {} ids, {:.1} spans each): median {by_id_ms:.2} ms (target < 5 ms: {})",
        o.calls,
        ids.len().min(o.calls),
        spans as f64 / o.calls.max(1) as f64,
        verdict(ok_id)
    );
    let url_path = url_path.unwrap_or_else(|| "/api/v1/items/1".into());
    // As Grafana's Jaeger data source asks: start/end in µs, durations with units, tags JSON.
    let end = now_micros() + 60_000_000;
    let mut ok_search = true;
    for (what, value) in [
        ("a url.path that matches", url_path.as_str()),
        ("a url.path that matches nothing", ABSENT_PATH),
    ] {
        let tags = format!("{{\"url.path\":\"{value}\"}}");
        let path = format!(
            "/api/traces?service={}&operation={}&minDuration=4ms&tags={}&start={window_start_us}&end={end}&lookback=custom&limit=20",
            enc(service),
            enc(ROOT_OP),
            enc(&tags)
        );
        let mut times = Vec::new();
        let mut found = 0;
        for _ in 0..o.calls.max(1) {
            let (v, took) = get_json(ui, &path)?;
            times.push(took);
            found = v["data"].as_array().map_or(0, Vec::len);
        }
        let ms = median(times) * 1e3;
        ok_search &= ms < 50.0;
        println!(
            "  search service={service} operation=\"{ROOT_OP}\" minDuration=4ms tag url.path={value} ({what}): {found} traces, median {ms:.2} ms of {} calls (target < 50 ms: {})",
            o.calls,
            verdict(ms < 50.0)
        );
    }
    Ok(ok_id && ok_search)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

/// Runs the benchmark; `Ok(false)` when a target was missed.
pub fn run(collector: &Path, o: &Options, load: &tokio::runtime::Runtime) -> anyhow::Result<bool> {
    let (nproc, model) = procfs::machine();
    println!(
        "local store: machine {nproc} cores, {model}; load average {:.2}; {} spans per pipeline from ferrotel-loadgen (OTLP/gRPC, 500 per request, 4 workers, max rate); cap max_size_mib: {}",
        procfs::load_average(),
        o.spans,
        o.cap_mib
    );
    println!(
        "  the load generator runs in this process and competes with the collector for CPU; CPU and RSS are the collector's alone"
    );
    let mut all_ok = true;
    for round in 0..o.repeat.max(1) {
        let window_start_us = now_micros().saturating_sub(60_000_000);
        let dir = tempfile::tempdir()?;
        let (nop, mut c) = {
            let (i, c, _) = ingest(collector, "debug", o, load, dir.path())?;
            (i, c)
        };
        c.stop();
        let dir = tempfile::tempdir()?;
        let (st, mut c, ui) = ingest(collector, "local_store", o, load, dir.path())?;
        let (_, stats) = stored(ui)?;
        let cost = st.cpu_s_per_million() - nop.cpu_s_per_million();
        // The target: at most 1/200 000 s of CPU per span on top of the pipeline, 5 s per M.
        let store_rate = if cost > 0.0 {
            1e6 / cost
        } else {
            f64::INFINITY
        };
        let ok_cpu = cost <= 5.0;
        let cap = o.cap_mib as f64;
        let ok_rss = st.peak_rss as f64 / MIB <= cap + nop.peak_rss as f64 / MIB;
        println!("round {}:", round + 1);
        for (name, i) in [
            ("otlp → batch → debug (no-op)", &nop),
            ("otlp → batch → local_store", &st),
        ] {
            println!(
                "  {name:<30} {:>9.0} spans/s, {:>5.2} CPU-s per M spans, RSS idle {:.0} MiB, peak {:.0} MiB ({} spans in {:.2} s)",
                i.spans_per_s(),
                i.cpu_s_per_million(),
                i.idle_rss as f64 / MIB,
                i.peak_rss as f64 / MIB,
                i.acked,
                i.seconds
            );
        }
        println!(
            "  the store's own cost: {cost:.2} CPU-s per M spans = {:.0} k spans/s of one core (target ≥ 200 k/s, ≤ 5 CPU-s per M: {})",
            store_rate / 1e3,
            verdict(ok_cpu)
        );
        println!(
            "  peak RSS {:.0} MiB vs cap {cap:.0} MiB + the no-op pipeline's peak {:.0} MiB = {:.0} MiB ({}); store holds {} MiB, {} spans, {} pruned",
            st.peak_rss as f64 / MIB,
            nop.peak_rss as f64 / MIB,
            cap + nop.peak_rss as f64 / MIB,
            verdict(ok_rss),
            stats["bytes"].as_u64().unwrap_or(0) >> 20,
            stats["spans"],
            stats["prunedSpans"]
        );
        let ok_queries = queries(ui, o, window_start_us)?;
        c.stop();
        all_ok &= ok_cpu && ok_rss && ok_queries;
    }
    Ok(all_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_name_their_exporter_and_cap() {
        let p = Ports {
            receiver_grpc: 1,
            receiver_http: 2,
            sink_grpc: 0,
            sink_http: 0,
        };
        let store = config(&p, 3, "local_store", 64);
        assert!(store.contains("max_size_mib: 64\n    ui:\n      endpoint: 127.0.0.1:3\n"));
        assert!(store.contains("processors: [batch]\n      exporters: [local_store]\n"));
        let nop = config(&p, 3, "debug", 64);
        assert!(nop.contains("exporters: [debug]\n") && !nop.contains("local_store"));
        assert_eq!(enc("GET /a/{id}"), "GET%20%2Fa%2F%7Bid%7D");
    }
}
