//! `ferrotel-bench`: runs benchmark scenarios (load generator → collector → sink) against a
//! collector binary and prints, per scenario, the collector's throughput, CPU per million
//! items, CPU % of one core, peak and steady RSS, request latency, and loss/duplicates.
//!
//! The load generator and the sink run inside this process on their own runtimes; the
//! collector is a child process started with a generated `--config` file on free loopback
//! ports, and only its `/proc/<pid>` figures are reported. On a small machine the generator
//! and the sink compete with the collector for CPU: saturation throughput is a lower bound,
//! CPU per item is the figure to compare.

mod local_store;
mod procfs;
mod prom_scrape;
mod run;
mod scenario;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ferrotel_loadgen::args::parse_duration;

use run::{Row, RunOptions, Runtimes};
use scenario::Scenario;

#[derive(Parser)]
#[command(name = "ferrotel-bench", version, about = "ferrotel benchmark suite")]
struct Cli {
    /// The collector binary (default: `ferrotel` next to this executable).
    #[arg(long)]
    collector: Option<PathBuf>,
    /// Also run every scenario against this collector command and print ferrotel/other
    /// ratios. `--config FILE` (the generated OpenTelemetry Collector YAML) is appended, unless
    /// the command uses placeholders: `{receiver_grpc}`, `{receiver_http}`, `{sink_grpc}`,
    /// `{sink_http}` (ports on 127.0.0.1) and `{config}`, for collectors configured by flags.
    #[arg(long)]
    compare: Option<String>,
    /// Run only these scenarios (repeatable); see --list.
    #[arg(long)]
    scenario: Vec<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
    /// Measured time per scenario (default 20s; 3s with --quick).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Unmeasured load before measuring (default 3s; none with --quick).
    #[arg(long, value_parser = parse_duration)]
    warmup: Option<Duration>,
    /// Short runs, no warm-up: a smoke test, not a measurement.
    #[arg(long)]
    quick: bool,
    /// Runs per scenario; warns when they differ by more than 15 %.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Items per request (overrides the scenario's).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Concurrent senders (overrides the scenario's).
    #[arg(long)]
    workers: Option<usize>,
    /// Load generator threads.
    #[arg(long, default_value_t = 1)]
    loadgen_threads: usize,
    /// Print the rows as JSON on stdout (the table goes to stderr).
    #[arg(long)]
    json: bool,
    /// Instead of the scenarios: issue 21's side-by-side scrape benchmark, ferrotel's
    /// `prometheus` receiver and the Prometheus server scraping one target every 5 s.
    #[arg(long)]
    prometheus_scrape: bool,
    /// The Prometheus server binary for --prometheus-scrape.
    #[arg(long, default_value = "/usr/bin/prometheus")]
    prometheus: PathBuf,
    /// Series in the --prometheus-scrape exposition.
    #[arg(long, default_value_t = 100_000)]
    series: usize,
    /// Scrapes measured per scraper by --prometheus-scrape (5 s each).
    #[arg(long, default_value_t = 12)]
    scrapes: usize,
    /// Instead of the scenarios: issue 19's store benchmark, `otlp → batch → local_store`
    /// against the same pipeline into a no-op exporter, then the Jaeger API's trace-by-id and
    /// search timed on the filled store (`--repeat` rounds).
    #[arg(long)]
    local_store: bool,
    /// Spans the load generator sends per pipeline with --local-store.
    #[arg(long, default_value_t = 1_000_000)]
    spans: u64,
    /// The store's `max_size_mib` with --local-store.
    #[arg(long, default_value_t = 256)]
    store_mib: u64,
    /// Calls per timed query with --local-store (the median is reported).
    #[arg(long, default_value_t = 21)]
    query_calls: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Component type names (and aliases) `ferrotel components` lists; `None` if it cannot tell.
fn components(collector: &PathBuf) -> Option<Vec<String>> {
    let out = std::process::Command::new(collector)
        .arg("components")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut names = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("  ") else {
            continue;
        };
        if rest.starts_with(' ') {
            continue;
        }
        if let Some(name) = rest.split_whitespace().next() {
            names.push(name.to_owned());
        }
        if let Some((_, aliases)) = rest.split_once("(alias: ") {
            names.extend(aliases.trim_end_matches(')').split(", ").map(str::to_owned));
        }
    }
    Some(names)
}

fn real_main(cli: Cli) -> anyhow::Result<bool> {
    let all = scenario::all();
    if cli.list {
        for s in &all {
            println!(
                "{:<30} {} {} rate={} requires: {}",
                s.name,
                s.signal,
                s.protocol.as_str(),
                s.rate_label(),
                s.requires.join(", ")
            );
        }
        return Ok(true);
    }
    let selected: Vec<Scenario> = if cli.scenario.is_empty() {
        all
    } else {
        let mut v = Vec::new();
        for name in &cli.scenario {
            match all.iter().find(|s| s.name == name) {
                Some(s) => v.push(s.clone()),
                None => anyhow::bail!("unknown scenario {name:?} (see --list)"),
            }
        }
        v
    };
    let collector = match cli.collector {
        Some(p) => p,
        None => std::env::current_exe()?
            .parent()
            .map(|d| d.join("ferrotel"))
            .unwrap_or_else(|| PathBuf::from("ferrotel")),
    };
    if !collector.exists() {
        anyhow::bail!(
            "collector binary {} not found (build it: cargo build --release -p ferrotel, or pass --collector)",
            collector.display()
        );
    }
    // The collector runs in a temporary directory: make the path absolute.
    let collector = std::fs::canonicalize(&collector)?;
    if cli.prometheus_scrape {
        prom_scrape::run(&collector, &cli.prometheus, cli.series, cli.scrapes)?;
        return Ok(true);
    }
    if cli.local_store {
        let rt = Runtimes::new(cli.loadgen_threads)?;
        let o = local_store::Options {
            spans: cli.spans,
            cap_mib: cli.store_mib,
            calls: cli.query_calls,
            repeat: cli.repeat,
        };
        return local_store::run(&collector, &o, &rt.load);
    }
    let opts = RunOptions {
        duration: cli
            .duration
            .unwrap_or(Duration::from_secs(if cli.quick { 3 } else { 20 })),
        warmup: cli
            .warmup
            .unwrap_or(Duration::from_secs(if cli.quick { 0 } else { 3 })),
        batch_size: cli.batch_size,
        workers: cli.workers,
    };
    let (nproc, model) = procfs::machine();
    let out = |s: &str| {
        if cli.json {
            eprintln!("{s}")
        } else {
            println!("{s}")
        }
    };
    out(&format!(
        "machine: {nproc} cores, {model}; load average {:.2}; collector {}; {} s measured per run, {} s warm-up",
        procfs::load_average(),
        collector.display(),
        opts.duration.as_secs_f64(),
        opts.warmup.as_secs_f64()
    ));
    out(
        "loadgen and sink run in this process and compete with the collector for CPU; figures are the collector's alone. Latency is the loadgen's request latency (collector ack).",
    );
    let available = components(&collector);
    let rt = Runtimes::new(cli.loadgen_threads)?;
    let ferrotel_cmd = vec![collector.to_string_lossy().into_owned()];
    let other_cmd: Option<Vec<String>> = cli
        .compare
        .as_ref()
        .map(|c| {
            c.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<String>>()
        })
        .map(|mut v| {
            if let Some(first) = v.first_mut()
                && first.contains('/')
                && let Ok(p) = std::fs::canonicalize(&*first)
            {
                *first = p.to_string_lossy().into_owned();
            }
            v
        })
        .filter(|v| !v.is_empty());
    let mut rows: Vec<Row> = Vec::new();
    out(&table::header());
    let mut ok = true;
    for s in &selected {
        if let Some(names) = &available {
            let missing: Vec<&str> = s
                .requires
                .iter()
                .copied()
                .filter(|r| !names.iter().any(|n| n == r))
                .collect();
            if !missing.is_empty() {
                let row = Row {
                    scenario: s.name.into(),
                    collector: "ferrotel".into(),
                    rate: s.rate_label(),
                    skipped: Some(format!(
                        "collector lacks {} (`ferrotel components`)",
                        missing.join(", ")
                    )),
                    ..Default::default()
                };
                out(&table::row(&row));
                rows.push(row);
                continue;
            }
        }
        let mut targets = vec![("ferrotel", &ferrotel_cmd)];
        if let Some(c) = &other_cmd {
            targets.push(("other", c));
        }
        let mut medians: Vec<Row> = Vec::new();
        for (label, cmd) in targets {
            let mut runs = Vec::new();
            for _ in 0..cli.repeat.max(1) {
                match run::run(s, cmd, label, &opts, &rt) {
                    Ok(r) => {
                        out(&table::row(&r));
                        runs.push(r);
                    }
                    Err(e) => {
                        ok = false;
                        let row = Row {
                            scenario: s.name.into(),
                            collector: label.into(),
                            rate: s.rate_label(),
                            skipped: Some(format!("failed: {e:#}")),
                            ..Default::default()
                        };
                        out(&table::row(&row));
                        rows.push(row);
                    }
                }
            }
            if let Some(spread) = table::spread(&runs)
                && spread > 0.15
            {
                out(&format!(
                    "  warning: {label} {}: CPU per item varies by {:.0}% between runs (noisy machine?)",
                    s.name,
                    spread * 100.0
                ));
            }
            for r in &runs {
                ok &= r.loss == 0 && r.duplicates == 0;
            }
            if let Some(m) = table::median(&runs) {
                medians.push(m);
            }
            rows.extend(runs);
        }
        if let [a, b] = medians.as_slice() {
            out(&table::ratio(a, b));
        }
    }
    let warnings: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            r.warnings
                .iter()
                .map(move |w| format!("{} ({}): {w}", r.scenario, r.collector))
        })
        .collect();
    for w in &warnings {
        out(&format!("warning: {w}"));
    }
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    }
    Ok(ok)
}

mod table {
    //! The results table.

    use super::Row;

    pub fn header() -> String {
        format!(
            "{:<28} {:<9} {:>7} {:>10} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8} {:>6} {:>5}\n{}",
            "scenario",
            "collector",
            "rate",
            "items/s",
            "CPU s/M",
            "CPU %",
            "RSS pk",
            "RSS st",
            "p50 ms",
            "p99 ms",
            "loss",
            "dup",
            "-".repeat(124)
        )
    }

    pub fn row(r: &Row) -> String {
        if let Some(why) = &r.skipped {
            return format!(
                "{:<28} {:<9} {:>7} skipped: {why}",
                r.scenario, r.collector, r.rate
            );
        }
        format!(
            "{:<28} {:<9} {:>7} {:>10.0} {:>9.2} {:>7.1} {:>8.1} {:>8.1} {:>8.2} {:>8.2} {:>6} {:>5}",
            r.scenario,
            r.collector,
            r.rate,
            r.items_per_s,
            r.cpu_s_per_million,
            r.cpu_pct,
            r.rss_peak_mib,
            r.rss_steady_mib,
            r.p50_ms,
            r.p99_ms,
            r.loss,
            r.duplicates
        )
    }

    /// (max - min) / median of CPU per item over repeated runs.
    pub fn spread(runs: &[Row]) -> Option<f64> {
        if runs.len() < 2 {
            return None;
        }
        let v: Vec<f64> = runs.iter().map(|r| r.cpu_s_per_million).collect();
        let max = v.iter().cloned().fold(f64::MIN, f64::max);
        let min = v.iter().cloned().fold(f64::MAX, f64::min);
        let m = median(runs)?.cpu_s_per_million;
        (m > 0.0).then(|| (max - min) / m)
    }

    /// The run with the median CPU per item.
    pub fn median(runs: &[Row]) -> Option<Row> {
        let mut v: Vec<&Row> = runs.iter().collect();
        v.sort_by(|a, b| a.cpu_s_per_million.total_cmp(&b.cpu_s_per_million));
        v.get(v.len() / 2).map(|r| (*r).clone())
    }

    /// ferrotel / other, for the figures where lower is better and for throughput.
    pub fn ratio(a: &Row, b: &Row) -> String {
        let q = |x: f64, y: f64| {
            if y > 0.0 {
                format!("{:.2}x", x / y)
            } else {
                "-".into()
            }
        };
        format!(
            "  {} ferrotel/other: items/s {}, CPU per item {}, CPU % {}, RSS peak {}, RSS steady {}, p99 {}",
            a.scenario,
            q(a.items_per_s, b.items_per_s),
            q(a.cpu_s_per_million, b.cpu_s_per_million),
            q(a.cpu_pct, b.cpu_pct),
            q(a.rss_peak_mib, b.rss_peak_mib),
            q(a.rss_steady_mib, b.rss_steady_mib),
            q(a.p99_ms, b.p99_ms)
        )
    }
}
