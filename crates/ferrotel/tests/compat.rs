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
    assert_eq!(unknown, set(&[]));
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
            "exporter opensearch",
            "receiver docker_stats",
            "receiver httpcheck",
            "receiver nginx",
            "receiver postgresql",
            "receiver redis",
        ])
    );
    // Nothing else is refused but the host mount the demo's container has: the Go Collector
    // also checks that `root_path` exists when it validates.
    assert_eq!(
        other,
        set(&[
            "receivers::hostmetrics::root_path: /hostfs: No such file or directory (os error 2)"
        ])
    );
}

/// The Go Collector's documented examples for the components ferrotel has (`go-examples/`,
/// copied from the components' README.md and `testdata/` files; sources and any wrapping in
/// each file's header). Each must validate, except the gaps listed here with `validate`'s exact
/// error lines. Nothing is hidden: a file whose errors change fails the test.
#[test]
fn go_collector_examples() {
    let env = [
        ("DEPLOYMENT_ENV", "production"),
        ("BASIC_AUTH_USERNAME", "user"),
        ("BASIC_AUTH_PASSWORD", "pass"),
    ];
    let gaps: &[(&str, &[&str])] = &[
        // The Go test data's own mistake: its extract pattern has an unnamed group `(\?|\&)`.
        // Go refuses it with the same message when the processor is built; its test never builds
        // it (the processor is in no pipeline), ferrotel checks every defined processor.
        (
            "attributes-2.yaml",
            &[
                "processors::attributes/regex_insert::actions: error creating AttrProc. Field \"pattern\" contains at least one unnamed matcher group at the 0-th actions",
            ],
        ),
        // The README's otlp_grpc exporter has no endpoint (Go refuses that too); the client's
        // `aws_secrets_manager` is not in ferrotel.
        (
            "basicauth-1.yaml",
            &[
                "exporters::otlp_grpc::endpoint: an endpoint is required (host:port or http(s)://host:port)",
                "extensions::basicauth/client_from_aws::client_auth::aws_secrets_manager: unknown field `aws_secrets_manager`, expected one of `username`, `password`, `username_file`, `password_file`",
            ],
        ),
        // The README's top-level `ca_file` dates from when TLS settings were squashed into the
        // exporter's; the current Go Collector refuses it too (it belongs under `tls`).
        (
            "bearertokenauth-1.yaml",
            &[
                "exporters::otlp/withauth::ca_file: unknown field `ca_file`, expected one of `endpoint`, `compression`, `headers`, `tls`, `timeout`, `auth`, `sending_queue`, `retry_on_failure`, `keepalive`, `balancer_name`, `wait_for_ready`, `write_buffer_size`, `read_buffer_size`",
            ],
        ),
        // Not yet: resource_detection's `retry`, the deprecated `attributes` list, and the
        // openshift, ecs, lambda and heroku detectors.
        (
            "resource_detection-1.yaml",
            &[
                "processors::resource_detection/wait_for_metadata::retry: unknown field `retry`, expected one of `detectors`, `override`, `timeout`, `fail_on_missing_metadata`, `env`, `system`, `docker`, `ec2`, `gcp`, `azure`, `eks`, `aks`",
            ],
        ),
        (
            "resource_detection-15.yaml",
            &[
                "processors::resourcedetection/openshift::openshift: unknown field `openshift`, expected one of `detectors`, `override`, `timeout`, `fail_on_missing_metadata`, `env`, `system`, `docker`, `ec2`, `gcp`, `azure`, `eks`, `aks`",
                "processors::resourcedetection/ecs::detectors[1]: detector \"ecs\" is not implemented in ferrotel (implemented: env, system, docker, ec2, gcp, azure, eks, aks)",
                "processors::resourcedetection/lambda::detectors[1]: detector \"lambda\" is not implemented in ferrotel (implemented: env, system, docker, ec2, gcp, azure, eks, aks)",
                "processors::resourcedetection/system::attributes: unknown field `attributes`, expected one of `detectors`, `override`, `timeout`, `fail_on_missing_metadata`, `env`, `system`, `docker`, `ec2`, `gcp`, `azure`, `eks`, `aks`",
                "processors::resourcedetection/heroku::detectors[1]: detector \"heroku\" is not implemented in ferrotel (implemented: env, system, docker, ec2, gcp, azure, eks, aks)",
            ],
        ),
        // Not yet: transform's `profile_statements` and a group's `shared_cache`.
        (
            "transform-1.yaml",
            &[
                "processors::transform::profile_statements: unknown field `profile_statements`, expected one of `error_mode`, `trace_statements`, `metric_statements`, `log_statements`",
            ],
        ),
        (
            "transform-13.yaml",
            &[
                "processors::transform/with_shared_cache_key::metric_statements[0]: data did not match any variant of untagged enum StatementsEntry",
            ],
        ),
    ];
    let dir = format!("{}/testdata/compat/go-examples", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 80, "{} examples", files.len());
    for (gap, _) in gaps {
        assert!(
            files.iter().any(|f| f == gap),
            "gap for a missing file {gap}"
        );
    }
    let mut wrong = Vec::new();
    for file in &files {
        let got = validate_errors(&format!("go-examples/{file}"), &env);
        let want = gaps
            .iter()
            .find(|(f, _)| f == file)
            .map(|(_, lines)| set(lines))
            .unwrap_or_default();
        if got != want {
            wrong.push(format!("{file}: got {got:#?}, want {want:#?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
