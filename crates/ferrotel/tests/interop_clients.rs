//! Real OpenTelemetry SDK exporters (Python: gRPC and HTTP/protobuf for traces, metrics and
//! logs; Node: gRPC and HTTP/JSON for traces) sending to the `ferrotel` binary, checked item
//! by item (names, ids, parent ids, timestamps, attributes) in what its `file` exporters
//! wrote.
//!
//! The clients are installed by CI (`python3 -m pip install -r tests/interop/requirements.txt`,
//! `npm ci --prefix tests/interop`); a missing one fails the test with that command.

mod interop_support;

use std::process::Command;
use std::time::Duration;

use interop_support::*;
use serde_json::Value;

struct Sink {
    dir: tempfile::TempDir,
    grpc: u16,
    http: u16,
    _collector: Collector,
}

fn sink() -> Sink {
    let dir = tempfile::tempdir().unwrap();
    let (grpc, http, m) = (free_port(), free_port(), free_port());
    let c = Collector::start(
        "sink",
        dir.path(),
        &file_sink_config(dir.path(), grpc, http, m),
        Some(m),
    );
    Sink {
        dir,
        grpc,
        http,
        _collector: c,
    }
}

/// Waits until everything `expected` lists has been written, then checks it field by field.
fn check_all(s: &Sink, expected: &Value) {
    let d = s.dir.path();
    let n_spans = expected["spans"].as_array().unwrap().len();
    let n_logs = expected["logs"].as_array().unwrap().len();
    let n_metrics = expected["metrics"].as_array().unwrap().len();
    wait_for(
        Duration::from_secs(10),
        "data in the file exporters",
        || {
            let spans: usize = traces(&d.join("traces.bin"))
                .iter()
                .flat_map(|r| &r.resource_spans)
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum();
            let logs_n: usize = logs(&d.join("logs.bin"))
                .iter()
                .flat_map(|r| &r.resource_logs)
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len())
                .sum();
            let metrics_n = metrics(&d.join("metrics.bin")).len();
            spans >= n_spans && logs_n >= n_logs && (n_metrics == 0 || metrics_n > 0)
        },
    );
    check_spans(expected, &traces(&d.join("traces.bin")));
    check_logs(expected, &logs(&d.join("logs.bin")));
    check_metrics(expected, &metrics(&d.join("metrics.bin")));
}

fn python(protocol: &str) {
    let s = sink();
    let port = if protocol == "grpc" { s.grpc } else { s.http };
    let run = format!("py-{protocol}");
    let expected = run_client(
        Command::new("python3")
            .arg(repo_root().join("tests/interop/send_python.py"))
            .args(["--protocol", protocol, "--endpoint"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["--run", &run]),
        PIP_HINT,
    );
    assert_eq!(expected["spans"].as_array().unwrap().len(), 3);
    assert_eq!(expected["logs"].as_array().unwrap().len(), 2);
    check_all(&s, &expected);
}

#[test]
fn python_sdk_grpc() {
    python("grpc");
}

#[test]
fn python_sdk_http_protobuf() {
    python("http");
}

fn node(protocol: &str) {
    let modules = repo_root().join("tests/interop/node_modules");
    assert!(
        modules.is_dir(),
        "{} is missing: the interop clients are not installed: {NPM_HINT}",
        modules.display()
    );
    let s = sink();
    let port = if protocol == "grpc" { s.grpc } else { s.http };
    let run = format!("node-{protocol}");
    let expected = run_client(
        Command::new("node")
            .arg(repo_root().join("tests/interop/send_node.js"))
            .arg(protocol)
            .arg(format!("127.0.0.1:{port}"))
            .arg(&run),
        NPM_HINT,
    );
    assert_eq!(expected["spans"].as_array().unwrap().len(), 3);
    check_all(&s, &expected);
}

#[test]
fn node_sdk_grpc() {
    node("grpc");
}

#[test]
fn node_sdk_http_json() {
    node("http");
}
