//! Routing by resource, span and request metadata to recorders standing for pipelines; first
//! match wins; the rest goes to the default pipelines; config and wiring errors.

use std::sync::Arc;

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::*;

use super::*;
use crate::testing::{Recorder, config, config_error, ctx, kv_str};

fn traces(resources: Vec<(&str, Vec<&str>)>) -> Payload {
    Payload::from_request(Request::Traces(ExportTraceServiceRequest {
        resource_spans: resources
            .into_iter()
            .map(|(tenant, spans)| ResourceSpans {
                resource: Some(Resource {
                    attributes: if tenant.is_empty() {
                        vec![]
                    } else {
                        vec![kv_str("tenant", tenant)]
                    },
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: spans
                        .into_iter()
                        .map(|n| Span {
                            name: n.into(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }))
}

struct Pipes {
    a: Arc<Recorder>,
    b: Arc<Recorder>,
    d: Arc<Recorder>,
}

fn connector(yaml: &str, signal: Signal) -> (Arc<dyn Connector>, Pipes) {
    let c: RoutingConfig = config(yaml);
    c.validate().unwrap();
    let pipes = Pipes {
        a: Recorder::new(),
        b: Recorder::new(),
        d: Recorder::new(),
    };
    let s = signal.to_string();
    let routes: Vec<(PipelineId, ConsumerRef)> = vec![
        (format!("{s}/a").parse().unwrap(), pipes.a.clone()),
        (format!("{s}/b").parse().unwrap(), pipes.b.clone()),
        (format!("{s}/d").parse().unwrap(), pipes.d.clone()),
    ];
    let conn = RoutingConnectorFactory
        .create_routed(ctx("routing", Kind::Connector), c, signal, signal, routes)
        .unwrap();
    (conn, pipes)
}

/// (tenant, span names) of every resource a recorder got.
fn got(r: &Recorder) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for p in r.got.lock().unwrap().iter() {
        let Request::Traces(t) = p.to_request().unwrap() else {
            panic!()
        };
        for rs in t.resource_spans {
            let tenant = rs
                .resource
                .and_then(|r| r.attributes.into_iter().next())
                .and_then(|kv| kv.value)
                .map(|v| format!("{:?}", v.value.unwrap()))
                .unwrap_or_default();
            let names = rs
                .scope_spans
                .into_iter()
                .flat_map(|s| s.spans)
                .map(|s| s.name)
                .collect();
            out.push((tenant, names));
        }
    }
    out
}

fn tenant(t: &str) -> String {
    if t.is_empty() {
        String::new()
    } else {
        format!(
            "{:?}",
            ferrotel_pdata::proto::common::v1::any_value::Value::StringValue(t.into())
        )
    }
}

fn v(items: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    items
        .iter()
        .map(|(t, n)| (tenant(t), n.iter().map(|s| s.to_string()).collect()))
        .collect()
}

#[tokio::test]
async fn resources_go_to_the_first_matching_route() {
    let (conn, p) = connector(
        r#"
default_pipelines: [traces/d]
table:
  - condition: resource.attributes["tenant"] == "acme"
    pipelines: [traces/a]
  - statement: route() where attributes["tenant"] != nil
    pipelines: [traces/b]
"#,
        Signal::Traces,
    );
    conn.consume(
        traces(vec![
            ("acme", vec!["1"]),
            ("other", vec!["2"]),
            ("", vec!["3"]),
        ]),
        Context::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        got(&p.a),
        v(&[("acme", &["1"])]),
        "acme matches both routes, goes to the first"
    );
    assert_eq!(got(&p.b), v(&[("other", &["2"])]));
    assert_eq!(got(&p.d), v(&[("", &["3"])]));
}

#[tokio::test]
async fn spans_move_individually() {
    let (conn, p) = connector(
        r#"
default_pipelines: [traces/d]
table:
  - context: span
    condition: name == "ping"
    pipelines: [traces/a, traces/b]
"#,
        Signal::Traces,
    );
    conn.consume(
        traces(vec![("t", vec!["ping", "work", "ping"])]),
        Context::default(),
    )
    .await
    .unwrap();
    assert_eq!(got(&p.a), v(&[("t", &["ping", "ping"])]));
    assert_eq!(got(&p.b), v(&[("t", &["ping", "ping"])]));
    assert_eq!(got(&p.d), v(&[("t", &["work"])]));
}

#[tokio::test]
async fn nothing_matches_and_no_default_drops() {
    let (conn, p) = connector(
        "table: [{condition: 'attributes[\"tenant\"] == \"x\"', pipelines: [traces/a]}]",
        Signal::Traces,
    );
    conn.consume(traces(vec![("y", vec!["1"])]), Context::default())
        .await
        .unwrap();
    assert!(got(&p.a).is_empty() && got(&p.d).is_empty());
}

#[tokio::test]
async fn request_metadata() {
    let (conn, p) = connector(
        r#"
default_pipelines: [logs/d]
table:
  - context: request
    condition: request["x-tenant"] == "acme"
    pipelines: [logs/a]
"#,
        Signal::Logs,
    );
    let logs = || {
        Payload::from_request(Request::Logs(ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord::default()],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }))
    };
    let with = |tenant: &str| Context {
        client: Some(Arc::new(ClientInfo {
            metadata: vec![("x-tenant".into(), tenant.into())],
            ..Default::default()
        })),
    };
    conn.consume(logs(), with("acme")).await.unwrap();
    conn.consume(logs(), with("other")).await.unwrap();
    conn.consume(logs(), Context::default()).await.unwrap();
    assert_eq!(p.a.items(), 1);
    assert_eq!(p.d.items(), 2);
}

#[tokio::test]
async fn a_failing_pipeline_fails_the_payload() {
    let (conn, p) = connector(
        "default_pipelines: [traces/d]\ntable: [{condition: 'true', pipelines: [traces/a]}]",
        Signal::Traces,
    );
    *p.a.fail.lock().unwrap() = Some(ConsumeError::retryable("full", None));
    let e = conn
        .consume(traces(vec![("t", vec!["1"])]), Context::default())
        .await
        .unwrap_err();
    assert!(e.is_retryable());
}

#[test]
fn pipelines_must_receive_from_the_connector() {
    let c: RoutingConfig = config("table: [{condition: 'true', pipelines: [traces/nope]}]");
    let r: Vec<(PipelineId, ConsumerRef)> =
        vec![("traces/a".parse().unwrap(), Recorder::new() as ConsumerRef)];
    let e = RoutingConnectorFactory
        .create_routed(
            ctx("routing", Kind::Connector),
            c,
            Signal::Traces,
            Signal::Traces,
            r,
        )
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "table[0]::pipelines[0]: pipeline \"traces/nope\" does not receive from connector \"routing\""
    );
    let c: RoutingConfig =
        config("table: [{context: span, condition: 'true', pipelines: [logs/a]}]");
    let r: Vec<(PipelineId, ConsumerRef)> =
        vec![("logs/a".parse().unwrap(), Recorder::new() as ConsumerRef)];
    let e = RoutingConnectorFactory
        .create_routed(
            ctx("routing", Kind::Connector),
            c,
            Signal::Logs,
            Signal::Logs,
            r,
        )
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "table[0]::context: context \"span\" cannot route logs"
    );
}

#[test]
fn config_errors() {
    let e = |y: &str| config_error::<RoutingConfig>(y);
    assert_eq!(
        e("{}"),
        "table: invalid routing table: the routing table is empty"
    );
    assert_eq!(
        e("table: [{pipelines: [traces/a]}]"),
        "table[0]: invalid route: no condition or statement provided"
    );
    assert_eq!(
        e("table: [{condition: 'true', statement: 'route()', pipelines: [traces/a]}]"),
        "table[0]: invalid route: both condition and statement provided"
    );
    assert_eq!(
        e("table: [{condition: 'true'}]"),
        "table[0]::pipelines: invalid route: no pipelines defined"
    );
    assert_eq!(
        e("table: [{context: scope, condition: 'true', pipelines: [traces/a]}]"),
        "table[0]::context: invalid context: scope"
    );
    assert!(
        e("table: [{statement: 'drop()', pipelines: [traces/a]}]").starts_with(
            "table[0]::statement: statement \"drop()\" must be `route() where <condition>`"
        )
    );
    assert!(
        e("table: [{condition: 'name ==', pipelines: [traces/a]}]")
            .starts_with("table[0]::condition: col")
    );
    assert!(
        e("table: [{condition: 'true', pipelines: [spans/a]}]")
            .starts_with("table[0]::pipelines[0]:")
    );
    assert!(
        e("match_once: false\ntable: [{condition: 'true', pipelines: [traces/a]}]")
            .starts_with("match_once: match_once: false is no longer supported")
    );
    assert!(
        e("table: [{context: request, condition: 'request[x] == 1', pipelines: [traces/a]}]")
            .starts_with("table[0]::condition: request condition")
    );
}
