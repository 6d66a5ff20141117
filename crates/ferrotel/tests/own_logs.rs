//! `service::telemetry::logs` through the binary's stderr: `level` filters what is written and
//! `encoding: json` writes zap's JSON (the Go Collector's shape), `console` plain lines.

mod interop_support;

use std::process::{Command, Stdio};
use std::time::Duration;

use interop_support::*;
use serde_json::Value;

/// Runs ferrotel with `logs` as `service::telemetry::logs` until it is ready, then SIGTERM;
/// returns its stderr lines except ferrotel's own ready line (written as it is, not a log).
fn stderr_lines(logs: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let http = free_port();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{http}"}}
exporters:
  debug:
service:
  telemetry:
    metrics: {{level: none}}
    logs: {logs}
  pipelines:
    traces: {{receivers: [otlp], exporters: [debug]}}
"#
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_ferrotel"))
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Ready when the receiver answers (the ready line may be filtered out at level warn).
    wait_for(Duration::from_secs(30), "the OTLP receiver", || {
        std::net::TcpStream::connect(("127.0.0.1", http)).is_ok()
    });
    std::thread::sleep(Duration::from_millis(300));
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    text.lines()
        .filter(|l| !(l.is_empty() || l.starts_with("ferrotel ") && l.contains(" ready in ")))
        .map(str::to_string)
        .collect()
}

#[test]
fn json_encoding_writes_zaps_json_at_the_configured_level() {
    let lines = stderr_lines("{level: info, encoding: json}");
    assert!(!lines.is_empty());
    let mut messages = Vec::new();
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        // serde_json's map is sorted: check the zap keys are there, and their order in the text.
        for k in ["level", "ts", "caller", "msg"] {
            assert!(keys.contains(&k), "no {k} in {line}");
        }
        assert!(line.starts_with("{\"level\":\""), "{line}");
        let (ts, caller) = (v["ts"].as_str().unwrap(), v["caller"].as_str().unwrap());
        assert!(
            ts.len() == 24 && ts.ends_with('Z') && ts.as_bytes()[10] == b'T',
            "{ts}"
        );
        assert!(caller.contains(".rs:"), "{caller}");
        let level = v["level"].as_str().unwrap();
        assert!(["info", "warn", "error"].contains(&level), "{line}");
        messages.push(v["msg"].as_str().unwrap().to_string());
    }
    assert!(
        messages.contains(&"Everything is ready. Begin running and processing data.".to_string()),
        "{messages:?}"
    );
}

#[test]
fn console_encoding_and_the_level_filter() {
    let debug = stderr_lines("{level: debug, encoding: console}");
    assert!(debug.iter().all(|l| !l.starts_with('{')), "{debug:?}");
    // A pipe is not a terminal: no colour escapes.
    assert!(!debug.iter().any(|l| l.contains('\u{1b}')), "{debug:?}");
    // At debug, each component's "stopped" at shutdown is written.
    assert!(
        debug
            .iter()
            .any(|l| l.contains("DEBUG") && l.contains("stopped")),
        "{debug:#?}"
    );
    assert!(debug.iter().any(|l| l.contains(" INFO ")), "{debug:#?}");

    let info = stderr_lines("{level: info}");
    assert!(info.iter().any(|l| l.contains(" INFO ")), "{info:#?}");
    assert!(!info.iter().any(|l| l.contains("DEBUG")), "{info:#?}");

    let warn = stderr_lines("{level: warn}");
    assert!(
        !warn
            .iter()
            .any(|l| l.contains(" INFO ") || l.contains("DEBUG")),
        "{warn:#?}"
    );
}
