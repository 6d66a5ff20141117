//! A driver for profiling the scrape receiver's per-scrape work (parse + convert + encoding the
//! request payload, as the scrape loop hands it to the pipeline) under callgrind, where criterion's timing loop would only add noise:
//!
//! ```sh
//! CARGO_PROFILE_DEV_OPT_LEVEL=2 cargo build -p ferrotel-prometheus --example scrape_profile
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_scrapes*' \
//!   target/debug/examples/scrape_profile node 1500 10
//! callgrind_annotate --inclusive=no callgrind.out.<pid>
//! ```
//!
//! Arguments: the exposition shape (`node`: a node_exporter-like mix of counters, gauges,
//! histograms and summaries; `bench`: `ferrotel-bench --prometheus-scrape`'s 100 families of
//! three-label counters and gauges), about how many samples, and how many measured scrapes
//! (after two warm-up scrapes that create the series). Prints the samples per scrape; the
//! instructions per sample are callgrind's total over (samples × scrapes).

use std::fmt::Write;

use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_prometheus::scrape::convert::{SeriesTracker, TargetContext};
use ferrotel_prometheus::scrape::relabel::Labels;
use ferrotel_prometheus::scrape::scraper::convert_body;
use ferrotel_prometheus::scrape::{Format, parse};

/// One scrape as the receiver's loop does it: parse, convert, the request payload.
fn scrape(body: &str, target: &TargetContext, tracker: &mut SeriesTracker, n: usize) -> usize {
    let ms = 1_700_000_000_000 + n as i64 * 5000;
    let scraped =
        convert_body(body.as_bytes(), Format::Text, target, tracker, ms).expect("convert");
    scraped
        .into_payload(Vec::new(), Resource::default(), None)
        .items()
}

/// A node_exporter-like exposition of about `n` samples; `round` changes the values.
fn node_body(n: usize, round: usize) -> String {
    let mut s = String::new();
    let cpus = (n / 60).max(1);
    // ~30 % counters with two labels (node_cpu_seconds_total-like).
    let _ = writeln!(
        s,
        "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n# TYPE node_cpu_seconds_total counter"
    );
    let modes = [
        "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
    ];
    let mut count = 0;
    'cpu: for c in 0..cpus {
        for m in modes {
            let _ = writeln!(
                s,
                "node_cpu_seconds_total{{cpu=\"{c}\",mode=\"{m}\"}} {}.{}",
                1000 * c + round,
                round * 7 % 100
            );
            count += 1;
            if count * 10 >= n * 3 {
                break 'cpu;
            }
        }
    }
    // ~30 % gauges with three labels (node_filesystem_*-like), several families.
    let per_fam = (n * 3 / 10 / 6).max(1);
    for f in 0..6 {
        let name = format!("node_filesystem_metric_{f}_bytes");
        let _ = writeln!(
            s,
            "# HELP {name} Filesystem metric {f} in bytes.\n# TYPE {name} gauge"
        );
        for i in 0..per_fam {
            let _ = writeln!(
                s,
                "{name}{{device=\"/dev/sd{i}\",fstype=\"ext4\",mountpoint=\"/mnt/volume-{i}\"}} {}",
                (i * 4096 + round * 512) as f64
            );
        }
    }
    // ~10 % unlabelled gauges (node_memory_*-like).
    for i in 0..(n / 10).max(1) {
        let name = format!("node_memory_Field{i}_bytes");
        let _ = writeln!(
            s,
            "# HELP {name} Memory information field Field{i}_bytes.\n# TYPE {name} gauge\n{name} {}",
            (i * 1_000_003 + round) as f64
        );
    }
    // ~20 % histogram samples (12 buckets + sum + count per series).
    let hists = (n / 5 / 14).max(1);
    let _ = writeln!(
        s,
        "# HELP http_request_duration_seconds Request latency.\n# TYPE http_request_duration_seconds histogram"
    );
    let les = [
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
    ];
    for h in 0..hists {
        let mut cum = 0;
        for (b, le) in les.iter().enumerate() {
            cum += b + round;
            let _ = writeln!(
                s,
                "http_request_duration_seconds_bucket{{handler=\"/api/{h}\",method=\"GET\",le=\"{le}\"}} {cum}"
            );
        }
        let _ = writeln!(
            s,
            "http_request_duration_seconds_sum{{handler=\"/api/{h}\",method=\"GET\"}} {}.5\nhttp_request_duration_seconds_count{{handler=\"/api/{h}\",method=\"GET\"}} {cum}",
            cum * 3
        );
    }
    // ~10 % summary samples (5 quantiles + sum + count).
    let sums = (n / 10 / 7).max(1);
    let _ = writeln!(
        s,
        "# HELP go_gc_duration_seconds A summary of GC pauses.\n# TYPE go_gc_duration_seconds summary"
    );
    for g in 0..sums {
        for q in ["0", "0.25", "0.5", "0.75", "1"] {
            let _ = writeln!(
                s,
                "go_gc_duration_seconds{{instance_id=\"{g}\",quantile=\"{q}\"}} 0.000{}",
                round + 1
            );
        }
        let _ = writeln!(
            s,
            "go_gc_duration_seconds_sum{{instance_id=\"{g}\"}} {}.25\ngo_gc_duration_seconds_count{{instance_id=\"{g}\"}} {}",
            round,
            100 + round
        );
    }
    s
}

/// `ferrotel-bench --prometheus-scrape`'s exposition.
fn bench_body(n: usize, round: usize) -> String {
    let mut s = String::new();
    for m in 0..100 {
        let (name, kind) = if m % 2 == 0 {
            (format!("bench_metric_{m}_total"), "counter")
        } else {
            (format!("bench_metric_{m}"), "gauge")
        };
        let _ = writeln!(s, "# HELP {name} A benchmark metric.\n# TYPE {name} {kind}");
        for i in 0..(n / 100).max(1) {
            let _ = writeln!(
                s,
                "{name}{{route=\"/api/v1/items/{}\",status=\"{}\",pod=\"pod-{i}\"}} {}",
                i % 50,
                200 + i / 50,
                (i * 3 + round) as f64
            );
        }
    }
    s
}

#[inline(never)]
fn measured_scrapes(
    bodies: &[String; 2],
    target: &TargetContext,
    tracker: &mut SeriesTracker,
    scrapes: usize,
    first: usize,
) -> usize {
    (first..first + scrapes)
        .map(|n| scrape(&bodies[n % 2], target, tracker, n))
        .sum()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let shape = args.get(1).map_or("node", String::as_str);
    let n: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1500);
    let scrapes: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(10);
    let bodies = match shape {
        "bench" => [bench_body(n, 1), bench_body(n, 2)],
        _ => [node_body(n, 1), node_body(n, 2)],
    };
    let target = TargetContext {
        labels: Labels::from_pairs([("job", "node"), ("instance", "127.0.0.1:9100")]),
        honor_labels: false,
        honor_timestamps: true,
        trim_metric_suffixes: false,
        sample_limit: 0,
        metric_relabel: Vec::new(),
    };
    let samples = parse(bodies[0].as_bytes(), Format::Text)
        .expect("parse")
        .samples
        .len();
    let mut tracker = SeriesTracker::default();
    // Warm-up: the series are created, as in the steady state of a running receiver.
    let mut points = 0;
    for n in 0..2 {
        points = scrape(&bodies[n % 2], &target, &mut tracker, n);
    }
    let started = std::time::Instant::now();
    measured_scrapes(&bodies, &target, &mut tracker, scrapes, 2);
    let elapsed = started.elapsed();
    println!(
        "{shape}: {samples} samples per scrape ({} bytes), {points} points per payload, {} tracked points; {scrapes} measured scrapes = {} samples; {:.0} ns/sample (wall, indicative only)",
        bodies[0].len(),
        tracker.len(),
        samples * scrapes,
        elapsed.as_nanos() as f64 / (samples * scrapes) as f64
    );
}
