//! Examples of the Go Collector's transform processor README: config, input, expected output.

use std::sync::Arc;

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::metrics::v1::{
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric,
};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, span::Event};
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::*;

use super::*;
use crate::testing::{Recorder, config, config_error, ctx, kv, kv_str};

fn processor(yaml: &str, signal: Signal) -> (TransformProcessor, Arc<Recorder>) {
    let cfg: TransformConfig = config(yaml);
    cfg.validate().unwrap();
    let rec = Recorder::new();
    let p = TransformProcessor::build(&ctx("transform", Kind::Processor), cfg, signal, rec.clone())
        .unwrap();
    (p, rec)
}

async fn run(p: &TransformProcessor, rec: &Recorder, r: Request) -> Request {
    p.consume(Payload::from_request(r), Context::default())
        .await
        .unwrap();
    rec.got.lock().unwrap().pop().unwrap().to_request().unwrap()
}

fn res(attrs: Vec<KeyValue>) -> Option<Resource> {
    Some(Resource {
        attributes: attrs,
        ..Default::default()
    })
}

fn span(name: &str, attrs: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![1; 16].into(),
        span_id: vec![2; 8].into(),
        name: name.into(),
        attributes: attrs,
        ..Default::default()
    }
}

fn traces(resource: Vec<KeyValue>, spans: Vec<Span>) -> Request {
    Request::Traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: res(resource),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn spans(r: &Request) -> (Vec<KeyValue>, Vec<Span>) {
    let Request::Traces(t) = r else { panic!() };
    let rs = &t.resource_spans[0];
    (
        rs.resource.clone().unwrap_or_default().attributes,
        rs.scope_spans[0].spans.clone(),
    )
}

fn get(attrs: &[KeyValue], key: &str) -> Option<Value> {
    attrs
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.clone())
        .and_then(|v| v.value)
}

fn str_v(s: &str) -> Option<Value> {
    Some(Value::StringValue(s.into()))
}

const README_TRACES: &str = r#"
error_mode: ignore
trace_statements:
  - context: resource
    statements:
      - keep_keys(attributes, ["service.name", "service.namespace", "cloud.region", "process.command_line"])
      - replace_pattern(attributes["process.command_line"], "password\\=[^\\s]*(\\s?)", "password=***")
      - limit(attributes, 100, [])
      - truncate_all(attributes, 4096)
  - context: span
    statements:
      - set(status.code, 1) where attributes["http.path"] == "/health"
      - set(name, attributes["http.route"])
      - replace_match(attributes["http.target"], "/user/*/list/*", "/user/{userId}/list/{listId}")
      - limit(attributes, 100, [])
      - truncate_all(attributes, 4096)
"#;

#[tokio::test]
async fn readme_traces() {
    let (p, rec) = processor(README_TRACES, Signal::Traces);
    let input = traces(
        vec![
            kv_str("service.name", "checkout"),
            kv_str("host.name", "h1"),
            kv_str("process.command_line", "app --password=secret --port=1"),
        ],
        vec![
            span(
                "GET",
                vec![
                    kv_str("http.path", "/health"),
                    kv_str("http.route", "/health"),
                ],
            ),
            span(
                "GET",
                vec![
                    kv_str("http.route", "/user/{id}"),
                    kv_str("http.target", "/user/123/list/456"),
                ],
            ),
            span("no-route", vec![]),
        ],
    );
    let out = run(&p, &rec, input).await;
    let (resource, spans) = spans(&out);
    assert_eq!(
        resource.iter().map(|a| a.key.as_str()).collect::<Vec<_>>(),
        ["service.name", "process.command_line"]
    );
    assert_eq!(
        get(&resource, "process.command_line"),
        str_v("app --password=***--port=1")
    );
    assert_eq!(spans[0].status.as_ref().unwrap().code, 1);
    assert_eq!(spans[0].name, "/health");
    assert_eq!(spans[1].status, None);
    assert_eq!(spans[1].name, "/user/{id}");
    assert_eq!(
        get(&spans[1].attributes, "http.target"),
        str_v("/user/{userId}/list/{listId}")
    );
    // Setting from a missing attribute (nil) leaves the name.
    assert_eq!(spans[2].name, "no-route");
}

#[tokio::test]
async fn flat_statements_infer_their_context() {
    let yaml = r#"
trace_statements:
  - set(resource.attributes["env"], "prod")
  - set(span.attributes["checked"], true) where span.name == "a"
  - set(spanevent.attributes["span"], span.name)
  - set(scope.version, "2.0")
"#;
    let (p, rec) = processor(yaml, Signal::Traces);
    let mut a = span("a", vec![]);
    a.events = vec![Event {
        name: "e".into(),
        ..Default::default()
    }];
    let out = run(&p, &rec, traces(vec![], vec![a, span("b", vec![])])).await;
    let (resource, spans) = spans(&out);
    assert_eq!(get(&resource, "env"), str_v("prod"));
    assert_eq!(
        get(&spans[0].attributes, "checked"),
        Some(Value::BoolValue(true))
    );
    assert_eq!(get(&spans[1].attributes, "checked"), None);
    assert_eq!(get(&spans[0].events[0].attributes, "span"), str_v("a"));
    let Request::Traces(t) = &out else { panic!() };
    assert_eq!(
        t.resource_spans[0].scope_spans[0]
            .scope
            .as_ref()
            .unwrap()
            .version,
        "2.0"
    );
}

#[tokio::test]
async fn group_conditions_select_items() {
    let yaml = r#"
trace_statements:
  - context: span
    conditions:
      - name == "a"
      - attributes["force"] == true
    statements:
      - set(attributes["hit"], 1)
"#;
    let (p, rec) = processor(yaml, Signal::Traces);
    let input = traces(
        vec![],
        vec![
            span("a", vec![]),
            span("b", vec![]),
            span("c", vec![kv("force", Value::BoolValue(true))]),
        ],
    );
    let (_, spans) = spans(&run(&p, &rec, input).await);
    let hits: Vec<bool> = spans
        .iter()
        .map(|s| get(&s.attributes, "hit").is_some())
        .collect();
    assert_eq!(hits, [true, false, true]);
}

fn log(body: &str, attrs: Vec<KeyValue>) -> LogRecord {
    LogRecord {
        body: Some(AnyValue { value: str_v(body) }),
        attributes: attrs,
        ..Default::default()
    }
}

fn logs(records: Vec<LogRecord>) -> Request {
    Request::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: res(vec![
                kv_str("service.name", "api"),
                kv_str("host.name", "h"),
            ]),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn records(r: &Request) -> (Vec<KeyValue>, Vec<LogRecord>) {
    let Request::Logs(l) = r else { panic!() };
    let rl = &l.resource_logs[0];
    (
        rl.resource.clone().unwrap().attributes,
        rl.scope_logs[0].log_records.clone(),
    )
}

#[tokio::test]
async fn readme_logs() {
    let yaml = r#"
error_mode: ignore
log_statements:
  - context: resource
    statements:
      - keep_keys(attributes, ["service.name", "service.namespace", "cloud.region"])
  - context: log
    statements:
      - set(severity_text, "FAIL") where body == "request failed"
      - replace_all_matches(attributes, "/user/*/list/*", "/user/{userId}/list/{listId}")
      - replace_all_patterns(attributes, "value", "/account/\\d{4}", "/account/{accountId}")
      - set(body, attributes["http.route"])
"#;
    let (p, rec) = processor(yaml, Signal::Logs);
    let input = logs(vec![
        log(
            "request failed",
            vec![
                kv_str("http.target", "/user/1/list/2"),
                kv_str("http.route", "/users"),
            ],
        ),
        log("ok", vec![kv_str("url", "/account/1234/x")]),
    ]);
    let (resource, recs) = records(&run(&p, &rec, input).await);
    assert_eq!(resource, vec![kv_str("service.name", "api")]);
    assert_eq!(recs[0].severity_text, "FAIL");
    assert_eq!(
        get(&recs[0].attributes, "http.target"),
        str_v("/user/{userId}/list/{listId}")
    );
    assert_eq!(recs[0].body.as_ref().unwrap().value, str_v("/users"));
    assert_eq!(recs[1].severity_text, "");
    assert_eq!(
        get(&recs[1].attributes, "url"),
        str_v("/account/{accountId}/x")
    );
    assert_eq!(recs[1].body.as_ref().unwrap().value, str_v("ok"));
}

#[tokio::test]
async fn metrics_metric_and_datapoint_contexts() {
    let yaml = r#"
metric_statements:
  - context: resource
    statements:
      - keep_keys(attributes, ["host.name"])
  - context: metric
    statements:
      - set(description, "Sum") where type == METRIC_DATA_TYPE_SUM
      - set(unit, "By") where name == "bytes"
  - context: datapoint
    statements:
      - limit(attributes, 1, ["host.name"])
      - set(attributes["big"], true) where value_int > 10
"#;
    let (p, rec) = processor(yaml, Signal::Metrics);
    let pt = |v: i64| NumberDataPoint {
        attributes: vec![kv_str("a", "1"), kv_str("host.name", "h")],
        value: Some(ferrotel_pdata::proto::metrics::v1::number_data_point::Value::AsInt(v)),
        ..Default::default()
    };
    let input = Request::Metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: res(vec![kv_str("host.name", "h"), kv_str("drop", "me")]),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "bytes".into(),
                    data: Some(metric::Data::Sum(Sum {
                        data_points: vec![pt(5), pt(50)],
                        ..Default::default()
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    let out = run(&p, &rec, input).await;
    let Request::Metrics(m) = &out else { panic!() };
    let rm = &m.resource_metrics[0];
    assert_eq!(
        rm.resource.as_ref().unwrap().attributes,
        vec![kv_str("host.name", "h")]
    );
    let metric = &rm.scope_metrics[0].metrics[0];
    assert_eq!(
        (metric.description.as_str(), metric.unit.as_str()),
        ("Sum", "By")
    );
    let Some(metric::Data::Sum(s)) = &metric.data else {
        panic!()
    };
    assert_eq!(s.data_points[0].attributes, vec![kv_str("host.name", "h")]);
    assert_eq!(
        s.data_points[1].attributes,
        vec![kv_str("host.name", "h"), kv("big", Value::BoolValue(true))]
    );
}

#[tokio::test]
async fn error_modes() {
    let statements = r#"
log_statements:
  - set(log.attributes["n"], log.attributes["s"] + 1)
  - set(log.attributes["after"], "ran")
"#;
    let input = || logs(vec![log("x", vec![kv_str("s", "text")])]);

    let (p, rec) = processor(statements, Signal::Logs);
    let e = p
        .consume(Payload::from_request(input()), Context::default())
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        r#"transform: failed to execute statement: set(log.attributes["n"], log.attributes["s"] + 1), unsupported math operation + on string and int"#
    );
    assert!(rec.got.lock().unwrap().is_empty());

    for mode in ["ignore", "silent"] {
        let (p, rec) = processor(&format!("error_mode: {mode}\n{statements}"), Signal::Logs);
        let (_, recs) = records(&run(&p, &rec, input()).await);
        assert_eq!(get(&recs[0].attributes, "n"), None, "{mode}");
        assert_eq!(get(&recs[0].attributes, "after"), str_v("ran"), "{mode}");
    }

    // A group's own error_mode overrides the processor's.
    let yaml = r#"
log_statements:
  - context: log
    error_mode: ignore
    statements:
      - set(attributes["n"], attributes["s"] * 2)
      - set(attributes["after"], "ran")
"#;
    let (p, rec) = processor(yaml, Signal::Logs);
    let (_, recs) = records(&run(&p, &rec, input()).await);
    assert_eq!(get(&recs[0].attributes, "after"), str_v("ran"));
}

#[tokio::test]
async fn metric_conversions_and_extractions() {
    use ferrotel_pdata::proto::metrics::v1::{Gauge, Histogram, HistogramDataPoint};
    let yaml = r#"
metric_statements:
  - context: metric
    statements:
      - convert_sum_to_gauge() where name == "s"
      - convert_gauge_to_sum("delta", true) where name == "g"
      - extract_sum_metric(true) where name == "h"
      - extract_count_metric(false, "_n") where name == "h"
"#;
    let (p, rec) = processor(yaml, Signal::Metrics);
    let num = NumberDataPoint {
        value: Some(ferrotel_pdata::proto::metrics::v1::number_data_point::Value::AsInt(1)),
        ..Default::default()
    };
    let hist = |sum: Option<f64>, count: u64| HistogramDataPoint {
        attributes: vec![kv_str("k", "v")],
        sum,
        count,
        time_unix_nano: 7,
        ..Default::default()
    };
    let metrics = vec![
        Metric {
            name: "s".into(),
            data: Some(metric::Data::Sum(Sum {
                data_points: vec![num.clone()],
                ..Default::default()
            })),
            ..Default::default()
        },
        Metric {
            name: "g".into(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: vec![num.clone()],
            })),
            ..Default::default()
        },
        Metric {
            name: "h".into(),
            unit: "ms".into(),
            data: Some(metric::Data::Histogram(Histogram {
                data_points: vec![hist(Some(2.5), 3), hist(None, 4)],
                aggregation_temporality: 1,
            })),
            ..Default::default()
        },
    ];
    let input = Request::Metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    let out = run(&p, &rec, input).await;
    let Request::Metrics(m) = &out else { panic!() };
    let ms = &m.resource_metrics[0].scope_metrics[0].metrics;
    let names: Vec<&str> = ms.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["s", "g", "h", "h_sum", "h_n"]);
    assert!(matches!(&ms[0].data, Some(metric::Data::Gauge(g)) if g.data_points.len() == 1));
    let Some(metric::Data::Sum(g)) = &ms[1].data else {
        panic!("gauge became a sum")
    };
    assert_eq!((g.aggregation_temporality, g.is_monotonic), (1, true));
    let Some(metric::Data::Sum(s)) = &ms[3].data else {
        panic!()
    };
    assert_eq!(s.data_points.len(), 1, "points without a sum are skipped");
    assert_eq!(
        s.data_points[0].value,
        Some(ferrotel_pdata::proto::metrics::v1::number_data_point::Value::AsDouble(2.5))
    );
    assert_eq!(s.data_points[0].attributes, vec![kv_str("k", "v")]);
    assert_eq!(
        (
            s.aggregation_temporality,
            s.is_monotonic,
            ms[3].unit.as_str()
        ),
        (1, true, "ms")
    );
    let Some(metric::Data::Sum(c)) = &ms[4].data else {
        panic!()
    };
    assert_eq!(c.data_points.len(), 2);
    assert_eq!(
        c.data_points[1].value,
        Some(ferrotel_pdata::proto::metrics::v1::number_data_point::Value::AsInt(4))
    );
    assert!(!c.is_monotonic);
}

/// As Go: extracting from a metric that is not a histogram or summary, or whose temporality
/// is unspecified, is an error (here propagated), not a silent no-op.
#[tokio::test]
async fn extract_metrics_refuse_other_types() {
    use ferrotel_pdata::proto::metrics::v1::{Gauge, Histogram, HistogramDataPoint};
    let yaml = r#"
error_mode: propagate
metric_statements:
  - context: metric
    statements:
      - extract_sum_metric(true)
"#;
    let request = |m: Metric| {
        Request::Metrics(ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![m],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
    };
    let gauge = Metric {
        name: "g".into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint::default()],
        })),
        ..Default::default()
    };
    let unspecified = Metric {
        name: "h".into(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                sum: Some(1.0),
                ..Default::default()
            }],
            aggregation_temporality: 0,
        })),
        ..Default::default()
    };
    for (m, kind) in [(gauge, "Gauge"), (unspecified, "Histogram")] {
        let (p, _) = processor(yaml, Signal::Metrics);
        let e = p
            .consume(Payload::from_request(request(m)), Context::default())
            .await
            .unwrap_err();
        assert!(
            e.message.contains(&format!(
                "extract_sum_metric requires an input metric of type Histogram, ExponentialHistogram or Summary, got {kind}"
            )),
            "{e:?}"
        );
    }
}

#[test]
fn config_errors() {
    let e = config_error::<TransformConfig>(
        "trace_statements: [{context: span, statements: ['set(name, \"a\")', 'SETT(name, \"b\")']}]",
    );
    assert!(
        e.contains(r#"trace_statements[0]: statement 2, col 1: unknown function "SETT""#),
        "{e}"
    );
    let e = config_error::<TransformConfig>("log_statements: [{context: span, statements: []}]");
    assert!(
        e.contains(r#"log_statements[0]: unknown context "span""#),
        "{e}"
    );
    let e = config_error::<TransformConfig>(r#"trace_statements: ['set(attributes["a"], "b")']"#);
    assert!(
        e.contains("trace_statements[0]: statement 1, col 1: cannot infer the context"),
        "{e}"
    );
    let e = config_error::<TransformConfig>(r#"metric_statements: ['set(log.body, "b")']"#);
    assert!(e.contains(r#"context "log" is not valid here"#), "{e}");
    let e = config_error::<TransformConfig>(
        "metric_statements: [{context: datapoint, statements: ['convert_sum_to_gauge() where metric.name == \"a\"']}]",
    );
    assert!(
        e.contains(r#"function "convert_sum_to_gauge" is not supported in the datapoint context"#),
        "{e}"
    );
    TransformConfig::default().validate().unwrap();
}
