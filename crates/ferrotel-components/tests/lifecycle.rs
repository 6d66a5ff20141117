//! The lifecycle contract, checked once for every registered component: it builds from a
//! minimal config, `shutdown` is safe before `start` and twice, and `start` → `shutdown` works.
//! A new component is covered automatically when its defaults are valid; otherwise add a
//! minimal config to `minimal_config` below.

use std::sync::Arc;

use ferrotel_pdata::{Payload, Signal};
use ferrotel_runtime::config::{Node, node::parse_yaml};
use ferrotel_runtime::*;

struct Sink;

impl Consumer for Sink {
    fn consume(&self, _p: Payload, _c: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Configs for types whose defaults are not valid on their own (a required field).
fn minimal_config(kind: Kind, type_name: &str, dir: &std::path::Path) -> Option<String> {
    let d = dir.display();
    Some(match (kind, type_name) {
        (Kind::Receiver, "otlp") => {
            "protocols: {grpc: {endpoint: '127.0.0.1:0'}, http: {endpoint: '127.0.0.1:0'}}".into()
        }
        (Kind::Exporter, "otlp_grpc" | "otlp") => {
            "endpoint: 127.0.0.1:1\ntls: {insecure: true}".into()
        }
        (Kind::Exporter, "otlp_http" | "otlphttp") => "endpoint: http://127.0.0.1:1".into(),
        (Kind::Exporter, "loadbalancing" | "load_balancing") => {
            "protocol: {otlp: {tls: {insecure: true}}}\nresolver: {static: {hostnames: ['127.0.0.1:1']}}".into()
        }
        (Kind::Exporter, "file") => format!("path: {d}/out.jsonl"),
        (Kind::Exporter, "local_store") => "ui: {endpoint: '127.0.0.1:0'}".into(),
        (Kind::Exporter, "prometheus") => "endpoint: 127.0.0.1:0".into(),
        (Kind::Exporter, "prometheusremotewrite") => {
            "endpoint: http://127.0.0.1:1/api/v1/write".into()
        }
        (Kind::Receiver, "prometheus") => {
            "config: {scrape_configs: [{job_name: j, static_configs: [{targets: ['127.0.0.1:1']}]}]}"
                .into()
        }
        (Kind::Receiver, "prometheusremotewrite") => "endpoint: 127.0.0.1:0".into(),
        (Kind::Receiver, "hostmetrics") => "scrapers: {cpu: {}, memory: {}}".into(),
        (Kind::Receiver, "filelog") => format!("include: ['{d}/*.log']"),
        (Kind::Receiver, "zipkin") => "endpoint: 127.0.0.1:0".into(),
        // librdkafka connects in the background: nothing listens on port 1.
        (Kind::Receiver | Kind::Exporter, "kafka") => "brokers: ['127.0.0.1:1']".into(),
        (Kind::Exporter, "zipkin") => "endpoint: http://127.0.0.1:1/api/v2/spans".into(),
        (Kind::Receiver, "jaeger") => "protocols: {grpc: {endpoint: '127.0.0.1:0'}, thrift_http: {endpoint: '127.0.0.1:0'}, thrift_compact: {endpoint: '127.0.0.1:0'}, thrift_binary: {endpoint: '127.0.0.1:0'}}".into(),
        (Kind::Extension, "health_check" | "zpages" | "pprof") => "endpoint: 127.0.0.1:0".into(),
        (Kind::Extension, "file_storage") => {
            format!("directory: {d}/storage\ncreate_directory: true")
        }
        (Kind::Extension, "bearertokenauth") => "token: test-token".into(),
        (Kind::Extension, "basicauth") => "client_auth: {username: u, password: p}".into(),
        (Kind::Processor, "memory_limiter") => "check_interval: 1s\nlimit_mib: 4000".into(),
        (Kind::Processor, "attributes") => "actions: [{key: k, action: delete}]".into(),
        (Kind::Processor, "resource") => "attributes: [{key: k, action: delete}]".into(),
        (Kind::Processor, "tail_sampling") => "policies: [{name: all, type: always_sample}]".into(),
        (Kind::Connector, "routing") => {
            "table: [{condition: 'true', pipelines: [traces/a, metrics/a, logs/a]}]".into()
        }
        (Kind::Connector, "failover") => {
            "priority_levels: [[traces/a, metrics/a, logs/a], [traces/b, metrics/b, logs/b]]"
                .into()
        }
        _ => return None,
    })
}

fn config_for(registry: &Registry, kind: Kind, type_name: &str, dir: &std::path::Path) -> Node {
    if let Some(yaml) = minimal_config(kind, type_name, dir) {
        return parse_yaml(&yaml, "minimal").unwrap();
    }
    let defaults = Node::new(ferrotel_runtime::config::Value::Null);
    match registry.check_config(kind, type_name, &defaults) {
        Some(Ok(())) => defaults,
        Some(Err(e)) => panic!(
            "{kind} {type_name:?}: defaults are invalid ({e}); add a minimal config to tests/lifecycle.rs"
        ),
        None => unreachable!("listed types are registered"),
    }
}

async fn exercise(what: String, lc: &dyn Lifecycle) {
    lc.shutdown()
        .await
        .unwrap_or_else(|e| panic!("{what}: shutdown before start failed: {e}"));
    lc.start()
        .await
        .unwrap_or_else(|e| panic!("{what}: start failed: {e}"));
    lc.shutdown()
        .await
        .unwrap_or_else(|e| panic!("{what}: shutdown failed: {e}"));
    lc.shutdown()
        .await
        .unwrap_or_else(|e| panic!("{what}: second shutdown failed: {e}"));
}

fn ctx(kind: Kind, type_name: &str) -> CreateContext {
    CreateContext {
        id: type_name.parse().unwrap(),
        kind,
        pipeline: Some("traces".parse().unwrap()),
        telemetry: Telemetry::new(),
        extensions: Arc::new(Vec::new()),
    }
}

#[tokio::test]
async fn every_component_honours_the_lifecycle_contract() {
    let registry = ferrotel_components::registry();
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for info in registry.list(Kind::Receiver) {
        let node = config_for(&registry, Kind::Receiver, info.type_name, dir.path());
        let outputs: SignalOutputs = info
            .signals
            .iter()
            .map(|(s, _)| (*s, Arc::new(Sink) as ConsumerRef))
            .collect();
        let r = registry.receivers[info.type_name]
            .create(ctx(Kind::Receiver, info.type_name), &node, outputs)
            .unwrap_or_else(|e| panic!("receiver {}: {e}", info.type_name));
        exercise(format!("receiver {}", info.type_name), r.as_ref()).await;
        checked += 1;
    }
    for info in registry.list(Kind::Processor) {
        let node = config_for(&registry, Kind::Processor, info.type_name, dir.path());
        for (signal, _) in &info.signals {
            let p = registry.processors[info.type_name]
                .create(
                    ctx(Kind::Processor, info.type_name),
                    &node,
                    *signal,
                    Arc::new(Sink),
                )
                .unwrap_or_else(|e| panic!("processor {}: {e}", info.type_name));
            exercise(
                format!("processor {} ({signal})", info.type_name),
                p.as_ref(),
            )
            .await;
        }
        checked += 1;
    }
    for info in registry.list(Kind::Exporter) {
        let node = config_for(&registry, Kind::Exporter, info.type_name, dir.path());
        let signals: Vec<Signal> = info.signals.iter().map(|(s, _)| *s).collect();
        let e = registry.exporters[info.type_name]
            .create(ctx(Kind::Exporter, info.type_name), &node, &signals)
            .unwrap_or_else(|e| panic!("exporter {}: {e}", info.type_name));
        exercise(format!("exporter {}", info.type_name), e.as_ref()).await;
        checked += 1;
    }
    for info in registry.list(Kind::Connector) {
        let node = config_for(&registry, Kind::Connector, info.type_name, dir.path());
        for (from, to) in &info.connects {
            let c = registry.connectors[info.type_name]
                .create(
                    ctx(Kind::Connector, info.type_name),
                    &node,
                    *from,
                    *to,
                    Arc::new(Sink),
                )
                .unwrap_or_else(|e| panic!("connector {}: {e}", info.type_name));
            exercise(
                format!("connector {} ({from}->{to})", info.type_name),
                c.as_ref(),
            )
            .await;
        }
        checked += 1;
    }
    for info in registry.list(Kind::Extension) {
        let node = config_for(&registry, Kind::Extension, info.type_name, dir.path());
        let x = registry.extensions[info.type_name]
            .create(ctx(Kind::Extension, info.type_name), &node)
            .unwrap_or_else(|e| panic!("extension {}: {e}", info.type_name));
        exercise(format!("extension {}", info.type_name), x.as_ref()).await;
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} component types registered");
}
