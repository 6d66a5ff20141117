//! Runs the benchmark in its tiny `--quick` mode for one scenario against the debug-built
//! `ferrotel` binary and checks the row: items flowed, none lost, none duplicated.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// `target/<profile>/ferrotel`, built with `cargo build -p ferrotel` if it is missing.
fn ferrotel_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("FERROTEL_BIN") {
        return PathBuf::from(p);
    }
    // The test runs as target/<profile>/deps/quick-<hash>.
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .to_path_buf();
    let bin = profile_dir.join("ferrotel");
    if bin.exists() && std::env::var_os("FERROTEL_BENCH_TEST_FORCE_BUILD").is_none() {
        return bin;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-p", "ferrotel"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let mut child = cmd.spawn().expect("run cargo build -p ferrotel");
    let until = Instant::now() + Duration::from_secs(600);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("`cargo build -p ferrotel` took over 10 minutes; build it first");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success(), "cargo build -p ferrotel failed");
    assert!(bin.exists(), "{} missing after the build", bin.display());
    bin
}

/// Runs `ferrotel-bench --quick --duration 1s --json --collector <ferrotel>` with `args`; the
/// JSON rows (stdout) and the table (stderr). Fails the test when the bench fails.
fn run_bench(collector: &std::path::Path, args: &[&str]) -> (Vec<serde_json::Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrotel-bench"))
        .args(["--quick", "--duration", "1s", "--json"])
        .args(args)
        .arg("--collector")
        .arg(collector)
        .output()
        .expect("run ferrotel-bench");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ferrotel-bench failed:\n{stderr}");
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON rows");
    let rows = rows.as_array().expect("array of rows").clone();
    (rows, stderr)
}

#[test]
fn quick_run_of_one_scenario_loses_nothing() {
    let collector = ferrotel_binary();
    let (rows, stderr) = run_bench(&collector, &["--scenario", "traces-grpc-max"]);
    assert_eq!(rows.len(), 1, "{stderr}");
    let row = &rows[0];
    assert_eq!(row["scenario"], "traces-grpc-max");
    assert!(row["skipped"].is_null(), "{row}");
    assert!(row["items"].as_u64().unwrap() > 0, "{row}");
    assert_eq!(row["loss"], 0, "{row}");
    assert_eq!(row["duplicates"], 0, "{row}");
    assert!(row["cpu_pct"].as_f64().unwrap() > 0.0, "{row}");
    assert!(row["rss_peak_mib"].as_f64().unwrap() > 1.0, "{row}");
    assert!(
        stderr.contains("traces-grpc-max"),
        "the table goes to stderr:\n{stderr}"
    );
}

#[test]
fn list_names_every_scenario() {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrotel-bench"))
        .arg("--list")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for name in [
        "traces-grpc-max",
        "traces-http-protobuf-max",
        "traces-http-json-max",
        "traces-10k",
        "metrics-10k",
        "logs-10k",
        "traces-persistent-queue-10k",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
}

/// `--compare` with a command configured through placeholders (here ferrotel itself, given the
/// generated config as `{config}`): both collectors run the scenario, both rows lose nothing,
/// and the ratio line is printed.
#[test]
fn compare_runs_the_other_collector_with_placeholders() {
    let collector = ferrotel_binary();
    let other = format!("{} --config {{config}}", collector.display());
    let (rows, stderr) = run_bench(
        &collector,
        &["--scenario", "traces-10k", "--compare", &other],
    );
    let collectors: Vec<&str> = rows
        .iter()
        .map(|r| r["collector"].as_str().unwrap())
        .collect();
    assert_eq!(collectors, ["ferrotel", "other"], "{stderr}");
    for row in &rows {
        assert!(row["items"].as_u64().unwrap() > 0, "{row}");
        assert_eq!(row["loss"], 0, "{row}");
        assert_eq!(row["duplicates"], 0, "{row}");
    }
    assert!(stderr.contains("ferrotel/other:"), "{stderr}");
}

/// `--local-store` on 20 000 spans: both pipelines ran every span, the store's cost and RSS
/// were compared, and the Jaeger queries answered, the search for a stored `url.path` finding
/// traces and the one for an absent value none. The targets are not judged here (a debug build
/// may miss them: exit 2).
#[test]
fn local_store_mode_runs_both_pipelines_and_the_queries() {
    let collector = ferrotel_binary();
    let out = Command::new(env!("CARGO_BIN_EXE_ferrotel-bench"))
        .args(["--local-store", "--spans", "20000", "--store-mib", "64"])
        .args(["--query-calls", "3", "--collector"])
        .arg(&collector)
        .output()
        .expect("run ferrotel-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "ferrotel-bench failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let line = |needle: &str| {
        stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?}:\n{stdout}\n{stderr}"))
            .to_owned()
    };
    assert!(
        line("otlp → batch → debug").contains("(20000 spans in"),
        "{stdout}"
    );
    assert!(
        line("otlp → batch → local_store").contains("(20000 spans in"),
        "{stdout}"
    );
    assert!(
        line("the store's own cost").contains("CPU-s per M spans"),
        "{stdout}"
    );
    assert!(line("peak RSS").contains("vs cap 64 MiB"), "{stdout}");
    assert!(line("trace by id").contains("median"), "{stdout}");
    let found = line("(a url.path that matches)");
    assert!(!found.contains(": 0 traces"), "{found}");
    let none = line("(a url.path that matches nothing)");
    assert!(none.contains(": 0 traces"), "{none}");
}
