//! A fixed number of lines through json_parser + time + severity, for instruction counts:
//! `valgrind --tool=callgrind <bench binary> N` for two values of N; the difference divided by
//! the difference in N is the cost of one line without setup (docs/benchmarks.md).

use ferrotel_stanza::{Entry, OperatorsConfig, Pipeline};

const LINE: &str = r#"{"time":"2024-01-02T03:04:05.123456Z","level":"info","msg":"request handled","status":200,"path":"/api/v1/users","latency_ms":12.5,"user":"alice"}"#;

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let cfg: OperatorsConfig = serde_json::from_value(serde_json::json!([{
        "type": "json_parser",
        "timestamp": {"parse_from": "attributes.time", "layout": "%Y-%m-%dT%H:%M:%S.%fZ"},
        "severity": {"parse_from": "attributes.level"}
    }]))
    .expect("config");
    let mut p = Pipeline::build(&cfg).expect("builds");
    let mut out = Vec::with_capacity(1);
    let start = std::time::Instant::now();
    let cpu = cpu_time();
    for _ in 0..n {
        out.clear();
        p.process(Entry::from_line(LINE.to_string(), 1), &mut out);
    }
    let cpu = cpu_time() - cpu;
    println!(
        "{n} lines: {:.3} µs wall, {:.3} µs CPU per line",
        start.elapsed().as_secs_f64() * 1e6 / n as f64,
        cpu * 1e6 / n as f64
    );
}

/// This process's user+system CPU seconds (Linux `/proc/self/stat`).
fn cpu_time() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields
        .get(11)
        .and_then(|u| u.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0);
    ticks / 100.0
}
