//! Examples of the Go Collector's filter processor README: config, input and what is left.

use std::sync::Arc;

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value::Value};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::metrics::v1::{
    Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    Summary, SummaryDataPoint, metric,
};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, span::Event};
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::*;

use super::*;
use crate::testing::{Recorder, config, config_error, ctx, kv, kv_str};

const README: &str = r#"
error_mode: ignore
traces:
  span:
    - 'attributes["container.name"] == "app_container_1"'
    - 'resource.attributes["host.name"] == "localhost"'
    - 'name == "app_3"'
  spanevent:
    - 'attributes["grpc"] == true'
    - 'IsMatch(name, ".*grpc.*")'
metrics:
  metric:
    - 'name == "my.metric" and resource.attributes["my_label"] == "abc123"'
    - 'type == METRIC_DATA_TYPE_HISTOGRAM'
  datapoint:
    - 'metric.type == METRIC_DATA_TYPE_SUMMARY'
    - 'resource.attributes["service.name"] == "my_service_name"'
logs:
  log_record:
    - 'IsMatch(body, ".*password.*")'
    - 'severity_number < SEVERITY_NUMBER_WARN'
"#;

fn processor(yaml: &str, signal: Signal) -> (FilterProcessor, Arc<Recorder>, Telemetry) {
    let cfg: FilterConfig = config(yaml);
    cfg.validate().unwrap();
    let rec = Recorder::new();
    let c = ctx("filter", Kind::Processor);
    let telemetry = c.telemetry.clone();
    let p = FilterProcessor::build(&c, cfg, signal, rec.clone()).unwrap();
    (p, rec, telemetry)
}

fn resource(attrs: Vec<KeyValue>) -> Option<Resource> {
    Some(Resource {
        attributes: attrs,
        ..Default::default()
    })
}

fn span(name: &str, attrs: Vec<KeyValue>, events: Vec<Event>) -> Span {
    Span {
        trace_id: vec![1; 16].into(),
        span_id: vec![2; 8].into(),
        name: name.into(),
        attributes: attrs,
        events,
        ..Default::default()
    }
}

fn event(name: &str, attrs: Vec<KeyValue>) -> Event {
    Event {
        name: name.into(),
        attributes: attrs,
        ..Default::default()
    }
}

fn traces(resources: Vec<(Vec<KeyValue>, Vec<Span>)>) -> Request {
    Request::Traces(ExportTraceServiceRequest {
        resource_spans: resources
            .into_iter()
            .map(|(r, spans)| ResourceSpans {
                resource: resource(r),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    })
}

fn span_summary(r: &Request) -> Vec<(String, Vec<String>)> {
    let Request::Traces(t) = r else { panic!() };
    t.resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .map(|s| {
            (
                s.name.clone(),
                s.events.iter().map(|e| e.name.clone()).collect(),
            )
        })
        .collect()
}

async fn consume(p: &FilterProcessor, r: Request) -> Result<(), ConsumeError> {
    p.consume(Payload::from_request(r), Context::default())
        .await
}

fn received(rec: &Recorder) -> Vec<Request> {
    rec.got
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.to_request().unwrap())
        .collect()
}

#[tokio::test]
async fn readme_traces() {
    let (p, rec, telemetry) = processor(README, Signal::Traces);
    let input = traces(vec![
        (
            vec![kv_str("host.name", "server-1")],
            vec![
                span(
                    "app_1",
                    vec![kv_str("container.name", "app_container_1")],
                    vec![],
                ),
                span(
                    "app_2",
                    vec![kv_str("container.name", "app_container_2")],
                    vec![
                        event("call", vec![kv("grpc", Value::BoolValue(true))]),
                        event("my-grpc-request", vec![]),
                        event("cache.miss", vec![kv("grpc", Value::BoolValue(false))]),
                    ],
                ),
                span("app_3", vec![], vec![]),
            ],
        ),
        (
            vec![kv_str("host.name", "localhost")],
            vec![span("local", vec![], vec![])],
        ),
    ]);
    consume(&p, input).await.unwrap();
    let got = received(&rec);
    assert_eq!(
        span_summary(&got[0]),
        vec![("app_2".to_string(), vec!["cache.miss".to_string()])]
    );
    // The localhost resource lost all of its spans and is gone.
    let Request::Traces(t) = &got[0] else {
        panic!()
    };
    assert_eq!(t.resource_spans.len(), 1);
    assert_eq!(
        telemetry.sum(
            "otelcol_processor_dropped_items",
            &[("processor", "filter")]
        ),
        3
    );
}

#[tokio::test]
async fn drop_non_http_spans() {
    let yaml = r#"
traces:
  span:
    - attributes["http.request.method"] == nil
"#;
    let (p, rec, _) = processor(yaml, Signal::Traces);
    let input = traces(vec![(
        vec![],
        vec![
            span("GET /", vec![kv_str("http.request.method", "GET")], vec![]),
            span("internal", vec![], vec![]),
        ],
    )]);
    consume(&p, input).await.unwrap();
    assert_eq!(rec.span_names(), vec!["GET /"]);
}

fn gauge(name: &str, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: points,
        })),
        ..Default::default()
    }
}

fn point(v: f64, attrs: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        value: Some(ferrotel_pdata::proto::metrics::v1::number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

fn metrics(resources: Vec<(Vec<KeyValue>, Vec<Metric>)>) -> Request {
    Request::Metrics(ExportMetricsServiceRequest {
        resource_metrics: resources
            .into_iter()
            .map(|(r, metrics)| ResourceMetrics {
                resource: resource(r),
                scope_metrics: vec![ScopeMetrics {
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    })
}

fn metric_names(r: &Request) -> Vec<String> {
    let Request::Metrics(m) = r else { panic!() };
    m.resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .map(|m| m.name.clone())
        .collect()
}

#[tokio::test]
async fn readme_metrics() {
    let (p, rec, telemetry) = processor(README, Signal::Metrics);
    let input = metrics(vec![
        (
            vec![
                kv_str("my_label", "abc123"),
                kv_str("service.name", "other"),
            ],
            vec![
                gauge("my.metric", vec![point(1.0, vec![])]),
                gauge("kept", vec![point(1.0, vec![]), point(2.0, vec![])]),
                Metric {
                    name: "latency".into(),
                    data: Some(metric::Data::Histogram(Histogram {
                        data_points: vec![HistogramDataPoint::default()],
                        ..Default::default()
                    })),
                    ..Default::default()
                },
                Metric {
                    name: "summary".into(),
                    data: Some(metric::Data::Summary(Summary {
                        data_points: vec![SummaryDataPoint::default(), SummaryDataPoint::default()],
                    })),
                    ..Default::default()
                },
            ],
        ),
        (
            vec![kv_str("service.name", "my_service_name")],
            vec![gauge("my.metric", vec![point(1.0, vec![])])],
        ),
    ]);
    consume(&p, input).await.unwrap();
    let got = received(&rec);
    assert_eq!(metric_names(&got[0]), vec!["kept"]);
    assert_eq!(got[0].item_count(), 2);
    // 1 (my.metric) + 1 (histogram) + 2 (summary points) + 1 (my_service_name).
    assert_eq!(
        telemetry.sum(
            "otelcol_processor_dropped_items",
            &[("processor", "filter")]
        ),
        5
    );
}

#[tokio::test]
async fn datapoint_conditions_drop_points_and_empty_metrics() {
    let yaml = r#"
metrics:
  datapoint:
    - 'attributes["env"] == "dev"'
    - 'value_double > 100.0'
"#;
    let (p, rec, _) = processor(yaml, Signal::Metrics);
    let input = metrics(vec![(
        vec![],
        vec![
            gauge(
                "a",
                vec![
                    point(1.0, vec![kv_str("env", "dev")]),
                    point(2.0, vec![kv_str("env", "prod")]),
                    point(200.0, vec![]),
                ],
            ),
            gauge("b", vec![point(1.0, vec![kv_str("env", "dev")])]),
        ],
    )]);
    consume(&p, input).await.unwrap();
    let got = received(&rec);
    assert_eq!(metric_names(&got[0]), vec!["a"]);
    assert_eq!(got[0].item_count(), 1);
}

fn log(body: &str, severity: i32) -> LogRecord {
    LogRecord {
        body: Some(AnyValue {
            value: Some(Value::StringValue(body.into())),
        }),
        severity_number: severity,
        ..Default::default()
    }
}

fn logs(records: Vec<LogRecord>) -> Request {
    Request::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn bodies(r: &Request) -> Vec<String> {
    let Request::Logs(l) = r else { panic!() };
    l.resource_logs
        .iter()
        .flat_map(|rl| &rl.scope_logs)
        .flat_map(|sl| &sl.log_records)
        .map(|l| match l.body.as_ref().and_then(|b| b.value.as_ref()) {
            Some(Value::StringValue(s)) => s.clone(),
            _ => String::new(),
        })
        .collect()
}

#[tokio::test]
async fn readme_logs() {
    let (p, rec, _) = processor(README, Signal::Logs);
    let input = logs(vec![
        log("user password=hunter2", 17),
        log("debug chatter", 5),
        log("disk almost full", 13),
        log("request failed", 17),
    ]);
    consume(&p, input).await.unwrap();
    let got = received(&rec);
    assert_eq!(bodies(&got[0]), vec!["disk almost full", "request failed"]);
}

#[tokio::test]
async fn everything_dropped_is_not_passed_on() {
    let (p, rec, telemetry) = processor("logs: {log_record: ['true']}", Signal::Logs);
    consume(&p, logs(vec![log("a", 9), log("b", 9)]))
        .await
        .unwrap();
    assert!(rec.got.lock().unwrap().is_empty());
    assert_eq!(
        telemetry.sum(
            "otelcol_processor_dropped_items",
            &[("processor", "filter")]
        ),
        2
    );
}

#[tokio::test]
async fn error_modes() {
    // A string attribute used as a condition is an evaluation error.
    let conds = r#"logs: {log_record: ['attributes["flag"]', 'severity_number == 1']}"#;
    let input = || {
        let mut l = log("x", 1);
        l.attributes = vec![kv_str("flag", "yes")];
        logs(vec![l, log("y", 2)])
    };

    let (p, rec, _) = processor(conds, Signal::Logs);
    let e = consume(&p, input()).await.unwrap_err();
    assert!(!e.is_retryable());
    assert_eq!(
        e.message,
        r#"filter: failed to eval condition: attributes["flag"], condition must be a bool, got string"#
    );
    assert!(rec.got.lock().unwrap().is_empty());

    for mode in ["ignore", "silent"] {
        let (p, rec, _) = processor(&format!("error_mode: {mode}\n{conds}"), Signal::Logs);
        consume(&p, input()).await.unwrap();
        // The error counts as false; the next condition still drops the first record.
        assert_eq!(bodies(&received(&rec)[0]), vec!["y"], "{mode}");
    }
}

#[tokio::test]
async fn other_signals_pass_untouched() {
    let (pt, rect, _) = processor("logs: {log_record: ['true']}", Signal::Traces);
    consume(&pt, traces(vec![(vec![], vec![span("s", vec![], vec![])])]))
        .await
        .unwrap();
    assert_eq!(rect.span_names(), vec!["s"]);
}

#[test]
fn config_errors() {
    assert_eq!(
        config_error::<FilterConfig>("traces: {span: ['name == ']}"),
        "traces::span: condition 1, col 9: expected a value but found end of statement"
    );
    let e = config_error::<FilterConfig>("traces: {span: ['name == \"a\"', 'SETT(name)']}");
    assert!(
        e.contains(r#"condition 2, col 1: unknown function "SETT""#),
        "{e}"
    );
    let e = config_error::<FilterConfig>("logs: {log_record: ['span.name == \"a\"']}");
    assert!(
        e.contains(r#"condition 1, col 1: path "span.name" is not available in the log context"#),
        "{e}"
    );
    let e = config_error::<FilterConfig>("error_mode: loud");
    assert!(e.contains("loud"), "{e}");
    let e = config_error::<FilterConfig>("spans: {include: {match_type: strict}}");
    assert!(e.contains("spans"), "{e}");
    // Defaults are valid: no conditions, nothing dropped.
    FilterConfig::default().validate().unwrap();
}
