//! The `ferrotel-loadgen` binary end to end: generator → sink over every protocol, fault
//! injection, and duplicate detection.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};

use ferrotel_loadgen::Report;
use ferrotel_loadgen::sink::Summary;
use ferrotel_loadgen::sink::stats_http::get;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ferrotel-loadgen");

/// A sink child process on free ports, terminated (SIGTERM) on drop.
struct SinkProc {
    child: Child,
    stdout: BufReader<ChildStdout>,
    grpc: SocketAddr,
    http: SocketAddr,
    stats: SocketAddr,
}

impl SinkProc {
    fn start(extra: &[&str]) -> SinkProc {
        let mut child = Command::new(BIN)
            .args(["sink", "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(["--stats", "127.0.0.1:0", "--record-ids", "--interval", "0s"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sink");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).expect("ready line");
        let ready: Value = serde_json::from_str(&line).expect("ready JSON");
        let addr = |k: &str| ready[k].as_str().expect(k).parse().unwrap();
        SinkProc {
            grpc: addr("grpc"),
            http: addr("http"),
            stats: addr("stats"),
            child,
            stdout,
        }
    }

    fn endpoint(&self, protocol: &str) -> String {
        match protocol {
            "grpc" => self.grpc.to_string(),
            _ => format!("http://{}", self.http),
        }
    }

    fn stats(&self) -> Summary {
        serde_json::from_str(&get(self.stats, "/stats").expect("GET /stats")).unwrap()
    }

    /// SIGTERM, then the final summary line.
    fn finish(mut self) -> Value {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let mut last = String::new();
        let mut line = String::new();
        while self.stdout.read_line(&mut line).unwrap_or(0) > 0 {
            last = std::mem::take(&mut line);
        }
        self.child.wait().expect("sink exits");
        serde_json::from_str(&last).expect("summary JSON")
    }
}

impl Drop for SinkProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn loadgen(args: &[&str]) -> Report {
    let out = Command::new(BIN)
        .args(args)
        .args(["--json", "--timeout", "5s"])
        .output()
        .expect("run loadgen");
    assert!(
        out.status.success(),
        "loadgen {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("report JSON")
}

fn exact_delivery(protocol: &str) {
    let sink = SinkProc::start(&[]);
    let ep = sink.endpoint(protocol);
    // 1030 items in requests of 100: the last one is partial.
    for signal in ["traces", "metrics", "logs"] {
        let r = loadgen(&[
            signal,
            "--endpoint",
            &ep,
            "--protocol",
            protocol,
            "--count",
            "1030",
            "--batch-size",
            "100",
            "--workers",
            "3",
        ]);
        assert_eq!(
            (r.sent, r.acknowledged, r.dropped),
            (1030, 1030, 0),
            "{signal}"
        );
        assert_eq!(r.requests, 11, "{signal}");
    }
    let stats = sink.stats();
    for signal in ["traces", "metrics", "logs"] {
        let s = &stats.signals[signal];
        assert_eq!(
            (s.items, s.unique_ids, s.duplicates, s.without_id),
            (1030, 1030, 0, 0),
            "{protocol} {signal}"
        );
    }
    let summary = sink.finish();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["signals"]["logs"]["unique_ids"], 1030);
}

#[test]
fn grpc_delivers_every_item_exactly_once() {
    exact_delivery("grpc");
}

#[test]
fn http_protobuf_delivers_every_item_exactly_once() {
    exact_delivery("http/protobuf");
}

#[test]
fn http_json_delivers_every_item_exactly_once() {
    exact_delivery("http/json");
}

#[test]
fn compressed_requests_arrive_intact() {
    let sink = SinkProc::start(&[]);
    for (proto, comp) in [("grpc", "gzip"), ("http/protobuf", "zstd")] {
        let r = loadgen(&[
            "logs",
            "--endpoint",
            &sink.endpoint(proto),
            "--protocol",
            proto,
            "--compression",
            comp,
            "--count",
            "500",
        ]);
        assert_eq!(r.acknowledged, 500);
    }
    let s = sink.stats().signals["logs"].clone();
    assert_eq!((s.unique_ids, s.duplicates), (1000, 0));
}

#[test]
fn retryable_refusals_are_retried_then_reported_dropped() {
    let sink = SinkProc::start(&["--fail-rate", "1"]);
    for proto in ["grpc", "http/protobuf"] {
        let r = loadgen(&[
            "traces",
            "--endpoint",
            &sink.endpoint(proto),
            "--protocol",
            proto,
            "--count",
            "200",
            "--batch-size",
            "100",
            "--max-retries",
            "2",
        ]);
        assert_eq!(r.acknowledged, 0, "{proto}");
        assert_eq!(r.dropped, 200, "{proto}");
        assert_eq!(r.retried, 400, "{proto}: 2 retries of 2 requests of 100");
        assert_eq!(r.refused_retryable_requests, 6, "{proto}");
        assert!(r.last_error.is_some());
    }
    let s = sink.stats().signals["traces"].clone();
    assert_eq!((s.items, s.refused_retryable), (0, 12));
}

#[test]
fn permanent_refusals_are_reported_and_not_retried() {
    let sink = SinkProc::start(&["--refuse-permanent-rate", "1"]);
    let r = loadgen(&[
        "metrics",
        "--endpoint",
        &sink.endpoint("grpc"),
        "--count",
        "300",
    ]);
    assert_eq!(
        (r.acknowledged, r.refused_permanent, r.retried),
        (0, 300, 0)
    );
    assert_eq!(sink.stats().signals["metrics"].refused_permanent, 3);
}

#[test]
fn outage_window_is_ridden_out_by_retries() {
    let sink = SinkProc::start(&["--down-for", "300ms"]);
    let r = loadgen(&[
        "logs",
        "--endpoint",
        &sink.endpoint("grpc"),
        "--count",
        "200",
        "--max-retries",
        "10",
    ]);
    assert_eq!((r.acknowledged, r.dropped), (200, 0));
    assert!(r.retried > 0, "the sink was down at first: {r:?}");
    let s = sink.stats().signals["logs"].clone();
    assert_eq!((s.unique_ids, s.duplicates), (200, 0));
}

#[test]
fn sending_the_same_requests_twice_is_detected_as_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("traces.corpus");
    let corpus = corpus.to_str().unwrap();
    let out = Command::new(BIN)
        .args([
            "corpus", "--signal", "traces", "--count", "250", "--out", corpus,
        ])
        .args(["--batch-size", "100"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sink = SinkProc::start(&[]);
    let ep = sink.endpoint("grpc");
    let r = loadgen(&["traces", "--endpoint", &ep, "--corpus", corpus]);
    assert_eq!(r.acknowledged, 250);
    let s = sink.stats().signals["traces"].clone();
    assert_eq!((s.unique_ids, s.duplicates), (250, 0));
    let r = loadgen(&["traces", "--endpoint", &ep, "--corpus", corpus]);
    assert_eq!(r.acknowledged, 250);
    let s = sink.stats().signals["traces"].clone();
    assert_eq!((s.items, s.unique_ids, s.duplicates), (500, 250, 250));
    // A corpus of one signal cannot be sent as another.
    let out = Command::new(BIN)
        .args(["logs", "--endpoint", &ep, "--corpus", corpus])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let summary = sink.finish();
    assert_eq!(summary["signals"]["traces"]["duplicates"], 250);
}

#[test]
fn fixed_rate_is_respected() {
    let sink = SinkProc::start(&[]);
    let r = loadgen(&[
        "traces",
        "--endpoint",
        &sink.endpoint("grpc"),
        "--rate",
        "2000",
        "--duration",
        "1s",
        "--batch-size",
        "50",
    ]);
    assert!(
        (1500..=2600).contains(&r.acknowledged),
        "2000/s for 1 s sent {}",
        r.acknowledged
    );
}
