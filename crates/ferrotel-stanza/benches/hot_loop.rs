//! A fixed number of lines through the operators, for instruction counts:
//! `valgrind --tool=callgrind <bench binary> N [receiver]` for two values of N; the difference
//! divided by the difference in N is the cost of one line without setup (docs/benchmarks.md).
//!
//! Default: one json_parser with embedded time and severity blocks, the entry dropped.
//! `receiver`: what the filelog receiver does per line in the issue's benchmark
//! (bench/filelog/run.py --operators): a `log.file.name` attribute, json_parser, time_parser,
//! severity_parser as three operators, then the entries encoded as an OTLP export request per
//! batch of 1024. `receiver-prost`: the same through prost structs (the path before).

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_stanza::{Entry, OperatorsConfig, Pipeline, Value};

const LINE: &str = r#"{"time":"2024-01-02T03:04:05.123456Z","level":"info","msg":"request handled","status":200,"path":"/api/v1/users","latency_ms":12.5,"user":"alice"}"#;

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let prost = std::env::args().any(|a| a == "receiver-prost");
    let receiver = prost || std::env::args().any(|a| a == "receiver");
    let ops = if receiver {
        serde_json::json!([
            {"type": "json_parser"},
            {"type": "time_parser", "parse_from": "attributes.time", "layout": "%Y-%m-%dT%H:%M:%S.%fZ"},
            {"type": "severity_parser", "parse_from": "attributes.level"}
        ])
    } else {
        serde_json::json!([{
            "type": "json_parser",
            "timestamp": {"parse_from": "attributes.time", "layout": "%Y-%m-%dT%H:%M:%S.%fZ"},
            "severity": {"parse_from": "attributes.level"}
        }])
    };
    let cfg: OperatorsConfig = serde_json::from_value(ops).expect("config");
    let mut p = Pipeline::build(&cfg).expect("builds");
    let mut out = Vec::with_capacity(1024);
    let mut encoder = ferrotel_stanza::LogsEncoder::default();
    let mut bytes = 0usize;
    let start = std::time::Instant::now();
    let cpu = cpu_time();
    for i in 0..n {
        let mut e = Entry::from_line(LINE.to_string(), 1);
        if receiver {
            e.attributes
                .insert("log.file.name".into(), Value::Str("app-00001.log".into()));
            p.process(e, &mut out);
            if prost {
                // The path before direct encoding: prost structs, then their encoding.
                if (i + 1) % 1024 == 0 || i + 1 == n {
                    let resource_logs = ferrotel_stanza::into_resource_logs(out.drain(..));
                    let request = ExportLogsServiceRequest { resource_logs };
                    bytes += Request::Logs(request).encode_proto().len();
                }
                continue;
            }
            for e in out.drain(..) {
                encoder.push(e);
            }
            if (i + 1) % 1024 == 0 || i + 1 == n {
                // As the receiver hands it on.
                let (encoded, items) = encoder.finish();
                let payload = Payload::from_encoded(Signal::Logs, encoded, items);
                bytes += payload.to_proto().len();
            }
        } else {
            out.clear();
            p.process(e, &mut out);
        }
    }
    let cpu = cpu_time() - cpu;
    println!(
        "{n} lines: {:.3} µs wall, {:.3} µs CPU per line ({bytes} bytes encoded)",
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
