//! The pprof and zpages extensions through the binary: the otelcol-contrib distribution's
//! default config runs (health check, pprof and zpages answer, zpages lists the pipelines), and
//! pprof's `save_to_file` writes the whole run's CPU profile at shutdown. Profiles are decoded
//! by `tests/pprof/decode_profile.py` with Google's protobuf runtime and descriptors built from
//! the public pprof schema, not with ferrotel's own definition.

mod interop_support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ferrotel_local::client::{self, Reply};
use interop_support::*;
use serde_json::Value;

fn get(port: u16, path: &str) -> Reply {
    client::get(&format!("http://127.0.0.1:{port}"), path, "*/*")
        .unwrap_or_else(|e| panic!("GET :{port}{path}: {e}"))
}

/// Starts `ferrotel --config FILE`; returns when its ready line is out.
fn start(config: &std::path::Path) -> (Child, Arc<std::sync::Mutex<String>>) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrotel"))
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(std::sync::Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let (err, sink) = (child.stderr.take().unwrap(), log.clone());
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if line.contains(" ready in ") {
                let _ = tx.send(());
            }
            // The debug exporter's detailed output is large: keep the head for diagnostics.
            let mut l = sink.lock().unwrap();
            if l.len() < 64 << 10 {
                l.push_str(&line);
                l.push('\n');
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(30)).is_err() {
        let _ = child.kill();
        panic!("ferrotel not ready:\n{}", log.lock().unwrap());
    }
    (child, log)
}

fn terminate(mut child: Child) -> Option<i32> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Posts 1000-span OTLP/HTTP requests to `http` from two threads until stopped; returns how
/// many were accepted.
fn load(http: u16) -> (Arc<AtomicBool>, JoinHandle<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let names: Vec<String> = (0..1000).map(|i| format!("load-{i}")).collect();
    let body = Arc::new(spans_request("load", &names));
    let handle = std::thread::spawn(move || {
        let senders: Vec<JoinHandle<u64>> = (0..2)
            .map(|_| {
                let (flag, body) = (flag.clone(), body.clone());
                std::thread::spawn(move || {
                    let mut ok = 0;
                    while !flag.load(Ordering::Relaxed) {
                        if post_otlp(http, "/v1/traces", &body).ok() == Some(200) {
                            ok += 1;
                        }
                    }
                    ok
                })
            })
            .collect();
        senders.into_iter().map(|s| s.join().unwrap()).sum()
    });
    (stop, handle)
}

/// The decoder's summary of a gzipped pprof file; asserts it found no schema problem.
fn decode_profile(path: &std::path::Path) -> Value {
    let v = run_client(
        Command::new("python3")
            .arg(repo_root().join("tests/pprof/decode_profile.py"))
            .arg(path),
        PIP_HINT,
    );
    assert_eq!(v["problems"], serde_json::json!([]), "{v}");
    v
}

/// A CPU profile with samples whose functions include ferrotel's own.
fn assert_cpu_profile_of_ferrotel(v: &Value) {
    assert_eq!(
        v["sample_type"],
        serde_json::json!([["samples", "count"], ["cpu", "nanoseconds"]]),
        "{v}"
    );
    assert_eq!(
        v["period_type"],
        serde_json::json!(["cpu", "nanoseconds"]),
        "{v}"
    );
    assert!(v["samples"].as_u64().unwrap() > 0, "{v}");
    assert!(v["sample_value_sums"][0].as_i64().unwrap() > 0, "{v}");
    let functions: Vec<&str> = v["functions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        functions.iter().any(|f| f.contains("ferrotel_")),
        "no ferrotel function among {} functions: {functions:?}",
        functions.len()
    );
}

/// `save_to_file`: SIGTERM writes the run's CPU profile, a valid pprof Profile with samples.
#[test]
fn pprof_save_to_file_writes_the_runs_profile_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let (http, pprof) = (free_port(), free_port());
    let saved = dir.path().join("run.pprof");
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
extensions:
  pprof:
    endpoint: 127.0.0.1:{pprof}
    save_to_file: {}
receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{http}"}}
processors:
  batch:
exporters:
  debug: {{verbosity: basic}}
service:
  telemetry: {{metrics: {{level: none}}}}
  extensions: [pprof]
  pipelines:
    traces: {{receivers: [otlp], processors: [batch], exporters: [debug]}}
"#,
            saved.display()
        ),
    )
    .unwrap();
    let (child, log) = start(&config);
    let (stop, sender) = load(http);
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    assert!(sender.join().unwrap() > 0, "no request accepted");
    assert!(!saved.exists(), "written before shutdown");
    assert_eq!(terminate(child), Some(0), "{}", log.lock().unwrap());
    assert!(saved.exists(), "no profile at {}", saved.display());
    let v = decode_profile(&saved);
    assert_cpu_profile_of_ferrotel(&v);
    // The whole run: at least the 3 s of load, sampled at ~99 Hz.
    assert!(
        v["duration_nanos"].as_i64().unwrap() >= 3_000_000_000,
        "{v}"
    );
}

/// The otelcol-contrib distribution's default config, its jaeger receiver removed (ferrotel has
/// none yet) and its ports moved to free loopback ones, runs as it is.
#[test]
fn otelcol_contrib_default_config_runs_with_health_check_pprof_and_zpages() {
    let original = std::fs::read_to_string(
        repo_root().join("crates/ferrotel/testdata/compat/otelcol-contrib-default.yaml"),
    )
    .unwrap();
    let jaeger_start = original.find("  jaeger:\n").expect("a jaeger receiver");
    let jaeger_end = original.find("  zipkin:\n").expect("a zipkin receiver");
    let mut yaml = format!("{}{}", &original[..jaeger_start], &original[jaeger_end..]);
    yaml = yaml.replace("[otlp, jaeger, zipkin]", "[otlp, zipkin]");
    let mut ports = std::collections::BTreeMap::new();
    for port in ["1777", "55679", "4317", "4318", "9411", "8888"] {
        let free = free_port();
        let from = format!("0.0.0.0:{port}");
        assert!(yaml.contains(&from), "{from} not in the config");
        yaml = yaml.replace(&from, &format!("127.0.0.1:{free}"));
        ports.insert(port, free);
    }
    // health_check's default endpoint (localhost:13133) is not in the file.
    let health = free_port();
    yaml = yaml.replacen(
        "  health_check:\n",
        &format!("  health_check:\n    endpoint: 127.0.0.1:{health}\n"),
        1,
    );
    let settings: String = yaml
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    assert!(
        !settings.contains("jaeger") && !settings.contains("0.0.0.0"),
        "{yaml}"
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, &yaml).unwrap();
    let (child, log) = start(&config);

    let h = get(health, "/");
    assert_eq!(h.status, 200, "{}", h.text());
    assert!(h.text().contains("Server available"), "{}", h.text());

    let index = get(ports["1777"], "/debug/pprof/");
    assert_eq!(index.status, 200);
    for name in ["profile", "heap"] {
        assert!(index.text().contains(name), "{}", index.text());
    }
    // A CPU profile taken under load, from the config's own pprof port.
    let (stop, sender) = load(ports["4318"]);
    let profile = get(ports["1777"], "/debug/pprof/profile?seconds=2");
    stop.store(true, Ordering::Relaxed);
    assert!(sender.join().unwrap() > 0, "no request accepted");
    assert_eq!(profile.status, 200, "{}", profile.text());
    let file = dir.path().join("cpu.pprof");
    std::fs::write(&file, &profile.body).unwrap();
    assert_cpu_profile_of_ferrotel(&decode_profile(&file));

    let zpages = ports["55679"];
    let pipelines = get(zpages, "/debug/pipelinez");
    assert_eq!(pipelines.status, 200);
    let text = pipelines.text();
    for pipeline in ["traces", "metrics", "logs"] {
        assert!(text.contains(&format!("<td>{pipeline}</td>")), "{text}");
    }
    for component in ["otlp", "zipkin", "batch", "debug"] {
        assert!(text.contains(component), "{component} not in {text}");
    }
    let extensions = get(zpages, "/debug/extensionz").text();
    for e in ["health_check", "pprof", "zpages"] {
        assert!(
            extensions.contains(&format!("<td>{e}</td>")),
            "{extensions}"
        );
    }
    for page in ["/debug/servicez", "/debug/featurez", "/debug/tracez"] {
        assert_eq!(get(zpages, page).status, 200, "{page}");
    }
    // The own-metrics endpoint the config set (level basic) answers too.
    let metrics = get(ports["8888"], "/metrics");
    assert!(
        metrics.text().contains("otelcol_receiver_accepted_spans"),
        "{}",
        metrics.text()
    );
    assert_eq!(terminate(child), Some(0), "{}", log.lock().unwrap());
}
