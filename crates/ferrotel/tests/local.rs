//! The local all-in-one end to end: the `ferrotel` binary with the `local_store` exporter, fed
//! by the OpenTelemetry Python SDK (a two-service trace with an error span, logs inside the
//! spans, a metric), then read the way Grafana's Jaeger and Tempo data sources, Jaeger UI and
//! ferrotel's own UI read it.

mod interop_support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrotel_local::client::{self, Reply};
use interop_support::*;
use serde_json::{Value, json};

fn config(grpc: u16, http: u16, ui: u16) -> String {
    format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
exporters:
  local_store:
    max_size_mib: 64
    ui: {{endpoint: "127.0.0.1:{ui}"}}
service:
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [local_store]}}
    metrics: {{receivers: [otlp], exporters: [local_store]}}
    logs: {{receivers: [otlp], exporters: [local_store]}}
"#
    )
}

fn get(ui: u16, path: &str) -> Reply {
    client::get(&format!("http://127.0.0.1:{ui}"), path, "application/json")
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

fn get_json(ui: u16, path: &str) -> Value {
    let r = get(ui, path);
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json().unwrap()
}

/// Sends the Python SDK's trace, logs and metric; returns (trace id, error span id).
fn send_python(http: u16) -> (String, String) {
    let v = run_client(
        Command::new("python3")
            .arg(repo_root().join("tests/local/send_multiservice.py"))
            .arg("--endpoint")
            .arg(format!("127.0.0.1:{http}")),
        PIP_HINT,
    );
    (
        v["trace_id"].as_str().unwrap().to_string(),
        v["error_span_id"].as_str().unwrap().to_string(),
    )
}

fn tag<'a>(tags: &'a Value, key: &str) -> &'a Value {
    tags.as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == key)
        .unwrap_or_else(|| panic!("no tag {key} in {tags}"))
}

#[test]
fn python_sdk_data_through_jaeger_tempo_and_ferrotel_apis() {
    let dir = tempfile::tempdir().unwrap();
    let (grpc, http, ui) = (free_port(), free_port(), free_port());
    let mut c = Collector::start("local", dir.path(), &config(grpc, http, ui), None);
    let (trace_id, error_span) = send_python(http);

    // ferrotel's own API.
    assert_eq!(
        get_json(ui, "/api/v1/services"),
        json!({"services": ["frontend", "payment"]})
    );
    let found = get_json(
        ui,
        "/api/v1/traces?service=payment&tags=%7B%22error%22%3A%22true%22%7D",
    );
    let t = &found["traces"][0];
    assert_eq!(t["traceId"], trace_id.as_str());
    assert_eq!(
        (t["rootService"].as_str(), t["rootName"].as_str()),
        (Some("frontend"), Some("GET /checkout"))
    );
    assert_eq!(
        (t["spanCount"].as_u64(), t["errorCount"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(t["duration"], 25_000);
    let logs = get_json(
        ui,
        &format!("/api/v1/logs?traceId={trace_id}&spanId={error_span}&minSeverity=ERROR"),
    );
    let records = &logs["resourceLogs"][0]["scopeLogs"][0]["logRecords"];
    assert_eq!(records.as_array().unwrap().len(), 1, "{logs}");
    assert_eq!(
        records[0]["body"]["stringValue"],
        "card declined for order 17"
    );
    let metrics = get_json(ui, "/api/v1/metrics?service=payment");
    assert_eq!(metrics["metrics"][0]["name"], "payments.declined");
    let otlp = get_json(ui, &format!("/api/v1/traces/{trace_id}"));
    assert_eq!(otlp["resourceSpans"].as_array().unwrap().len(), 2);

    // Grafana's Jaeger data source: services → operations → search (lookback, tags) → trace.
    let services = get_json(ui, "/api/services");
    assert_eq!(
        services,
        json!({"data": ["frontend", "payment"], "total": 2, "limit": 0, "offset": 0, "errors": null})
    );
    let ops = get_json(ui, "/api/services/payment/operations");
    assert_eq!(ops["data"], json!(["POST /charge"]));
    let ops = get_json(ui, "/api/operations?service=frontend&spanKind=client");
    assert_eq!(
        ops["data"],
        json!([{"name": "charge", "spanKind": "client"}])
    );
    let search = get_json(
        ui,
        "/api/traces?service=payment&operation=POST%20%2Fcharge&tags=%7B%22http.route%22%3A%22%2Fcharge%22%7D&minDuration=10ms&maxDuration=1s&lookback=1h&limit=20",
    );
    assert_eq!(search["total"], 1, "{search}");
    let by_id = get_json(ui, &format!("/api/traces/{trace_id}"));
    assert_eq!(by_id["data"], search["data"]);
    let jt = &by_id["data"][0];
    assert_eq!(jt["traceID"], trace_id.as_str());
    let spans = jt["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 3);
    let span = |name: &str| spans.iter().find(|s| s["operationName"] == name).unwrap();
    let root = span("GET /checkout");
    assert_eq!(root["references"], json!([]));
    assert_eq!(
        tag(&root["tags"], "http.status_code"),
        &json!({"key": "http.status_code", "type": "int64", "value": 500})
    );
    assert_eq!(tag(&root["tags"], "span.kind")["value"], "server");
    assert_eq!(tag(&root["tags"], "otel.scope.name")["value"], "shop.web");
    assert_eq!(tag(&root["tags"], "otel.scope.version")["value"], "1.2");
    let err = span("POST /charge");
    assert_eq!(err["references"][0]["refType"], "CHILD_OF");
    assert_eq!(err["references"][0]["spanID"], span("charge")["spanID"]);
    assert_eq!(
        tag(&err["tags"], "error"),
        &json!({"key": "error", "type": "bool", "value": true})
    );
    assert_eq!(tag(&err["tags"], "otel.status_code")["value"], "ERROR");
    assert_eq!(
        tag(&err["tags"], "otel.status_description")["value"],
        "card declined"
    );
    assert_eq!(
        tag(&err["tags"], "amount"),
        &json!({"key": "amount", "type": "float64", "value": 12.5})
    );
    assert_eq!(tag(&err["tags"], "retry")["type"], "bool");
    assert_eq!(
        err["logs"][0]["fields"][0],
        json!({"key": "event", "type": "string", "value": "card.declined"})
    );
    assert_eq!(err["duration"], 18_000);
    for s in spans {
        for field in [
            "traceID",
            "spanID",
            "operationName",
            "references",
            "startTime",
            "duration",
            "tags",
            "logs",
            "processID",
            "warnings",
        ] {
            assert!(s.get(field).is_some(), "span without {field}: {s}");
        }
    }
    let processes = jt["processes"].as_object().unwrap();
    assert_eq!(processes.keys().collect::<Vec<_>>(), ["p1", "p2"]);
    let p = &processes[err["processID"].as_str().unwrap()];
    assert_eq!(p["serviceName"], "payment");
    assert_eq!(tag(&p["tags"], "deployment.environment")["value"], "dev");

    // Grafana's Tempo data source: echo → tags → tag values → search → trace by id.
    assert_eq!(get(ui, "/tempo/api/echo").text(), "echo");
    let tags = get_json(ui, "/tempo/api/search/tags");
    assert!(
        tags["tagNames"]
            .as_array()
            .unwrap()
            .contains(&json!("http.route")),
        "{tags}"
    );
    let values = get_json(ui, "/tempo/api/search/tag/service.name/values");
    assert_eq!(values, json!({"tagValues": ["frontend", "payment"]}));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let search = get_json(
        ui,
        &format!(
            "/tempo/api/search?tags=service.name%3Dpayment%20http.route%3D%2Fcharge&minDuration=5ms&limit=10&start={}&end={}",
            now - 3600,
            now + 60
        ),
    );
    let hit = &search["traces"][0];
    assert_eq!(hit["traceID"], trace_id.trim_start_matches('0'));
    assert_eq!(hit["rootServiceName"], "frontend");
    assert_eq!(hit["rootTraceName"], "GET /checkout");
    assert_eq!(hit["durationMs"], 25);
    assert!(hit["startTimeUnixNano"].is_string());
    let tempo_trace = get_json(ui, &format!("/tempo/api/traces/{trace_id}"));
    assert_eq!(tempo_trace["batches"].as_array().unwrap().len(), 2);
    let proto = client::get(
        &format!("http://127.0.0.1:{ui}"),
        &format!("/tempo/api/traces/{trace_id}"),
        "application/protobuf",
    )
    .unwrap();
    assert_eq!(proto.content_type, "application/protobuf");
    let decoded =
        ferrotel_pdata::Request::decode_proto(ferrotel_pdata::Signal::Traces, proto.body.into())
            .unwrap();
    assert_eq!(decoded.item_count(), 3);

    // Every malformed parameter is a 400 naming it, in each API's shape; unknown traces 404.
    for (path, param) in [
        ("/api/v1/traces?limit=abc", "`limit`"),
        ("/api/v1/traces?minDuration=10", "`minDuration`"),
        ("/api/v1/traces?maxDuration=x", "`maxDuration`"),
        ("/api/v1/traces?start=today", "`start`"),
        ("/api/v1/traces?end=-1", "`end`"),
        ("/api/v1/traces?tags=%5B1%5D", "`tags`"),
        ("/api/v1/traces?kind=up", "`kind`"),
        ("/api/v1/operations", "`service`"),
        ("/api/v1/logs?minSeverity=LOUD", "`minSeverity`"),
        ("/api/v1/logs?traceId=xyz", "`traceId`"),
        ("/api/v1/logs?spanId=12", "`spanId`"),
        ("/api/v1/logs?attributes=x", "`attributes`"),
        ("/api/v1/logs?limit=-3", "`limit`"),
        ("/api/v1/metrics/payments.declined?start=x", "`start`"),
        ("/api/v1/traces/not-hex", "`traceId`"),
    ] {
        let r = get(ui, path);
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        let msg = r.json().unwrap()["error"].as_str().unwrap().to_string();
        assert!(msg.contains(param), "{path}: {msg}");
    }
    for (query, param) in [
        ("limit=abc", "'limit'"),
        ("lookback=soon", "'lookback'"),
        ("tags=%7B", "'tags'"),
        ("tag=nocolon", "'tag'"),
        ("minDuration=1x", "'minDuration'"),
        ("start=x", "'start'"),
        ("end=x", "'end'"),
    ] {
        let r = get(ui, &format!("/api/traces?service=payment&{query}"));
        assert_eq!(r.status, 400, "{query}");
        let v = r.json().unwrap();
        assert_eq!(v["errors"][0]["code"], 400);
        assert!(
            v["errors"][0]["msg"].as_str().unwrap().contains(param),
            "{v}"
        );
    }
    for (query, param) in [
        ("limit=x", "limit"),
        ("start=x", "start"),
        ("maxDuration=x", "maxDuration"),
        ("tags=a", "tags"),
        ("q=x", "q"),
    ] {
        let r = get(ui, &format!("/tempo/api/search?{query}"));
        assert_eq!(r.status, 400, "{query}");
        assert!(
            r.text().starts_with(&format!("invalid {param}:")),
            "{}",
            r.text()
        );
    }
    let unknown = "0af7651916cd43dd8448eb211c80319c";
    assert_eq!(
        get(ui, &format!("/api/v1/traces/{unknown}"))
            .json()
            .unwrap(),
        json!({"error": format!("trace {unknown} not found")})
    );
    let r = get(ui, &format!("/api/traces/{unknown}"));
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json().unwrap()["errors"][0],
        json!({"code": 404, "msg": "trace not found"})
    );
    assert_eq!(get(ui, &format!("/tempo/api/traces/{unknown}")).status, 404);

    // The UI's pages and files.
    for page in [
        "/",
        "/search?service=payment",
        &format!("/trace/{trace_id}"),
        "/logs",
        "/metrics",
    ] {
        let r = get(ui, page);
        assert_eq!(
            (r.status, r.content_type.as_str()),
            (200, "text/html; charset=utf-8"),
            "{page}"
        );
    }
    assert_eq!(
        get(ui, "/static/app.js").content_type,
        "text/javascript; charset=utf-8"
    );
    assert_eq!(get(ui, "/static/nope.js").status, 404);

    assert_eq!(c.terminate().code(), Some(0), "{}", c.log());
}

/// Grafana's time pickers: Jaeger's `start`/`end` in µs (Grafana adds `lookback=custom`, Jaeger
/// UI a named lookback, which `start` overrides), Tempo's in seconds, ferrotel's own in µs. The
/// Python SDK sends traces that started 3 h, 90 min, 30 min and 5 min ago; a window from 2 h to
/// 20 min ago finds the two inside it and neither neighbour.
#[test]
fn searches_keep_to_the_start_end_window() {
    let dir = tempfile::tempdir().unwrap();
    let (grpc, http, ui) = (free_port(), free_port(), free_port());
    let mut c = Collector::start("local", dir.path(), &config(grpc, http, ui), None);
    let mut cmd = Command::new("python3");
    cmd.arg(repo_root().join("tests/local/send_at_times.py"))
        .arg("--endpoint")
        .arg(format!("127.0.0.1:{http}"));
    for ago in ["10800", "5400", "1800", "300"] {
        cmd.args(["--ago", ago]);
    }
    let sent = run_client(&mut cmd, PIP_HINT);
    let id = |ago: &str| sent["traces"][ago].as_str().unwrap().to_string();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let now_us = sent["now_ns"].as_u64().unwrap() / 1000;
    let (start_us, end_us) = (now_us - 7_200_000_000, now_us - 1_200_000_000);
    let inside = sorted(vec![id("5400"), id("1800")]);
    assert_eq!(inside.len(), 2);

    let jaeger = |query: &str| {
        let v = get_json(ui, &format!("/api/traces?service=clock&limit=20&{query}"));
        assert_eq!(v["total"], v["data"].as_array().unwrap().len(), "{v}");
        sorted(
            v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["traceID"].as_str().unwrap().to_string())
                .collect(),
        )
    };
    assert_eq!(
        jaeger(&format!("start={start_us}&end={end_us}&lookback=custom")),
        inside
    );
    assert_eq!(
        jaeger(&format!("start={start_us}&end={end_us}&lookback=1h")),
        inside,
        "a lookback beside start/end must not widen the window"
    );
    // Without `start`, the lookback counts back from now.
    assert_eq!(
        jaeger("lookback=2h"),
        sorted(vec![id("5400"), id("1800"), id("300")])
    );
    // A window with nothing in it: between the 3 h and the 90 min trace.
    let empty = jaeger(&format!(
        "start={}&end={}&lookback=custom",
        now_us - 9_000_000_000,
        now_us - 6_000_000_000
    ));
    assert!(empty.is_empty(), "{empty:?}");

    // Tempo: seconds, and trace ids without leading zeros.
    let tempo_id = |ago: &str| id(ago).trim_start_matches('0').to_string();
    let (start_s, end_s) = (start_us / 1_000_000, end_us / 1_000_000);
    let v = get_json(
        ui,
        &format!(
            "/tempo/api/search?tags=service.name%3Dclock&start={start_s}&end={end_s}&limit=20"
        ),
    );
    let found = sorted(
        v["traces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["traceID"].as_str().unwrap().to_string())
            .collect(),
    );
    assert_eq!(
        found,
        sorted(vec![tempo_id("5400"), tempo_id("1800")]),
        "{v}"
    );

    // ferrotel's own API (the UI's): µs.
    let v = get_json(
        ui,
        &format!("/api/v1/traces?service=clock&start={start_us}&end={end_us}"),
    );
    let found = sorted(
        v["traces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["traceId"].as_str().unwrap().to_string())
            .collect(),
    );
    assert_eq!(found, inside, "{v}");
    assert_eq!(c.terminate().code(), Some(0), "{}", c.log());
}

/// Starts `ferrotel ARGS...` and waits for its ready line; `None` when it exits first.
fn spawn(args: &[&str], cwd: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrotel"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let start = Instant::now();
    let mut log = String::new();
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            log.push_str(&line);
            log.push('\n');
            if line.contains(" ready in ") {
                return (child, line);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("ferrotel {args:?} exited at startup ({status}):\n{log}");
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("ferrotel {args:?} not ready after 30 s:\n{log}");
}

fn terminate(mut child: Child) -> Option<i32> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// The fixed ports of the no-config default are free.
fn default_ports_free() -> bool {
    [4317, 4318, 16686, 8888]
        .iter()
        .all(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
}

#[test]
fn no_config_default_answers_on_4318_and_16686() {
    // Not a skip: a test that passes without running proves nothing. Stop the other process.
    assert!(
        default_ports_free(),
        "127.0.0.1:4317, 4318, 16686 or 8888 is in use by another process: this test runs the no-config default on them"
    );
    let dir = tempfile::tempdir().unwrap();
    let (child, ready) = spawn(&[], dir.path());
    assert!(
        ready.contains("UI and query APIs: http://127.0.0.1:16686"),
        "{ready}"
    );
    // The README's try-it commands, as the README shows them, from the repository's root.
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let try_it: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("curl ") && l.contains("examples/"))
        .collect();
    assert_eq!(
        try_it.len(),
        2,
        "the README's try-it curl commands: {try_it:?}"
    );
    for command in &try_it {
        let out = Command::new("sh")
            .args(["-c", command])
            .current_dir(repo_root())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.starts_with('{') && !stdout.contains("rror"),
            "{command}: {}\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    wait_for(
        Duration::from_secs(10),
        "the example trace and logs in the store",
        || {
            get_json(16686, "/api/v1/services")["services"] == json!(["my.service"])
                && get(16686, "/api/v1/logs?service=my.service")
                    .text()
                    .contains("Example log record")
        },
    );
    assert_eq!(
        get(16686, &format!("/api/traces/{EXAMPLE_TRACE}")).status,
        200
    );
    // OTLP/gRPC on 4317, from the Python SDK's gRPC exporter.
    let sent = run_client(
        Command::new("python3").args(["-c", PYTHON_GRPC_SPAN, "127.0.0.1:4317"]),
        PIP_HINT,
    );
    let grpc_trace = sent["trace_id"].as_str().unwrap();
    wait_for(
        Duration::from_secs(10),
        "the gRPC trace in the store",
        || get(16686, &format!("/api/traces/{grpc_trace}")).status == 200,
    );
    let t = get_json(16686, &format!("/api/traces/{grpc_trace}"));
    assert_eq!(
        t["data"][0]["spans"][0]["operationName"], "grpc-span",
        "{t}"
    );
    assert_eq!(terminate(child), Some(0));
    // Nothing written beside it: the default keeps data in memory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn restart_with_data_dir_serves_what_was_stored() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (grpc, http, ui) = (free_port(), free_port(), free_port());
    let cfg = dir.path().join("local.yaml");
    std::fs::write(&cfg, config(grpc, http, ui)).unwrap();
    let args = [
        "--config",
        cfg.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ];
    let (child, _) = spawn(&args, dir.path());
    let (trace_id, _) = send_python(http);
    let before = get_json(ui, &format!("/api/traces/{trace_id}"));
    assert_eq!(terminate(child), Some(0));
    let (child, _) = spawn(&args, dir.path());
    assert_eq!(get_json(ui, &format!("/api/traces/{trace_id}")), before);
    assert_eq!(
        get_json(ui, "/api/v1/services"),
        json!({"services": ["frontend", "payment"]})
    );
    assert_eq!(terminate(child), Some(0));
}

/// Two processes on one data directory: the second refuses to start, saying why; a foreign
/// directory is set aside (renamed) and the store starts fresh, not a crash loop.
#[test]
fn data_dir_is_locked_and_a_foreign_one_is_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let write_config = |name: &str| {
        let (grpc, http, ui) = (free_port(), free_port(), free_port());
        let cfg = dir.path().join(name);
        std::fs::write(&cfg, config(grpc, http, ui)).unwrap();
        cfg
    };
    let (a, b) = (write_config("a.yaml"), write_config("b.yaml"));
    let args = |cfg: &Path| {
        vec![
            "--config".to_string(),
            cfg.to_str().unwrap().to_string(),
            "--data-dir".to_string(),
            data.to_str().unwrap().to_string(),
        ]
    };
    let a_args = args(&a);
    let (first, _) = spawn(
        &a_args.iter().map(String::as_str).collect::<Vec<_>>(),
        dir.path(),
    );
    let second = Command::new(env!("CARGO_BIN_EXE_ferrotel"))
        .args(args(&b))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_ne!(second.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("another ferrotel holds it"), "{stderr}");
    assert_eq!(terminate(first), Some(0));

    // A directory that is not a store's: set aside with a warning, a fresh store serves.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "not telemetry").unwrap();
    let f_args = [
        "--config",
        a.to_str().unwrap(),
        "--data-dir",
        foreign.to_str().unwrap(),
    ];
    let (child, _) = spawn(&f_args, dir.path());
    assert_eq!(terminate(child), Some(0));
    let set_aside: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("foreign.corrupt-"))
        .collect();
    assert_eq!(set_aside.len(), 1, "{set_aside:?}");
    let kept = dir.path().join(&set_aside[0]).join("notes.txt");
    assert_eq!(std::fs::read_to_string(kept).unwrap(), "not telemetry");
}

/// Runs `ferrotel ARGS...` to completion: (exit code, stdout, stderr).
fn ferrotel_output(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrotel"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Posts one of the repository's examples (OTLP/JSON) as OTLP/HTTP protobuf.
fn post_example(http: u16, file: &str, signal: ferrotel_pdata::Signal, path: &str) {
    let json = std::fs::read(repo_root().join("examples").join(file)).unwrap();
    let body = ferrotel_pdata::json::decode(signal, &json)
        .unwrap()
        .encode_proto();
    assert_eq!(post_otlp(http, path, &body).unwrap(), 200, "{file}");
}

const EXAMPLE_TRACE: &str = "5b8efff798038103d269b633813fc60c";
const EXAMPLE_SPAN: &str = "eee19b7ec3c1b174";

/// `ferrotel query` against a running instance: each subcommand names what was sent; an
/// unknown trace and an endpoint nobody listens on are errors with a non-zero exit.
#[test]
fn query_subcommand_reads_a_running_instance() {
    let dir = tempfile::tempdir().unwrap();
    let (grpc, http, ui) = (free_port(), free_port(), free_port());
    let cfg = dir.path().join("local.yaml");
    std::fs::write(&cfg, config(grpc, http, ui)).unwrap();
    let (child, _) = spawn(&["--config", cfg.to_str().unwrap()], dir.path());
    post_example(
        http,
        "trace.json",
        ferrotel_pdata::Signal::Traces,
        "/v1/traces",
    );
    post_example(http, "logs.json", ferrotel_pdata::Signal::Logs, "/v1/logs");
    wait_for(Duration::from_secs(10), "the example in the store", || {
        get_json(ui, "/api/v1/services")["services"] == json!(["my.service"])
    });
    let endpoint = format!("http://127.0.0.1:{ui}");
    let query = |args: &[&str]| {
        let mut all = vec!["query", "--endpoint", endpoint.as_str()];
        all.extend_from_slice(args);
        ferrotel_output(&all)
    };

    let (code, out, err) = query(&["services"]);
    assert_eq!((code, out.as_str()), (Some(0), "my.service\n"), "{err}");

    let (code, out, err) = query(&["traces", "--service", "my.service"]);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "a header and one trace:\n{out}");
    assert!(lines[0].starts_with("TRACE ID"), "{out}");
    for want in [EXAMPLE_TRACE, "my.service: I'm a server span"] {
        assert!(lines[1].contains(want), "{want:?} not in {out}");
    }
    // A filter that matches nothing leaves only the header: the filter reached the server.
    let (code, out, err) = query(&["traces", "--service", "my.service", "--operation", "nope"]);
    assert_eq!((code, out.lines().count()), (Some(0), 1), "{out}{err}");

    let (code, out, err) = query(&["trace", EXAMPLE_TRACE]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with("my.service I'm a server span ") && out.contains(EXAMPLE_SPAN),
        "{out}"
    );

    let (code, out, err) = query(&["logs", "--service", "my.service"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Example log record"), "{out}");
    assert!(
        out.contains(&format!("trace {EXAMPLE_TRACE} span {EXAMPLE_SPAN}")),
        "{out}"
    );
    let (code, out, err) = query(&["logs", "--body", "no such text"]);
    assert_eq!((code, out.as_str()), (Some(0), ""), "{err}");

    // An unknown trace: the API's 404 message, exit 1, nothing on stdout.
    let (code, out, err) = query(&["trace", "0123456789abcdef0123456789abcdef"]);
    assert_eq!((code, out.as_str()), (Some(1), ""), "{err}");
    assert!(err.starts_with("error: HTTP 404"), "{err}");
    // A malformed --tag is refused before any request, naming the flag.
    let (code, _, err) = query(&["traces", "--service", "s", "--tag", "novalue"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("--tag \"novalue\": expected key=value"),
        "{err}"
    );
    assert_eq!(terminate(child), Some(0));

    // Nobody listens there any more: a clear error, not a panic.
    let (code, out, err) = query(&["services"]);
    assert_eq!((code, out.as_str()), (Some(1), ""), "{err}");
    assert!(
        err.starts_with("error: ") && !err.contains("panicked"),
        "{err}"
    );
    assert!(
        err.contains(&format!("127.0.0.1:{ui}")),
        "the error names the endpoint: {err}"
    );
}

/// `ferrotel default-config` prints the embedded default, and that output validates.
#[test]
fn default_config_prints_the_embedded_default_which_validates() {
    let (code, out, err) = ferrotel_output(&["default-config"]);
    assert_eq!(code, Some(0), "{err}");
    let embedded =
        std::fs::read_to_string(repo_root().join("crates/ferrotel/src/default.yaml")).unwrap();
    assert_eq!(out, embedded);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("default.yaml");
    std::fs::write(&file, &out).unwrap();
    let (code, _, err) = ferrotel_output(&["validate", "--config", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
}

/// Sends one span named `grpc-span` from service `grpc.client` with the Python SDK's OTLP/gRPC
/// exporter to argv[1]; prints `{"trace_id": ...}`.
const PYTHON_GRPC_SPAN: &str = r#"
import json, sys
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
exporter = OTLPSpanExporter(endpoint=sys.argv[1], insecure=True, timeout=10)
results = []
class Recording(SimpleSpanProcessor):
    def on_end(self, span):
        results.append(exporter.export([span]))
provider = TracerProvider(resource=Resource.create({"service.name": "grpc.client"}))
provider.add_span_processor(Recording(exporter))
with provider.get_tracer("t").start_as_current_span("grpc-span") as span:
    trace_id = format(span.get_span_context().trace_id, "032x")
provider.shutdown()
if results != [SpanExportResult.SUCCESS]:
    sys.exit(f"export failed: {results}")
print(json.dumps({"trace_id": trace_id}))
"#;

/// `n` spans of ~300 bytes each in a trace of their own (`trace` picks its id).
fn bulky_spans(trace: u64, n: u64) -> Vec<u8> {
    use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
    use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
    use ferrotel_pdata::proto::resource::v1::Resource;
    use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
    let string = |s: String| {
        Some(AnyValue {
            value: Some(any_value::Value::StringValue(s)),
        })
    };
    let mut trace_id = [0u8; 16];
    trace_id[8..].copy_from_slice(&(trace + 1).to_be_bytes());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let spans = (0..n)
        .map(|i| Span {
            trace_id: trace_id.to_vec().into(),
            span_id: (trace * n + i + 1).to_be_bytes().to_vec().into(),
            name: format!("op-{}", i % 10),
            start_time_unix_nano: now,
            end_time_unix_nano: now + 1_000_000,
            attributes: vec![KeyValue {
                key: "payload".into(),
                value: string(format!("{trace}-{i}-{}", "x".repeat(250))),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: string("bulk".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    ferrotel_pdata::Request::Traces(req).encode_proto().to_vec()
}

/// A 1 MiB store fed ~10 MiB of spans through the binary: every request is accepted, the store
/// stays under its cap and its own metrics count what it pruned.
#[test]
fn a_full_store_prunes_and_never_refuses() {
    const CAP: u64 = 1 << 20;
    let dir = tempfile::tempdir().unwrap();
    let (grpc, http, ui, metrics) = (free_port(), free_port(), free_port(), free_port());
    let cfg = config(grpc, http, ui)
        .replace("max_size_mib: 64", "max_size_mib: 1")
        .replace(
            "telemetry: {metrics: {level: none}}",
            &format!(
                "telemetry: {{metrics: {{level: detailed, address: \"127.0.0.1:{metrics}\"}}}}"
            ),
        );
    let file = dir.path().join("local.yaml");
    std::fs::write(&file, cfg).unwrap();
    let (child, _) = spawn(&["--config", file.to_str().unwrap()], dir.path());
    let stats = || get_json(ui, "/api/v1/stats");
    const REQUESTS: u64 = 40;
    const SPANS: u64 = 1000;
    for r in 0..REQUESTS {
        let body = bulky_spans(r, SPANS);
        assert_eq!(
            post_otlp(http, "/v1/traces", &body).unwrap(),
            200,
            "request {r}"
        );
        let s = stats();
        assert!(
            s["bytes"].as_u64().unwrap() <= CAP,
            "after request {r}: {s}"
        );
    }
    let s = stats();
    let (kept, pruned) = (
        s["spans"].as_u64().unwrap(),
        s["prunedSpans"].as_u64().unwrap(),
    );
    assert!(kept > 0 && pruned > 0, "{s}");
    assert_eq!(kept + pruned, REQUESTS * SPANS, "{s}");
    // The newest trace is kept, the oldest pruned.
    assert_eq!(
        get(ui, &format!("/api/v1/traces/{:032x}", REQUESTS)).status,
        200
    );
    assert_eq!(get(ui, &format!("/api/v1/traces/{:032x}", 1)).status, 404);

    let series = |name: &str, labels: &[(&str, &str)]| {
        let text = client::get(
            &format!("http://127.0.0.1:{metrics}"),
            "/metrics",
            "text/plain",
        )
        .unwrap()
        .text();
        assert!(text.contains(name), "no {name} in\n{text}");
        metric_value(&text, name, labels)
    };
    let own = |name: &str| series(name, &[("exporter", "local_store")]);
    wait_for(Duration::from_secs(10), "the pruned counter", || {
        own("ferrotel_local_store_pruned_spans_total") == pruned as f64
    });
    assert_eq!(
        own("ferrotel_local_store_stored_spans_total"),
        (REQUESTS * SPANS) as f64
    );
    let bytes = own("ferrotel_local_store_bytes");
    assert!(bytes > 0.0 && bytes <= CAP as f64, "{bytes}");
    let receiver = [("receiver", "otlp")];
    assert_eq!(
        series("otelcol_receiver_accepted_spans_total", &receiver),
        (REQUESTS * SPANS) as f64
    );
    assert_eq!(
        series("otelcol_receiver_refused_spans_total", &receiver),
        0.0
    );
    assert_eq!(terminate(child), Some(0));
}

/// A SIGTERM as soon as the ready line is out is a clean shutdown with exit status 0, not the
/// signal's default action: the handlers are installed before startup, not after the ready line.
#[test]
fn sigterm_right_after_the_ready_line_is_a_clean_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let (grpc, http, ui) = (free_port(), free_port(), free_port());
    let cfg = dir.path().join("local.yaml");
    std::fs::write(&cfg, config(grpc, http, ui)).unwrap();
    for attempt in 0..5 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferrotel"))
            .args(["--config", cfg.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut head = Vec::new();
        for line in lines.by_ref().map_while(Result::ok) {
            let ready = line.contains(" ready in ");
            head.push(line);
            if ready {
                // Directly, not through a `kill` process: the signal lands within microseconds.
                // SAFETY: kill(2) on our own child's pid.
                unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
                break;
            }
        }
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        let status = child.wait().unwrap();
        assert_eq!(
            status.code(),
            Some(0),
            "attempt {attempt}: {status}\n{}\n{}",
            head.join("\n"),
            rest.join("\n")
        );
        assert!(
            rest.iter().any(|l| l.contains("shutdown complete")),
            "{rest:#?}"
        );
    }
}
