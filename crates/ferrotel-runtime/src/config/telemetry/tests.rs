//! Parsing of `service::telemetry`: valid forms and every error with its path and line.

use super::*;
use crate::config::node::parse_yaml;

fn parse(yaml: &str) -> (TelemetryConfig, Vec<String>) {
    let node = parse_yaml(yaml, "t.yaml").unwrap();
    let mut cfg = TelemetryConfig::default();
    let mut errors = Vec::new();
    parse_telemetry(&node, &mut cfg, &mut errors);
    (cfg, errors.iter().map(|e| e.to_string()).collect())
}

#[test]
fn readers_pull_and_periodic_together() {
    let (cfg, errors) = parse(
        r#"
metrics:
  level: Detailed
  readers:
    - pull: {exporter: {prometheus: {host: 127.0.0.1, port: 9001}}}
    - pull: {exporter: {prometheus: {host: localhost, port: 9002}}}
    - periodic:
        interval: 500
        exporter:
          otlp:
            protocol: http/protobuf
            endpoint: 127.0.0.1:4318
            insecure: true
            headers: [{name: k1, value: v1}]
            compression: gzip
            timeout: 2000
    - periodic:
        exporter: {otlp: {protocol: grpc, endpoint: "collector:4317", headers: {k2: v2}}}
"#,
    );
    assert!(errors.is_empty(), "{errors:?}");
    let m = &cfg.metrics;
    assert_eq!(m.level, "detailed");
    assert_eq!(
        m.pull.iter().map(|a| a.port()).collect::<Vec<_>>(),
        [9001, 9002]
    );
    assert_eq!(m.periodic.len(), 2);
    let p = &m.periodic[0];
    assert_eq!(p.interval, Duration::from_millis(500));
    assert_eq!(p.timeout, Duration::from_secs(30));
    assert_eq!(p.exporter.protocol, OtlpProtocol::HttpProtobuf);
    assert_eq!(p.exporter.endpoint, "http://127.0.0.1:4318");
    assert_eq!(p.exporter.headers, [("k1".to_string(), "v1".to_string())]);
    assert!(p.exporter.gzip);
    assert_eq!(p.exporter.timeout, Duration::from_secs(2));
    let p = &m.periodic[1];
    assert_eq!(p.interval, Duration::from_secs(60), "SDK default");
    assert_eq!(
        p.exporter.endpoint, "https://collector:4317",
        "no scheme, not insecure"
    );
    assert_eq!(p.exporter.headers, [("k2".to_string(), "v2".to_string())]);
}

#[test]
fn defaults_address_and_level_none() {
    let (cfg, errors) = parse("{}");
    assert!(errors.is_empty());
    assert_eq!(cfg.metrics.pull, [DEFAULT_PULL]);
    let (cfg, _) = parse("metrics: {address: 127.0.0.1:9100}");
    assert_eq!(cfg.metrics.pull[0].port(), 9100);
    // Readers replace the default; the deprecated address adds to them.
    let (cfg, errors) = parse(
        "metrics: {address: 127.0.0.1:9100, readers: [{periodic: {exporter: {otlp: {protocol: grpc, endpoint: http://h:4317}}}}]}",
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(cfg.metrics.pull.len(), 1);
    assert_eq!(cfg.metrics.periodic.len(), 1);
    let (cfg, errors) = parse(
        "metrics: {level: none, readers: [{periodic: {exporter: {otlp: {protocol: grpc, endpoint: http://h:4317}}}}]}",
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert!(cfg.metrics.pull.is_empty() && cfg.metrics.periodic.is_empty());
    let (_, errors) = parse("metrics: {readers: []}");
    assert_eq!(
        errors,
        [
            "service::telemetry::metrics::readers: collector telemetry metrics reader should exist when metric level is not none (t.yaml:1)"
        ]
    );
}

#[test]
fn reader_errors_are_all_reported_with_path_and_line() {
    let (_, errors) = parse(
        r#"
metrics:
  readers:
    - push: {}
    - periodic:
        exporter:
          otlp: {protocol: grpc, endpoint: "h:1"}
          console: {}
    - periodic:
        interval: -5
        exporter: {otlp: {protocol: thrift, endpoint: "h:1"}}
    - periodic:
        interval: soon
        exporter: {}
    - periodic: {color: red}
    - pull: {exporter: {prometheus: {port: 9, hots: x}}}
"#,
    );
    assert_eq!(
        errors,
        [
            "service::telemetry::metrics::readers[0]::push: unknown reader kind \"push\" (expected pull or periodic) (t.yaml:4)",
            "service::telemetry::metrics::readers[0]: a reader needs pull or periodic (t.yaml:4)",
            "service::telemetry::metrics::readers[1]::periodic::exporter: exactly one exporter expected, found 2 (otlp, console) (t.yaml:7)",
            "service::telemetry::metrics::readers[2]::periodic::interval: expected milliseconds as a non-negative integer, got -5 (t.yaml:10)",
            "service::telemetry::metrics::readers[2]::periodic::exporter::otlp::protocol: invalid protocol \"thrift\" (grpc, http/protobuf, http/json) (t.yaml:11)",
            "service::telemetry::metrics::readers[3]::periodic::interval: expected milliseconds as a non-negative integer, got soon (t.yaml:13)",
            "service::telemetry::metrics::readers[3]::periodic::exporter: exactly one exporter expected, found none (t.yaml:14)",
            "service::telemetry::metrics::readers[4]::periodic::color: unknown key (expected interval, timeout, exporter) (t.yaml:15)",
            "service::telemetry::metrics::readers[4]::periodic::exporter: exactly one exporter expected, found none (t.yaml:15)",
            "service::telemetry::metrics::readers[5]::pull::exporter::prometheus::hots: unknown key (expected host, port) (t.yaml:16)",
        ]
    );
}

#[test]
fn logs_processors_sampling_and_outputs() {
    let (cfg, errors) = parse(
        r#"
logs:
  level: debug
  sampling: {initial: 3}
  output_paths: [stdout]
  error_output_paths: [stderr]
  processors:
    - batch:
        schedule_delay: 200
        exporter: {otlp: {protocol: http/protobuf, endpoint: "http://h:4318/v1/logs"}}
    - simple:
        exporter: {otlp: {protocol: grpc, endpoint: "h:4317", insecure: true}}
"#,
    );
    assert!(errors.is_empty(), "{errors:?}");
    let l = &cfg.logs;
    assert_eq!(l.level, "debug");
    assert_eq!(
        l.sampling,
        Some(LogSampling {
            tick: Duration::from_secs(10),
            initial: 3,
            thereafter: 100
        })
    );
    assert_eq!(l.output, LogOutput::Stdout);
    assert_eq!(l.processors.len(), 2);
    assert!(l.processors[0].batch);
    assert_eq!(l.processors[0].schedule_delay, Duration::from_millis(200));
    assert_eq!(l.processors[0].max_export_batch_size, 512);
    assert!(!l.processors[1].batch);
    assert_eq!(l.processors[1].exporter.endpoint, "http://h:4317");
    let (cfg, _) = parse("logs: {sampling: {enabled: false}, output_paths: []}");
    assert_eq!(cfg.logs.sampling, None);
    assert_eq!(cfg.logs.output, LogOutput::Nowhere);

    let (_, errors) = parse(
        r#"
logs:
  output_paths: [/var/log/otel.log]
  sampling: {tick: often, every: 2}
  processors:
    - simple: {exporter: {console: {}}}
    - fancy: {}
    - batch: {max_queue_size: 10, max_export_batch_size: 20, exporter: {otlp: {endpoint: "h:1"}}}
"#,
    );
    assert_eq!(
        errors,
        [
            "service::telemetry::logs::output_paths[0]: ferrotel writes its logs only to stderr or stdout (files are not supported) (t.yaml:3)",
            "service::telemetry::logs::sampling::tick: invalid duration \"often\": expected a number like 5s, 200ms or 1m30s (t.yaml:4)",
            "service::telemetry::logs::sampling::every: unknown key (expected enabled, tick, initial, thereafter) (t.yaml:4)",
            "service::telemetry::logs::processors[0]::simple::exporter::console: the console exporter is not supported by ferrotel (use otlp) (t.yaml:6)",
            "service::telemetry::logs::processors[1]::fancy: unknown processor \"fancy\" (expected batch or simple) (t.yaml:7)",
            "service::telemetry::logs::processors[2]::batch::exporter::otlp: protocol is required (grpc, http/protobuf, http/json) (t.yaml:8)",
            "service::telemetry::logs::processors[2]::batch: max_export_batch_size must not exceed max_queue_size (t.yaml:8)",
        ]
    );
}

#[test]
fn resource_legacy_map_and_attribute_list() {
    let (cfg, errors) = parse(
        "resource: {service.name: my-col, service.version: null, env: prod}\ntraces: {level: basic}",
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        cfg.resource,
        [
            ("service.name".to_string(), Some("my-col".to_string())),
            ("service.version".to_string(), None),
            ("env".to_string(), Some("prod".to_string())),
        ]
    );
    assert!(cfg.traces_configured);
    let (cfg, errors) =
        parse("resource: {schema_url: https://s, attributes: [{name: a, value: b}]}");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(cfg.resource, [("a".to_string(), Some("b".to_string()))]);
    assert_eq!(cfg.resource_schema_url.as_deref(), Some("https://s"));
    let (_, errors) = parse("resource: {attributes: [{name: a, value: b}], port: 5}\nbogus: 1");
    assert_eq!(
        errors,
        [
            "service::telemetry::resource::port: legacy resource attribute \"port\" must be string or null (t.yaml:1)",
            "service::telemetry::resource: resource::attributes cannot be used together with legacy inline resource attributes (t.yaml:1)",
            "service::telemetry::bogus: unknown key (expected logs, metrics, resource, traces) (t.yaml:2)",
        ]
    );
}
