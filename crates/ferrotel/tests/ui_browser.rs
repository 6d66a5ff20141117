//! The local web UI in headless Chromium (issue 19): `ferrotel` with the `local_store` exporter
//! receives, over OTLP, a multi-service checkout trace with an error span, logs inside its spans
//! and metrics from the Python SDK (tests/ui/send_checkout.py), plus a 10 000-span trace; then
//! tests/ui/ui_test.mjs (playwright-core driving Debian's `/usr/bin/chromium`) searches, opens the
//! waterfall, jumps to the error, follows the span to its logs and back, draws metric charts,
//! views pasted and loaded OTLP/JSON, renders the big trace and checks the live mode.
//!
//! Screenshots of every page are kept in `<target>/tmp/ui-screenshots/` (printed).
//! Needs: `apt-get install -y chromium`, `npm ci --prefix tests/ui`,
//! `python3 -m pip install -r tests/interop/requirements.txt` (all done by `.ci/run`); a missing
//! one fails the test with its install command.

mod interop_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrotel_pdata::Request;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};
use interop_support::*;
use serde_json::Value;

const BIG_SPANS: usize = 10_000;

fn config(grpc: u16, http: u16, ui: u16, metrics: u16) -> String {
    format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
      http:
        endpoint: 127.0.0.1:{http}
exporters:
  local_store:
    max_size_mib: 256
    ui:
      enabled: true
      endpoint: 127.0.0.1:{ui}
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{metrics}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [local_store]
    metrics:
      receivers: [otlp]
      exporters: [local_store]
    logs:
      receivers: [otlp]
      exporters: [local_store]
"#
    )
}

/// GET on 127.0.0.1:`port`; (status, body).
fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    )?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let head_end = text.find("\r\n\r\n").map_or(text.len(), |i| i + 4);
    let mut body = text[head_end..].to_string();
    if text[..head_end]
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some(i) = s.find("\r\n") {
        let n = usize::from_str_radix(s[..i].trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&s[i + 2..i + 2 + n]);
        s = &s[i + 2 + n + 2..];
    }
    out
}

fn get_json(port: u16, path: &str) -> Value {
    match http_get(port, path) {
        Ok((200, body)) => serde_json::from_str(&body).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

fn string(key: &str, v: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

/// A 10 000-span trace of service `bulk` (root `bulk-root`, ten children per span, every
/// 997th span an error), ending now.
fn big_trace() -> Vec<u8> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let t0 = now - 3_000_000_000;
    let trace_id: Vec<u8> = (0..16u8).map(|i| 0xb0 | (i & 0xf)).collect();
    let spans = (0..BIG_SPANS)
        .map(|i| {
            let parent = if i == 0 { None } else { Some((i - 1) / 10) };
            let start = t0 + i as u64 * 200_000;
            Span {
                trace_id: trace_id.clone().into(),
                span_id: ((i as u64) + 1).to_be_bytes().to_vec().into(),
                parent_span_id: parent
                    .map(|p| ((p as u64) + 1).to_be_bytes().to_vec())
                    .unwrap_or_default()
                    .into(),
                name: if i == 0 {
                    "bulk-root".into()
                } else {
                    format!("bulk-op-{i}")
                },
                kind: if i == 0 { 2 } else { 1 },
                start_time_unix_nano: start,
                end_time_unix_nano: if i == 0 { now } else { start + 1_000_000 },
                attributes: vec![string("bulk.index", &i.to_string())],
                status: (i % 997 == 996).then(|| Status {
                    code: status::StatusCode::Error as i32,
                    message: "bulk failure".into(),
                }),
                ..Default::default()
            }
        })
        .collect();
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string("service.name", "bulk")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "ui-test.bulk".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Request::Traces(req).encode_proto().to_vec()
}

fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots")
}

/// The browser and its driver must be installed: CI installs them (`.ci/run`), so a missing one
/// is a failure with the command that installs it, never a skip.
fn check_tools() -> PathBuf {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        chromium.exists(),
        "{} is missing: install Debian's chromium (`apt-get install -y chromium`; .ci/run does it)",
        chromium.display()
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "node is missing: install Node.js (`apt-get install -y nodejs npm`; .ci/run does it)"
    );
    let modules = repo_root().join("tests/ui/node_modules/playwright-core");
    assert!(
        modules.is_dir(),
        "{} is missing: run `npm ci --prefix tests/ui` (.ci/run does it)",
        modules.display()
    );
    chromium
}

#[test]
fn web_ui_in_headless_chromium() {
    let chromium = check_tools();
    let dir = tempfile::tempdir().unwrap();
    let (grpc, http, ui, m) = (free_port(), free_port(), free_port(), free_port());
    let _collector = Collector::start("local", dir.path(), &config(grpc, http, ui, m), Some(m));
    wait_for(Duration::from_secs(10), "the UI server", || {
        http_get(ui, "/api/v1/services").is_ok_and(|(s, _)| s == 200)
    });

    // The Python SDK's OTLP/HTTP exporters: the checkout trace, its logs, the metrics.
    let sent = run_client(
        Command::new("python3")
            .arg(repo_root().join("tests/ui/send_checkout.py"))
            .arg("--endpoint")
            .arg(format!("127.0.0.1:{http}")),
        PIP_HINT,
    );
    let trace_id = sent["trace_id"].as_str().unwrap().to_string();
    assert_eq!(
        post_otlp(http, "/v1/traces", &big_trace()).unwrap(),
        200,
        "the 10 000-span trace was not accepted"
    );

    wait_for(Duration::from_secs(20), "everything in the store", || {
        let checkout = get_json(ui, &format!("/api/v1/traces/{trace_id}"));
        let n_spans: usize = checkout["resourceSpans"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .flat_map(|r| r["scopeSpans"].as_array().into_iter().flatten())
                    .map(|s| s["spans"].as_array().map_or(0, Vec::len))
                    .sum()
            })
            .unwrap_or(0);
        let bulk = get_json(ui, "/api/v1/traces?service=bulk");
        let logs = get_json(ui, &format!("/api/v1/logs?traceId={trace_id}"));
        let metrics = get_json(ui, "/api/v1/metrics");
        n_spans == 5
            && bulk["traces"][0]["spanCount"].as_u64() == Some(BIG_SPANS as u64)
            && logs["resourceLogs"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
            && metrics["metrics"].as_array().is_some_and(|m| m.len() >= 2)
    });

    let shots = screenshot_dir();
    let _ = std::fs::remove_dir_all(&shots);
    println!("UI screenshots: {}", shots.display());
    let out = Command::new("node")
        .arg(repo_root().join("tests/ui/ui_test.mjs"))
        .arg(format!("http://127.0.0.1:{ui}"))
        .arg(&shots)
        .arg(format!("http://127.0.0.1:{http}"))
        .env("CHROMIUM", &chromium)
        .env("UI_TEST_BIG_SPANS", BIG_SPANS.to_string())
        .env("UI_TEST_SENT", sent.to_string())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "tests/ui/ui_test.mjs failed ({}):\n{stdout}\n{stderr}\nscreenshots: {}",
        out.status,
        shots.display()
    );
    for name in [
        "01-search.png",
        "02-trace.png",
        "03-error-span.png",
        "04-span-logs.png",
        "07-metric-counter.png",
        "10-big-trace.png",
        "13-search-operation.png",
        "14-search-tag.png",
        "15-search-min-duration.png",
        "16-search-combined.png",
        "17-search-window.png",
    ] {
        assert!(shots.join(name).is_file(), "no screenshot {name}");
    }
}
