//! Helpers for tests that run the `ferrotel` binary.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_pdata::{Payload, Request, Signal};

/// A free loopback port (bound then released: good enough on a test machine).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running collector; killed on drop.
pub struct Collector {
    pub child: Child,
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Collector {
    /// Starts `ferrotel --config <yaml>` and waits for its ready line.
    pub fn start(dir: &Path, yaml: &str) -> Collector {
        Collector::start_with_env(dir, yaml, &[])
    }

    /// [`start`](Self::start) with variables set on the child (never on the test process:
    /// tests run in parallel).
    pub fn start_with_env(dir: &Path, yaml: &str, env: &[(&str, &str)]) -> Collector {
        let cfg = dir.join("config.yaml");
        std::fs::write(&cfg, yaml).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferrotel"))
            .arg("--config")
            .arg(&cfg)
            .envs(env.iter().copied())
            .current_dir(dir)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let err = child.stderr.take().unwrap();
        let log = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if line.contains(" ready in ") {
                    let _ = tx.send(());
                }
                log.lock().unwrap().push_str(&line);
                log.lock().unwrap().push('\n');
            }
        });
        if rx.recv_timeout(Duration::from_secs(20)).is_err() {
            let _ = child.kill();
            panic!("ferrotel did not become ready:\n{}", stderr.lock().unwrap());
        }
        Collector { child, stderr }
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits for exit; returns the exit code.
    pub fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "ferrotel did not exit within {timeout:?}:\n{}",
            self.stderr.lock().unwrap()
        );
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A traces payload with `n` spans named `<prefix>-<i>`, each with a unique span id.
pub fn spans(prefix: &str, start: u64, n: u64) -> Payload {
    let spans = (start..start + n)
        .map(|i| Span {
            trace_id: [7u8; 16].to_vec().into(),
            span_id: (i + 1).to_be_bytes().to_vec().into(),
            name: format!("{prefix}-{i}"),
            start_time_unix_nano: 1_700_000_000_000_000_000 + i,
            end_time_unix_nano: 1_700_000_000_000_000_100 + i,
            attributes: vec![KeyValue {
                key: "seq".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::IntValue(i as i64)),
                }),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Payload::from_request(Request::Traces(req))
}

/// Every span in a file exporter's OTLP/JSON lines, in file order.
pub fn spans_in(path: &Path) -> Vec<Span> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut spans = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Request::Traces(r) =
            ferrotel_pdata::json::decode(Signal::Traces, line.as_bytes()).unwrap()
        else {
            unreachable!()
        };
        for rs in r.resource_spans {
            for ss in rs.scope_spans {
                spans.extend(ss.spans);
            }
        }
    }
    spans
}

/// Span names found in a file exporter's OTLP/JSON lines.
pub fn span_names_in(path: &Path) -> Vec<String> {
    spans_in(path).into_iter().map(|s| s.name).collect()
}
