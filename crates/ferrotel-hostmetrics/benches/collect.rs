//! CPU per collection: every scraper at its Go defaults against this machine's /proc, and each
//! scraper alone, so the cost of the process walk is visible next to the cheap file reads.
//!
//! `cargo bench -p ferrotel-hostmetrics`

use criterion::{Criterion, criterion_group, criterion_main};
use ferrotel_hostmetrics::{Collector, HostMetricsConfig};
use ferrotel_runtime::config::{decode, node::parse_yaml};

fn collector(scrapers: &str) -> Collector {
    let yaml = format!("scrapers:\n{scrapers}");
    let node = parse_yaml(&yaml, "bench.yaml").unwrap();
    let cfg: HostMetricsConfig = decode(&node).unwrap();
    Collector::new(&cfg).unwrap()
}

const ALL: &str = "  cpu:\n  disk:\n  filesystem:\n  load:\n  memory:\n  network:\n  paging:\n  processes:\n  process: {mute_process_all_errors: true}\n  system:\n";

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("hostmetrics");
    let mut all = collector(ALL);
    let (req, _) = all.collect();
    let points: usize = req
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(ferrotel_pdata::payload::metric_point_count)
        .sum();
    eprintln!(
        "one collection of all scrapers: {} resources, {points} data points",
        req.resource_metrics.len()
    );
    g.bench_function("all_scrapers", |b| b.iter(|| all.collect()));
    g.bench_function("all_but_process", |b| {
        let mut c = collector(&ALL.replace("  process: {mute_process_all_errors: true}\n", ""));
        b.iter(|| c.collect())
    });
    for s in ["cpu", "memory", "network", "process", "processes"] {
        let mut c = collector(&format!("  {s}: {{}}\n"));
        g.bench_function(s, |b| b.iter(|| c.collect()));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
