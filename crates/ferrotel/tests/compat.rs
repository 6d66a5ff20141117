//! The configs people already run (copies in `testdata/compat/`, sources in their headers):
//! `ferrotel validate` reports exactly the component types ferrotel does not implement, by
//! name, plus the settings listed below as known gaps, and nothing else. When a component or
//! setting is added, its line leaves these lists (and docs/configuration.md's).

use std::collections::BTreeSet;

/// `validate`'s error lines for a compat config, without their `(file:line)` suffix.
fn validate_errors(name: &str, env: &[(&str, &str)]) -> BTreeSet<String> {
    let path = format!("{}/testdata/compat/{name}", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferrotel"))
        .args(["validate", "--config", &path])
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: BTreeSet<String> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("error: "))
        .map(|l| match l.rfind(" (") {
            Some(i) if l.ends_with(')') => l[..i].to_owned(),
            _ => l.to_owned(),
        })
        .collect();
    assert_eq!(
        out.status.code(),
        Some(if errors.is_empty() { 0 } else { 1 }),
        "{stderr}"
    );
    errors
}

/// Splits errors into unknown component types (`kind type`) and the rest.
fn split(errors: BTreeSet<String>) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut unknown = BTreeSet::new();
    let mut other = BTreeSet::new();
    for e in errors {
        let parsed = e.split_once(": unknown ").and_then(|(_, rest)| {
            let (kind, rest) = rest.split_once(" type \"")?;
            Some(format!("{kind} {}", rest.split('"').next()?))
        });
        match parsed {
            Some(u) => unknown.insert(u),
            None => other.insert(e),
        };
    }
    (unknown, other)
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn otelcol_contrib_default_config() {
    let (unknown, other) = split(validate_errors("otelcol-contrib-default.yaml", &[]));
    assert_eq!(unknown, set(&["receiver jaeger", "receiver zipkin"]));
    assert_eq!(other, set(&[]));
}

#[test]
fn opentelemetry_demo_config() {
    let env = [
        ("OTEL_COLLECTOR_HOST", "127.0.0.1"),
        ("OTEL_COLLECTOR_PORT_GRPC", "4317"),
        ("OTEL_COLLECTOR_PORT_HTTP", "4318"),
        ("FRONTEND_PROXY_ADDR", "127.0.0.1:8080"),
        ("IMAGE_PROVIDER_HOST", "127.0.0.1"),
        ("IMAGE_PROVIDER_PORT", "8081"),
        ("POSTGRES_HOST", "127.0.0.1"),
        ("POSTGRES_PORT", "5432"),
        ("POSTGRES_PASSWORD", "otel"),
    ];
    let (unknown, other) = split(validate_errors("opentelemetry-demo.yaml", &env));
    assert_eq!(
        unknown,
        set(&[
            "connector spanmetrics",
            "exporter opensearch",
            "receiver docker_stats",
            "receiver hostmetrics",
            "receiver httpcheck",
            "receiver nginx",
            "receiver postgresql",
            "receiver redis",
        ])
    );
    // Nothing else is refused.
    assert_eq!(other, set(&[]));
}
