//! The real W3C trace-context test suite (tests/w3c-trace-context, run unchanged) against
//! `w3c-test-service`, at Level 2 (`SPEC_LEVEL=2`) with the strict tracestate checks.

mod support;

use std::process::Command;
use support::{Service, free_port, repo_root, require_python};

#[test]
fn w3c_trace_context_suite_passes() {
    require_python("aiohttp");
    // No collector here: spans are exported to a closed port and dropped; propagation is what
    // this test is about (cross_language.rs checks export).
    let closed = free_port();
    let mut service = Service::start(&[
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{closed}"),
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "500".to_owned()),
        ("OTEL_SERVICE_NAME", "w3c-test-service".to_owned()),
        ("OTEL_PROPAGATORS", "tracecontext".to_owned()),
    ]);
    let harness_port = free_port();
    let dir = repo_root().join("tests/w3c-trace-context");
    let out = Command::new("python3")
        .arg("test.py")
        .arg(&service.url)
        .current_dir(&dir)
        .env("HARNESS_PORT", harness_port.to_string())
        .env("HARNESS_HOST", "127.0.0.1")
        .env("SPEC_LEVEL", "2")
        .env("STRICT_LEVEL", "2")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run python3 test.py");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{report}");
    assert!(
        out.status.success(),
        "W3C trace-context suite failed:\n{report}"
    );
    assert!(report.contains("\nOK"), "no OK summary:\n{report}");
    let status = service.terminate();
    assert!(status.success(), "exit after SIGTERM: {status}");
}
