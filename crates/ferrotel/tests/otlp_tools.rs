//! `ferrotel otlp convert|inspect|validate` on the shared OTLP examples.

use std::process::Command;

fn ferrotel(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ferrotel"))
        .args(args)
        .output()
        .unwrap()
}

fn example(name: &str) -> String {
    format!(
        "{}/../ferrotel-pdata/tests/data/otlp-examples/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn convert_json_proto_json_round_trips_every_example() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["trace.json", "metrics.json", "logs.json", "events.json"] {
        let pb = dir.path().join("x.pb");
        let json = dir.path().join("x.json");
        let out = ferrotel(&[
            "otlp",
            "convert",
            "--from",
            "json",
            "--to",
            "proto",
            &example(name),
            pb.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Signal detection on protobuf input, then back to JSON.
        let out = ferrotel(&[
            "otlp",
            "convert",
            "--from",
            "proto",
            "--to",
            "json",
            pb.to_str().unwrap(),
            json.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Semantically equal: the same request after decoding both (number spelling and
        // omitted defaults may differ in the text).
        let signal = match name {
            "trace.json" => ferrotel_pdata::Signal::Traces,
            "metrics.json" => ferrotel_pdata::Signal::Metrics,
            _ => ferrotel_pdata::Signal::Logs,
        };
        let original =
            ferrotel_pdata::json::decode(signal, &std::fs::read(example(name)).unwrap()).unwrap();
        let back = ferrotel_pdata::json::decode(signal, &std::fs::read(&json).unwrap()).unwrap();
        assert_eq!(original, back, "{name}");
        assert!(original.item_count() > 0);
    }
}

#[test]
fn inspect_shows_resources_counts_and_span_tree() {
    let out = ferrotel(&["otlp", "inspect", &example("trace.json")]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("== request: 1 spans"), "{text}");
    assert!(
        text.contains("resource[0] service.name=\"my.service\""),
        "{text}"
    );
    assert!(text.contains("- I'm a server span [2] trace=5b8efff798038103d269b633813fc60c span=eee19b7ec3c1b174 1000.000ms"), "{text}");
    assert!(
        text.contains(
            "time range: 2018-12-13T14:51:00.000000000Z .. 2018-12-13T14:51:01.000000000Z"
        ),
        "{text}"
    );
}

#[test]
fn validate_reports_errors_with_paths_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60","spanId":"EEE19B7EC3C1B174"}]}]}]}"#).unwrap();
    let out = ferrotel(&["otlp", "validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "resourceSpans[0].scopeSpans[0].spans[0].traceId: expected 32 hex characters, got 31"
        ),
        "{err}"
    );
    let out = ferrotel(&["otlp", "validate", &example("logs.json")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // JSON lines, as the file exporter writes them: one error per bad line.
    let lines = dir.path().join("x.jsonl");
    let good = std::fs::read_to_string(example("trace.json"))
        .unwrap()
        .replace('\n', "");
    std::fs::write(&lines, format!("{good}\n{{\"resourceSpans\":[{{\"scopeSpans\":[{{\"spans\":[{{\"kind\":\"x\"}}]}}]}}]}}\n{good}\n")).unwrap();
    let out = ferrotel(&["otlp", "validate", lines.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(": line 2: resourceSpans[0].scopeSpans[0].spans[0].kind:"),
        "{err}"
    );
    assert!(err.contains("1 of 3 request(s) invalid"), "{err}");
}

#[test]
fn truncated_protobuf_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let pb = dir.path().join("x.pb");
    let out = ferrotel(&[
        "otlp",
        "convert",
        "--from",
        "json",
        "--to",
        "proto",
        &example("trace.json"),
        pb.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let bytes = std::fs::read(&pb).unwrap();
    std::fs::write(&pb, &bytes[..bytes.len() - 5]).unwrap();
    let out = ferrotel(&[
        "otlp",
        "validate",
        "--signal",
        "traces",
        pb.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("resourceSpans[0]"), "{err}");
}
