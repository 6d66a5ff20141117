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

/// (user, system) CPU seconds of this process so far.
fn cpu_seconds() -> (f64, f64) {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given.
    let u = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr());
        u.assume_init()
    };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (s(u.ru_utime), s(u.ru_stime))
}

/// CPU (not wall) time per collection: the machine is shared, so wall time overstates it.
fn report_cpu(name: &str, c: &mut Collector) {
    const N: u32 = 50;
    let (u0, s0) = cpu_seconds();
    for _ in 0..N {
        std::hint::black_box(c.collect());
    }
    let (u1, s1) = cpu_seconds();
    eprintln!(
        "{name}: CPU per collection {:.2} ms user + {:.2} ms system (the kernel generating /proc text)",
        (u1 - u0) * 1e3 / N as f64,
        (s1 - s0) * 1e3 / N as f64
    );
}

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
    report_cpu("all_scrapers", &mut all);
    for s in [
        "cpu",
        "disk",
        "filesystem",
        "load",
        "memory",
        "network",
        "paging",
        "processes",
        "system",
    ] {
        report_cpu(s, &mut collector(&format!("  {s}: {{}}\n")));
    }
    report_cpu(
        "process",
        &mut collector("  process: {mute_process_all_errors: true}\n"),
    );
    g.bench_function("all_scrapers", |b| b.iter(|| all.collect()));
    g.bench_function("all_but_process", |b| {
        let mut c = collector(&ALL.replace("  process: {mute_process_all_errors: true}\n", ""));
        b.iter(|| c.collect())
    });
    for s in ["cpu", "memory", "network", "processes"] {
        let mut c = collector(&format!("  {s}: {{}}\n"));
        g.bench_function(s, |b| b.iter(|| c.collect()));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
