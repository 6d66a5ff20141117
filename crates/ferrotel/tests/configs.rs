//! Real-world collector configs build the expected graph; invalid configs give exact errors.

use ferrotel_runtime::config::{self, Config, ConfigErrors};
use ferrotel_runtime::{Service, Telemetry, graph};

fn testdata(name: &str) -> String {
    format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn load(specs: &[String], env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
    Config::from_node(config::load_sources(specs, env)?)
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn describe(specs: &[String], env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let c = load(specs, env).unwrap_or_else(|e| panic!("{e}"));
    let plan =
        graph::validate(&c, &ferrotel_components::registry()).unwrap_or_else(|e| panic!("{e}"));
    graph::describe(&c, &plan)
}

#[tokio::test]
async fn gateway_builds_three_pipelines() {
    let specs = [testdata("valid/gateway.yaml")];
    assert_eq!(
        describe(&specs, &no_env),
        [
            "traces: [otlp] -> [batch] -> [otlp, debug]",
            "metrics: [otlp] -> [batch] -> [otlp]",
            "logs: [otlp] -> [batch] -> [otlp]",
        ]
    );
    let c = load(&specs, &no_env).unwrap();
    assert_eq!(
        c.service.telemetry.metrics.pull[0].to_string(),
        "0.0.0.0:18888"
    );
    assert_eq!(c.service.telemetry.logs.encoding, "json");
    let service = Service::build(&c, &ferrotel_components::registry(), Telemetry::new()).unwrap();
    assert!(service.warnings.is_empty(), "{:?}", service.warnings);
}

#[tokio::test]
async fn connectors_order_downstream_first_and_build() {
    let specs = [testdata("valid/connectors.yaml")];
    let lines = describe(&specs, &no_env);
    assert_eq!(
        lines,
        [
            "traces/local: [forward/join(connector)] -> [] -> [file/local]",
            "traces/primary: [forward/fanout(connector)] -> [batch/small] -> [otlphttp/primary, forward/join(connector)]",
            "traces/archive: [forward/fanout(connector)] -> [batch/big] -> [otlp_http/archive, forward/join(connector)]",
            "traces/ingest: [otlp] -> [] -> [forward/fanout(connector)]",
        ]
    );
    let c = load(&specs, &no_env).unwrap();
    Service::build(&c, &ferrotel_components::registry(), Telemetry::new()).unwrap();
}

#[tokio::test]
async fn environment_expansion() {
    let env = |k: &str| match k {
        "FERROTEL_TEST_BACKEND" => Some("collector.internal:4317".to_string()),
        "FERROTEL_TEST_TOKEN" => Some("s3cr3t".to_string()),
        "FERROTEL_TEST_METRICS_PORT" => Some("39999".to_string()),
        _ => None,
    };
    let c = load(&[testdata("valid/env.yaml")], &env).unwrap();
    let (_, otlp) = &c.exporters[0];
    assert_eq!(
        otlp.get("endpoint").unwrap().as_str(),
        Some("collector.internal:4317")
    );
    let headers = otlp.get("headers").unwrap();
    assert_eq!(
        headers.get("authorization").unwrap().as_str(),
        Some("Bearer s3cr3t")
    );
    assert_eq!(headers.get("x-price").unwrap().as_str(), Some("$5"));
    let (_, rcv) = &c.receivers[0];
    let grpc = rcv.get("protocols").unwrap().get("grpc").unwrap();
    assert_eq!(
        grpc.get("endpoint").unwrap().as_str(),
        Some("127.0.0.1:34317"),
        "default when unset"
    );
    assert_eq!(
        c.service.telemetry.metrics.pull[0].to_string(),
        "127.0.0.1:39999"
    );
    graph::validate(&c, &ferrotel_components::registry()).unwrap();
}

#[test]
fn later_sources_merge_over_earlier() {
    let specs = [
        testdata("valid/base.yaml"),
        format!("file:{}", testdata("valid/overlay.yaml")),
    ];
    let lines = describe(&specs, &no_env);
    assert_eq!(lines, ["traces: [otlp] -> [batch] -> [file]"]);
    // An inline yaml: source overrides a scalar.
    let mut specs = specs.to_vec();
    specs.push("yaml:service::telemetry::logs::level: debug".into());
    let c = load(&specs, &no_env).unwrap();
    assert_eq!(c.service.telemetry.logs.level, "debug");
    // The unused debug exporter is a warning, not an error.
    let plan = graph::validate(&c, &ferrotel_components::registry()).unwrap();
    assert_eq!(plan.warnings.len(), 1);
    assert!(
        plan.warnings[0]
            .to_string()
            .starts_with("exporters::debug: exporter is defined but not used in any pipeline"),
        "{}",
        plan.warnings[0]
    );
}

/// Each invalid config and the exact errors it must produce (file name `bad.yaml`).
const INVALID: &[(&str, &str, &[&str])] = &[
    (
        "undefined processor",
        "receivers: {otlp: {protocols: {grpc: }}}\nprocessors: {batch: }\nexporters: {debug: }\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [batch, batch/typo]\n      exporters: [debug]\n",
        &[
            "service::pipelines::traces::processors[1]: processor \"batch/typo\" is not defined (bad.yaml:8)",
        ],
    ),
    (
        "undefined exporter",
        "receivers: {otlp: {protocols: {grpc: }}}\nexporters: {otlp: {endpoint: x:1}}\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlp, otlp/2]\n",
        &[
            "service::pipelines::traces::exporters[1]: exporter \"otlp/2\" is not defined (bad.yaml:7)",
        ],
    ),
    (
        "unknown component type",
        "receivers: {otlpx: }\nexporters: {debug: }\nservice: {pipelines: {traces: {receivers: [otlpx], exporters: [debug]}}}\n",
        &[
            "receivers::otlpx: unknown receiver type \"otlpx\" (known: filelog, hostmetrics, jaeger, kafka, otlp, prometheus, prometheusremotewrite, zipkin) (bad.yaml:1)",
        ],
    ),
    (
        "unknown key in a component config",
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpont: localhost:4317\nexporters: {debug: }\nservice: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}\n",
        &[
            "receivers::otlp::protocols::grpc::endpont: unknown field `endpont`, expected one of `endpoint`, `transport`, `max_recv_msg_size_mib`, `max_concurrent_streams`, `read_buffer_size`, `write_buffer_size`, `include_metadata`, `keepalive`, `tls`, `auth` (bad.yaml:5)",
        ],
    ),
    (
        "wrong value type",
        "receivers: {otlp: {protocols: {grpc: {max_recv_msg_size_mib: lots}}}}\nexporters: {debug: }\nservice: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}\n",
        &[
            "receivers::otlp::protocols::grpc::max_recv_msg_size_mib: invalid type: string \"lots\", expected u64 (bad.yaml:1)",
        ],
    ),
    (
        "bad duration",
        "receivers: {otlp: {protocols: {http: }}}\nprocessors: {batch: {timeout: 5 seconds}}\nexporters: {debug: }\nservice: {pipelines: {logs: {receivers: [otlp], processors: [batch], exporters: [debug]}}}\n",
        &[
            "processors::batch::timeout: invalid duration \"5 seconds\": unknown unit \" seconds\" (ns, us, ms, s, m, h) (bad.yaml:2)",
        ],
    ),
    (
        "invalid endpoint URL",
        "receivers: {otlp: {protocols: {http: }}}\nexporters: {otlphttp/2: {endpoint: \"http//x\"}}\nservice: {pipelines: {logs: {receivers: [otlp], exporters: [otlphttp/2]}}}\n",
        &[
            "exporters::otlphttp/2::endpoint: invalid URL \"http//x\": must start with http:// or https:// (bad.yaml:2)",
        ],
    ),
    (
        "compression level out of range",
        "receivers: {otlp: {protocols: {http: }}}\nexporters: {otlphttp: {endpoint: \"http://x:4318\", compression: gzip, compression_params: {level: 12}}}\nservice: {pipelines: {logs: {receivers: [otlp], exporters: [otlphttp]}}}\n",
        &[
            "exporters::otlphttp::compression_params::level: unsupported level 12 for compression \"gzip\" (gzip, zlib, deflate: -2 to 9; zstd: any; the others take no level) (bad.yaml:2)",
        ],
    ),
    (
        "compression level for a coding without levels",
        "receivers: {otlp: {protocols: {http: }}}\nexporters: {zipkin: {endpoint: \"http://x:9411/api/v2/spans\", compression: snappy, compression_params: {level: 3}}}\nservice: {pipelines: {traces: {receivers: [otlp], exporters: [zipkin]}}}\n",
        &[
            "exporters::zipkin::compression_params::level: unsupported level 3 for compression \"snappy\" (gzip, zlib, deflate: -2 to 9; zstd: any; the others take no level) (bad.yaml:2)",
        ],
    ),
    (
        "component validate()",
        "receivers: {otlp: {protocols: {}}}\nexporters: {debug: }\nservice: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}\n",
        &[
            "receivers::otlp::protocols: must specify at least one protocol (grpc or http) (bad.yaml:1)",
        ],
    ),
    (
        "pipeline without receivers or exporters",
        "receivers: {otlp: {protocols: {grpc: }}}\nexporters: {debug: }\nservice:\n  pipelines:\n    traces:\n      exporters: [debug]\n    logs:\n      receivers: [otlp]\n",
        &[
            "service::pipelines::traces: the pipeline must have at least one receiver (bad.yaml:6)",
            "service::pipelines::logs: the pipeline must have at least one exporter (bad.yaml:8)",
        ],
    ),
    (
        "bad component id",
        "receivers: {otlp/: {protocols: {grpc: }}}\nexporters: {debug: }\nservice: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}\n",
        &[
            "receivers::otlp/: invalid component id \"otlp/\": the name after '/' must not be empty (bad.yaml:1)",
        ],
    ),
    (
        "bad pipeline type",
        "receivers: {otlp: {protocols: {grpc: }}}\nexporters: {debug: }\nservice: {pipelines: {spans: {receivers: [otlp], exporters: [debug]}}}\n",
        &[
            "service::pipelines::spans: invalid pipeline id \"spans\": the type must be traces, metrics, logs or profiles (bad.yaml:3)",
        ],
    ),
    (
        "connector cycle",
        "receivers: {otlp: {protocols: {grpc: }}}\nconnectors: {forward/a: , forward/b: }\nexporters: {debug: }\nservice:\n  pipelines:\n    traces/1:\n      receivers: [otlp, forward/b]\n      exporters: [forward/a]\n    traces/2:\n      receivers: [forward/a]\n      exporters: [forward/b, debug]\n",
        &["service::pipelines: cycle through connectors: traces/1 -> traces/2 -> traces/1"],
    ),
    (
        "connector used on one side",
        "receivers: {otlp: {protocols: {grpc: }}}\nconnectors: {forward: }\nexporters: {debug: }\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug, forward]\n",
        &[
            "connectors::forward: connector is used as an exporter but no pipeline uses it as a receiver (bad.yaml:2)",
        ],
    ),
    (
        "connector across signals it does not support",
        "receivers: {otlp: {protocols: {grpc: }}}\nconnectors: {forward: }\nexporters: {debug: }\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [forward]\n    logs:\n      receivers: [forward]\n      exporters: [debug]\n",
        &[
            "service::pipelines::traces: connector \"forward\" cannot connect traces to logs (it supports: traces->traces, metrics->metrics, logs->logs, profiles->profiles) (bad.yaml:2)",
        ],
    ),
    (
        "port conflict",
        "receivers:\n  otlp:\n    protocols:\n      grpc: {endpoint: 127.0.0.1:5000}\n      http: {endpoint: 127.0.0.1:5000}\nexporters: {debug: }\nservice: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}\n",
        &["receivers::otlp: port conflict: 127.0.0.1:5000 is also used by receivers::otlp"],
    ),
    (
        "port conflict with own telemetry",
        "receivers: {otlp: {protocols: {grpc: {endpoint: 'localhost:8888'}}}}\nexporters: {debug: }\nservice: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}\n",
        &[
            "receivers::otlp: port conflict: 127.0.0.1:8888 is also used by service::telemetry::metrics",
        ],
    ),
    (
        "undefined extension",
        "receivers: {otlp: {protocols: {grpc: }}}\nexporters: {debug: }\nservice:\n  extensions: [health_check]\n  pipelines: {traces: {receivers: [otlp], exporters: [debug]}}\n",
        &["service::extensions[0]: extension \"health_check\" is not defined (bad.yaml:4)"],
    ),
    (
        "unknown top-level key",
        "receiver: {otlp: }\nservice: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}\n",
        &[
            "receiver: unknown top-level key (expected receivers, processors, exporters, connectors, extensions, service) (bad.yaml:1)",
        ],
    ),
    (
        "missing service",
        "receivers: {otlp: {protocols: {grpc: }}}\n",
        &["service: missing: a config needs service::pipelines"],
    ),
    (
        "component listed twice",
        "receivers: {otlp: {protocols: {grpc: }}}\nexporters: {debug: }\nservice: {pipelines: {traces: {receivers: [otlp, otlp], exporters: [debug]}}}\n",
        &[
            "service::pipelines::traces::receivers[1]: receiver \"otlp\" is listed twice (bad.yaml:3)",
        ],
    ),
    (
        "invalid telemetry level",
        "receivers: {otlp: {protocols: {grpc: }}}\nexporters: {debug: }\nservice:\n  telemetry: {logs: {level: loud}}\n  pipelines: {traces: {receivers: [otlp], exporters: [debug]}}\n",
        &[
            "service::telemetry::logs::level: invalid level \"loud\" (debug, info, warn, error) (bad.yaml:4)",
        ],
    ),
    (
        "batch max below size",
        "receivers: {otlp: {protocols: {grpc: }}}\nprocessors: {batch: {send_batch_size: 100, send_batch_max_size: 10}}\nexporters: {debug: }\nservice: {pipelines: {traces: {receivers: [otlp], processors: [batch], exporters: [debug]}}}\n",
        &[
            "processors::batch::send_batch_max_size: must be greater or equal to send_batch_size (bad.yaml:2)",
        ],
    ),
    (
        "yaml syntax",
        "receivers: {otlp: [\n",
        &["bad.yaml:2:1: invalid YAML: while parsing a node, did not find expected node content"],
    ),
];

#[test]
fn invalid_configs_give_exact_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    let mut failures = Vec::new();
    for (name, yaml, expected) in INVALID {
        std::fs::write(&path, yaml).unwrap();
        let errors = load(&[path.to_string_lossy().into()], &no_env)
            .and_then(|c| graph::validate(&c, &ferrotel_components::registry()).map(|_| ()))
            .err()
            .map(|e| {
                e.0.iter()
                    .map(|e| {
                        e.to_string()
                            .replace(&path.to_string_lossy().to_string(), "bad.yaml")
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if errors != *expected {
            failures.push(format!(
                "{name}:\n  got:      {errors:?}\n  expected: {expected:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bare_dollar_var_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, "exporters:\n  otlp:\n    endpoint: $BACKEND\n").unwrap();
    let e = load(&[path.to_string_lossy().into()], &no_env)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "exporters::otlp::endpoint: bare $BACKEND is not expanded; write ${env:BACKEND}"
        ),
        "{e}"
    );
}
