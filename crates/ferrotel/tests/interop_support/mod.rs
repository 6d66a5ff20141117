//! Shared by the `interop_*` and `fault_*` tests: running the real `ferrotel` binary on free
//! loopback ports, reading what its `file` exporters wrote, scraping its own metrics, and
//! comparing received data with what a client says it sent.

#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
use ferrotel_pdata::{Payload, Request, Signal};
use serde_json::Value;

/// The repository root (for `tests/interop/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A port free right now on 127.0.0.1 (the OS picks it; a small race with other processes is
/// accepted in tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `f` until it is true; panics with `what` after `timeout`.
pub fn wait_for(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// A running `ferrotel` process. Killed (SIGKILL) when dropped.
pub struct Collector {
    child: Option<Child>,
    pub name: String,
    log: Arc<Mutex<String>>,
    pub metrics_addr: Option<SocketAddr>,
}

impl Collector {
    /// Starts `ferrotel --config <dir>/<name>.yaml` and waits until it says it is ready.
    /// `metrics_port` is where the config serves own metrics, if it does.
    pub fn start(name: &str, dir: &Path, config: &str, metrics_port: Option<u16>) -> Collector {
        Collector::start_wrapped(name, dir, config, metrics_port, &[])
    }

    /// [`start`](Self::start) through a wrapper command: `wrapper[0] wrapper[1..] ferrotel
    /// --config …` (e.g. `unshare`), which must end by exec'ing ferrotel so the pid is its.
    pub fn start_wrapped(
        name: &str,
        dir: &Path,
        config: &str,
        metrics_port: Option<u16>,
        wrapper: &[&str],
    ) -> Collector {
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, config).unwrap();
        let binary = env!("CARGO_BIN_EXE_ferrotel");
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(binary);
                c
            }
            None => Command::new(binary),
        };
        let mut child = command
            .arg("--config")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ferrotel");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = log.clone();
            let name = name.to_string();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if line.contains(" ready in ") {
                        let _ = tx.send(());
                    }
                    if std::env::var_os("FERROTEL_TEST_LOGS").is_some() {
                        eprintln!("[{name}] {line}");
                    }
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let mut c = Collector {
            child: Some(child),
            name: name.to_string(),
            log,
            metrics_addr: metrics_port.map(|p| SocketAddr::from(([127, 0, 0, 1], p))),
        };
        let start = Instant::now();
        loop {
            if rx.recv_timeout(Duration::from_millis(100)).is_ok() {
                return c;
            }
            if let Some(status) = c.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("ferrotel {name} exited at startup ({status}):\n{}", c.log());
            }
            if start.elapsed() > Duration::from_secs(30) {
                panic!("ferrotel {name} not ready after 30 s:\n{}", c.log());
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `kill -9`: no shutdown, no flushing.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits for the graceful shutdown.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut c = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let start = Instant::now();
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            if start.elapsed() > Duration::from_secs(20) {
                let _ = c.kill();
                panic!("ferrotel {} did not stop within 20 s", self.name);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The Prometheus text of its own metrics.
    pub fn metrics_text(&self) -> String {
        let addr = self.metrics_addr.expect("config serves metrics");
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "GET /metrics HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or(out)
    }

    /// The value of series `name` whose labels include every `labels` pair (summed over
    /// matching series; 0 when none).
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        metric_value(&self.metrics_text(), name, labels)
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Sums Prometheus series `name` with all of `labels`.
pub fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (n, rest) = match series.split_once('{') {
                Some((n, r)) => (n, r),
                None => (series, ""),
            };
            if n != name {
                return None;
            }
            let ok = labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            ok.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

/// The requests a `file` exporter with `format: proto` wrote (4-byte big-endian length, then
/// protobuf). A partial last record (still being written) is ignored.
pub fn read_proto_file(path: &Path, signal: Signal) -> Vec<Request> {
    let Ok(data) = std::fs::read(path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut off = 0;
    while data.len() - off >= 4 {
        let len = u32::from_be_bytes(data[off..off + 4].try_into().unwrap()) as usize;
        if data.len() - off - 4 < len {
            break;
        }
        let body = Bytes::copy_from_slice(&data[off + 4..off + 4 + len]);
        out.push(
            Payload::from_proto(signal, body)
                .unwrap()
                .into_request()
                .unwrap(),
        );
        off += 4 + len;
    }
    out
}

pub fn traces(path: &Path) -> Vec<ExportTraceServiceRequest> {
    read_proto_file(path, Signal::Traces)
        .into_iter()
        .filter_map(|r| match r {
            Request::Traces(t) => Some(t),
            _ => None,
        })
        .collect()
}

pub fn metrics(path: &Path) -> Vec<ExportMetricsServiceRequest> {
    read_proto_file(path, Signal::Metrics)
        .into_iter()
        .filter_map(|r| match r {
            Request::Metrics(t) => Some(t),
            _ => None,
        })
        .collect()
}

pub fn logs(path: &Path) -> Vec<ExportLogsServiceRequest> {
    read_proto_file(path, Signal::Logs)
        .into_iter()
        .filter_map(|r| match r {
            Request::Logs(t) => Some(t),
            _ => None,
        })
        .collect()
}

/// A config with an `otlp` receiver (gRPC and HTTP), one `format: proto` file exporter per
/// signal under `dir`, and own metrics on `metrics_port`.
pub fn file_sink_config(dir: &Path, grpc: u16, http: u16, metrics_port: u16) -> String {
    let d = dir.display();
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
  file/traces:
    path: {d}/traces.bin
    format: proto
    flush_interval: 50ms
  file/metrics:
    path: {d}/metrics.bin
    format: proto
    flush_interval: 50ms
  file/logs:
    path: {d}/logs.bin
    format: proto
    flush_interval: 50ms
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{metrics_port}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file/traces]
    metrics:
      receivers: [otlp]
      exporters: [file/metrics]
    logs:
      receivers: [otlp]
      exporters: [file/logs]
"#
    )
}

/// An OTLP attribute value as JSON (numbers as f64 for comparison).
pub fn json_of(v: &Option<AnyValue>) -> Value {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => Value::from(s.clone()),
        Some(any_value::Value::BoolValue(b)) => Value::from(*b),
        Some(any_value::Value::IntValue(i)) => Value::from(*i as f64),
        Some(any_value::Value::DoubleValue(d)) => Value::from(*d),
        Some(any_value::Value::ArrayValue(a)) => {
            Value::Array(a.values.iter().map(|v| json_of(&Some(v.clone()))).collect())
        }
        other => Value::from(format!("{other:?}")),
    }
}

/// Attributes as a JSON object (numbers as f64).
pub fn attrs_json(kvs: &[KeyValue]) -> Value {
    Value::Object(
        kvs.iter()
            .map(|kv| (kv.key.clone(), json_of(&kv.value)))
            .collect(),
    )
}

/// Normalizes numbers to f64 so `3` and `3.0` compare equal.
pub fn norm(v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::from(n.as_f64().unwrap()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), norm(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(norm).collect()),
        v => v.clone(),
    }
}

/// A u64 sent as a JSON number or string.
pub fn u64_of(v: &Value) -> u64 {
    match v {
        Value::Number(n) => n.as_u64().unwrap(),
        Value::String(s) => s.parse().unwrap(),
        v => panic!("not a u64: {v}"),
    }
}

/// Lower-case hex of an id.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn resource_service(attrs: &[KeyValue]) -> Value {
    attrs
        .iter()
        .find(|kv| kv.key == "service.name")
        .map(|kv| json_of(&kv.value))
        .unwrap_or(Value::Null)
}

/// Checks every expected span arrived once, field by field.
pub fn check_spans(expected: &Value, got: &[ExportTraceServiceRequest]) {
    let service = &expected["resource"]["service.name"];
    let mut spans = Vec::new();
    for r in got {
        for rs in &r.resource_spans {
            let res = rs
                .resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or(&[]);
            if &resource_service(res) != service {
                continue;
            }
            for ss in &rs.scope_spans {
                spans.extend(ss.spans.iter().cloned());
            }
        }
    }
    let want = expected["spans"].as_array().unwrap();
    assert_eq!(
        spans.len(),
        want.len(),
        "span count for {service}: got {:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    for w in want {
        let name = w["name"].as_str().unwrap();
        let s = spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("span {name} missing"));
        assert_eq!(
            hex(&s.trace_id),
            w["trace_id"].as_str().unwrap(),
            "{name} trace_id"
        );
        assert_eq!(
            hex(&s.span_id),
            w["span_id"].as_str().unwrap(),
            "{name} span_id"
        );
        assert_eq!(
            hex(&s.parent_span_id),
            w["parent_span_id"].as_str().unwrap(),
            "{name} parent_span_id"
        );
        assert_eq!(s.start_time_unix_nano, u64_of(&w["start"]), "{name} start");
        assert_eq!(s.end_time_unix_nano, u64_of(&w["end"]), "{name} end");
        assert_eq!(
            norm(&attrs_json(&s.attributes)),
            norm(&w["attributes"]),
            "{name} attributes"
        );
    }
}

/// Checks every expected log record arrived once, field by field.
pub fn check_logs(expected: &Value, got: &[ExportLogsServiceRequest]) {
    let service = &expected["resource"]["service.name"];
    let mut recs = Vec::new();
    for r in got {
        for rl in &r.resource_logs {
            let res = rl
                .resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or(&[]);
            if &resource_service(res) != service {
                continue;
            }
            for sl in &rl.scope_logs {
                recs.extend(sl.log_records.iter().cloned());
            }
        }
    }
    let want = expected["logs"].as_array().unwrap();
    assert_eq!(recs.len(), want.len(), "log record count for {service}");
    for w in want {
        let body = w["body"].as_str().unwrap();
        let r = recs
            .iter()
            .find(|r| json_of(&r.body) == *body)
            .unwrap_or_else(|| panic!("log {body:?} missing"));
        assert_eq!(r.time_unix_nano, u64_of(&w["time"]), "{body} time");
        assert_eq!(
            r.severity_number as u64,
            u64_of(&w["severity_number"]),
            "{body} severity"
        );
        assert_eq!(
            hex(&r.trace_id),
            w["trace_id"].as_str().unwrap(),
            "{body} trace_id"
        );
        assert_eq!(
            norm(&attrs_json(&r.attributes)),
            norm(&w["attributes"]),
            "{body} attributes"
        );
    }
}

/// Checks every expected metric point arrived, by name, kind and attributes.
pub fn check_metrics(expected: &Value, got: &[ExportMetricsServiceRequest]) {
    use ferrotel_pdata::proto::metrics::v1::{metric, number_data_point};
    let service = &expected["resource"]["service.name"];
    let mut ms = Vec::new();
    for r in got {
        for rm in &r.resource_metrics {
            let res = rm
                .resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or(&[]);
            if &resource_service(res) != service {
                continue;
            }
            for sm in &rm.scope_metrics {
                ms.extend(sm.metrics.iter().cloned());
            }
        }
    }
    for w in expected["metrics"].as_array().unwrap() {
        let name = w["name"].as_str().unwrap();
        let m = ms
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("metric {name} missing"));
        for p in w["points"].as_array().unwrap() {
            let attrs = norm(&p["attributes"]);
            match (w["kind"].as_str().unwrap(), &m.data) {
                ("sum", Some(metric::Data::Sum(s))) => {
                    let dp = s
                        .data_points
                        .iter()
                        .find(|d| norm(&attrs_json(&d.attributes)) == attrs)
                        .unwrap_or_else(|| panic!("{name} point {attrs} missing"));
                    let v = match dp.value {
                        Some(number_data_point::Value::AsInt(i)) => i as f64,
                        Some(number_data_point::Value::AsDouble(d)) => d,
                        None => f64::NAN,
                    };
                    assert_eq!(v, p["value"].as_f64().unwrap(), "{name} {attrs}");
                    assert!(dp.time_unix_nano > 0, "{name} has a timestamp");
                    assert!(dp.start_time_unix_nano <= dp.time_unix_nano);
                }
                ("histogram", Some(metric::Data::Histogram(h))) => {
                    let dp = h
                        .data_points
                        .iter()
                        .find(|d| norm(&attrs_json(&d.attributes)) == attrs)
                        .unwrap_or_else(|| panic!("{name} point {attrs} missing"));
                    assert_eq!(dp.count, u64_of(&p["count"]), "{name} count");
                    assert_eq!(dp.sum, p["sum"].as_f64(), "{name} sum");
                    assert!(dp.time_unix_nano > 0, "{name} has a timestamp");
                }
                (kind, data) => panic!("{name}: expected {kind}, got {data:?}"),
            }
        }
    }
}

/// Runs a client script; exit code 3 means a missing package: fail with the install hint.
pub fn run_client(cmd: &mut Command, install_hint: &str) -> Value {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?}: {e}. {install_hint}");
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        panic!("{stderr}\nThe interop clients are not installed: {install_hint}");
    }
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{stderr}",
        out.status
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "client output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

pub const PIP_HINT: &str = "run `python3 -m pip install -r tests/interop/requirements.txt`";
pub const NPM_HINT: &str = "run `npm ci --prefix tests/interop`";

/// An OTLP traces request (protobuf) with one span per name, under service `service`.
pub fn spans_request(service: &str, names: &[String]) -> Vec<u8> {
    use ferrotel_pdata::proto::resource::v1::Resource;
    use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
    let spans = names
        .iter()
        .enumerate()
        .map(|(i, n)| Span {
            trace_id: vec![7u8; 16].into(),
            span_id: ((i as u64) + 1).to_be_bytes().to_vec().into(),
            name: n.clone(),
            start_time_unix_nano: 1_000,
            end_time_unix_nano: 2_000,
            ..Default::default()
        })
        .collect();
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(service.into())),
                    }),
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
    Request::Traces(req).encode_proto().to_vec()
}

/// POSTs an OTLP/HTTP protobuf body; returns the HTTP status (an `Err` if the connection
/// failed before a status arrived: the data must be treated as not acknowledged).
pub fn post_otlp(port: u16, path: &str, body: &[u8]) -> std::io::Result<u16> {
    post_otlp_with(port, path, body, &[])
}

/// [`post_otlp`] with extra request headers (name, value).
pub fn post_otlp_with(
    port: u16,
    path: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> std::io::Result<u16> {
    let mut s = TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    )?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    let text = String::from_utf8_lossy(&out);
    text.lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP status in {text:?}")))
}

/// Every span name in a `format: proto` traces file, in file order.
pub fn span_names(path: &Path) -> Vec<String> {
    traces(path)
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| s.name.clone())
        .collect()
}

/// Spans per trace id (hex) in a `format: proto` traces file.
pub fn spans_per_trace(path: &Path) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for r in traces(path) {
        for rs in r.resource_spans {
            for ss in rs.scope_spans {
                for sp in ss.spans {
                    *out.entry(hex(&sp.trace_id)).or_default() += 1;
                }
            }
        }
    }
    out
}

/// Waits until the file has not changed for `quiet`, after having content.
pub fn settled(path: &Path, quiet: Duration, timeout: Duration) {
    let start = Instant::now();
    let mut last = (0u64, Instant::now());
    while start.elapsed() < timeout {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len != last.0 {
            last = (len, Instant::now());
        } else if len > 0 && last.1.elapsed() >= quiet {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{} did not settle within {timeout:?}", path.display());
}

/// A CA and a server certificate for 127.0.0.1, written to `dir`: (ca, cert, key).
pub fn test_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "ferrotel test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let paths = (
        dir.join("ca.crt"),
        dir.join("server.crt"),
        dir.join("server.key"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}
