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

/// Items the filter processor counted as dropped.
fn dropped(telemetry: &Telemetry) -> u64 {
    telemetry.sum(
        "otelcol_processor_dropped_items",
        &[("processor", "filter")],
    )
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
    assert_eq!(dropped(&telemetry), 3);
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
    assert_eq!(dropped(&telemetry), 5);
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
    assert_eq!(dropped(&telemetry), 2);
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

// ---- The legacy include/exclude form (the Go README's examples) ----

use ferrotel_pdata::proto::common::v1::InstrumentationScope;

/// (service, (scope name, version), spans) per resource.
type ServiceSpans<'a> = (&'a str, Option<(&'a str, &'a str)>, Vec<Span>);

fn scoped_traces(resources: Vec<ServiceSpans<'_>>) -> Request {
    Request::Traces(ExportTraceServiceRequest {
        resource_spans: resources
            .into_iter()
            .map(|(service, scope, spans)| ResourceSpans {
                resource: resource(vec![
                    kv_str("service.name", service),
                    kv_str("container.host", "localhost"),
                ]),
                scope_spans: vec![ScopeSpans {
                    scope: scope.map(|(name, version)| InstrumentationScope {
                        name: name.into(),
                        version: version.into(),
                        ..Default::default()
                    }),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    })
}

fn kind(mut s: Span, kind: i32) -> Span {
    s.kind = kind;
    s
}

#[tokio::test]
async fn legacy_spans_readme() {
    // The README's example (with `regexp` where it writes `regex`, which Go refuses).
    let yaml = r#"
spans:
  include:
    match_type: strict
    services:
      - app_3
  exclude:
    match_type: regexp
    services:
      - app_1
      - app_2
    span_names:
      - hello_world
      - hello/world
    attributes:
      - key: container.name
        value: (app_container_1|app_container_2)
    libraries:
      - name: opentelemetry
        version: 0.0-beta
    resources:
      - key: container.host
        value: (localhost|127.0.0.1)
"#;
    let (p, rec, telemetry) = processor(yaml, Signal::Traces);
    let input = scoped_traces(vec![
        ("app_1", None, vec![span("a1", vec![], vec![])]),
        (
            "app_3",
            Some(("opentelemetry", "0.0-beta")),
            vec![
                span("kept", vec![], vec![]),
                span("hello_world", vec![], vec![]),
            ],
        ),
    ]);
    consume(&p, input).await.unwrap();
    // app_1 is not included; app_3's spans do not match every exclude list (service).
    assert_eq!(rec.span_names(), vec!["kept", "hello_world"]);
    assert_eq!(dropped(&telemetry), 1);
}

#[tokio::test]
async fn legacy_spans_exclude_all_lists_must_match() {
    let yaml = r#"
spans:
  include:
    match_type: strict
    span_kinds: [SPAN_KIND_SERVER, SPAN_KIND_CLIENT]
  exclude:
    match_type: regexp
    span_names: ['^GET /health']
    attributes:
      - key: http.route
      - key: env
        value: dev|test
    libraries:
      - name: io\.opentelemetry\..*
"#;
    let (p, rec, _) = processor(yaml, Signal::Traces);
    let dev = || vec![kv_str("http.route", "/health"), kv_str("env", "dev-eu")];
    let input = scoped_traces(vec![
        (
            "shop",
            Some(("io.opentelemetry.http", "")),
            vec![
                kind(span("GET /health", dev(), vec![]), 2),
                kind(span("GET /healthz", vec![kv_str("env", "dev")], vec![]), 2),
                kind(
                    span(
                        "GET /health ready",
                        vec![kv_str("http.route", "/h"), kv_str("env", "prod")],
                        vec![],
                    ),
                    2,
                ),
                kind(span("GET /cart", dev(), vec![]), 3),
                kind(span("internal", vec![], vec![]), 1),
                span("unspecified", vec![], vec![]),
            ],
        ),
        (
            "other",
            Some(("custom", "1.0")),
            vec![kind(span("GET /health", dev(), vec![]), 2)],
        ),
    ]);
    consume(&p, input).await.unwrap();
    assert_eq!(
        rec.span_names(),
        vec![
            "GET /healthz",
            "GET /health ready",
            "GET /cart",
            "GET /health"
        ]
    );
}

#[tokio::test]
async fn legacy_spans_everything_dropped_removes_resources() {
    let yaml = "spans: {exclude: {match_type: strict, services: [noisy]}}";
    let (p, rec, _) = processor(yaml, Signal::Traces);
    let input = scoped_traces(vec![
        ("noisy", None, vec![span("a", vec![], vec![])]),
        ("quiet", None, vec![span("b", vec![], vec![])]),
    ]);
    consume(&p, input).await.unwrap();
    let got = received(&rec);
    let Request::Traces(t) = &got[0] else {
        panic!()
    };
    assert_eq!(t.resource_spans.len(), 1);
    assert_eq!(rec.span_names(), vec!["b"]);

    let (p, rec, _) = processor(yaml, Signal::Traces);
    consume(
        &p,
        scoped_traces(vec![("noisy", None, vec![span("a", vec![], vec![])])]),
    )
    .await
    .unwrap();
    assert!(rec.got.lock().unwrap().is_empty());
}

fn container(name: &str) -> Vec<KeyValue> {
    vec![kv_str("container.name", name)]
}

fn g(name: &str) -> Metric {
    gauge(name, vec![point(1.0, vec![])])
}

#[tokio::test]
async fn legacy_metrics_readme() {
    let yaml = r#"
metrics:
  include:
    match_type: regexp
    metric_names:
      - prefix/.*
      - prefix_.*
    resource_attributes:
      - key: container.name
        value: app_container_1
  exclude:
    match_type: strict
    metric_names:
      - hello_world
      - prefix/skip
"#;
    let (p, rec, telemetry) = processor(yaml, Signal::Metrics);
    let input = metrics(vec![
        (
            container("app_container_1"),
            vec![
                g("prefix/a"),
                g("prefix_b"),
                g("prefix/skip"),
                g("other"),
                g("hello_world"),
            ],
        ),
        (container("app_container_2"), vec![g("prefix/a")]),
    ]);
    consume(&p, input).await.unwrap();
    let got = received(&rec);
    assert_eq!(metric_names(&got[0]), vec!["prefix/a", "prefix_b"]);
    let Request::Metrics(m) = &got[0] else {
        panic!()
    };
    assert_eq!(m.resource_metrics.len(), 1);
    assert_eq!(dropped(&telemetry), 4);
}

#[tokio::test]
async fn legacy_metrics_exclude_with_resource_attributes_drops_the_resource() {
    // As in Go: the resource part and the name part are separate filters, so this drops every
    // metric of app_container_1 and the named metrics of every resource.
    let yaml = r#"
metrics:
  exclude:
    match_type: strict
    metric_names: [hello_world, hello/world]
    resource_attributes:
      - key: container.name
        value: app_container_1
"#;
    let (p, rec, _) = processor(yaml, Signal::Metrics);
    let input = metrics(vec![
        (container("app_container_1"), vec![g("a"), g("hello_world")]),
        (container("app_container_2"), vec![g("b"), g("hello/world")]),
    ]);
    consume(&p, input).await.unwrap();
    assert_eq!(metric_names(&received(&rec)[0]), vec!["b"]);
}

#[tokio::test]
async fn legacy_metrics_resource_only() {
    // "In case no metric names are provided, the filtering is only done at resource level."
    let yaml = r#"
metrics:
  include:
    match_type: regexp
    resource_attributes:
      - key: container.name
        value: (app_container_1|app_container_2)
"#;
    let (p, rec, _) = processor(yaml, Signal::Metrics);
    let input = metrics(vec![
        (container("app_container_1"), vec![g("a")]),
        (container("app_container_3"), vec![g("b")]),
        (vec![], vec![g("c")]),
        (container("app_container_2"), vec![g("d")]),
    ]);
    consume(&p, input).await.unwrap();
    assert_eq!(metric_names(&received(&rec)[0]), vec!["a", "d"]);
}

/// `match_type: expr` as the Go README shows it: expressions over `MetricName`, `MetricType`,
/// `HasLabel` and `Label`, true for any data point.
#[tokio::test]
async fn legacy_metrics_expr() {
    let yaml = r#"
metrics:
  include:
    match_type: expr
    expressions:
      - MetricName == "my.metric" && Label("my_label") == "abc123"
      - MetricType == "Sum" or MetricName startsWith 'http.'
  exclude:
    match_type: expr
    expressions:
      - HasLabel("debug") and not (Label("env") in ["prod", "staging"])
      - MetricName matches "^http\\.client\\." || MetricName contains 'internal'
"#;
    let (p, rec, telemetry) = processor(yaml, Signal::Metrics);
    let label = |k: &str, v: &str| vec![kv_str(k, v)];
    let sum = Metric {
        name: "requests".into(),
        data: Some(metric::Data::Sum(ferrotel_pdata::proto::metrics::v1::Sum {
            data_points: vec![point(1.0, vec![])],
            ..Default::default()
        })),
        ..Default::default()
    };
    let input = metrics(vec![(
        vec![],
        vec![
            // One of two points has the label: kept.
            gauge(
                "my.metric",
                vec![
                    point(1.0, label("my_label", "x")),
                    point(2.0, label("my_label", "abc123")),
                ],
            ),
            gauge("my.metric", vec![point(1.0, label("my_label", "x"))]),
            sum,
            gauge("http.server.duration", vec![point(1.0, vec![])]),
            gauge("http.client.duration", vec![point(1.0, vec![])]),
            gauge("http.server.internal", vec![point(1.0, vec![])]),
            // `debug` outside prod: dropped by the exclude; in prod: kept.
            gauge(
                "http.server.size",
                vec![point(
                    1.0,
                    [label("debug", "1"), label("env", "dev")].concat(),
                )],
            ),
            gauge(
                "http.server.count",
                vec![point(
                    1.0,
                    [label("debug", "1"), label("env", "prod")].concat(),
                )],
            ),
            // No data points: no expression is true for it.
            gauge("http.server.empty", vec![]),
            gauge("other", vec![point(1.0, vec![])]),
        ],
    )]);
    consume(&p, input).await.unwrap();
    assert_eq!(
        metric_names(&received(&rec)[0]),
        vec![
            "my.metric",
            "requests",
            "http.server.duration",
            "http.server.count"
        ]
    );
    // Items are data points: the dropped metric without points drops none.
    assert_eq!(dropped(&telemetry), 5);
}

/// Expression errors: at startup with their position; at run time the metric is kept and
/// the error returned, as Go's filter processor does.
#[tokio::test]
async fn legacy_metrics_expr_errors() {
    for (yaml, want) in [
        (
            "metrics: {include: {match_type: expr, expressions: ['MetricName == ']}}",
            "metrics::include: expressions[0]: col 15: unexpected end of expression",
        ),
        (
            "metrics: {include: {match_type: expr, expressions: ['true', 'Labels(\"a\")']}}",
            "metrics::include: expressions[1]: col 1: unknown name Labels",
        ),
        (
            "metrics: {exclude: {match_type: expr, expressions: ['MetricName matches \"(\"']}}",
            "metrics::exclude: expressions[0]: col 20: invalid regexp \"(\"",
        ),
        (
            "metrics: {exclude: {match_type: expr, expressions: [x], metric_names: [a]}}",
            "metrics::exclude: \"metric_names\" cannot be used with match_type \"expr\"",
        ),
        (
            "metrics: {exclude: {match_type: strict, expressions: ['true']}}",
            "metrics::exclude: \"expressions\" need match_type \"expr\", not \"strict\"",
        ),
    ] {
        let e = config_error::<FilterConfig>(yaml);
        assert!(e.contains(want), "{yaml}:\n{e}\nwant {want}");
    }
    let (p, rec, _) = processor(
        "metrics: {exclude: {match_type: expr, expressions: ['MetricName < 3', 'MetricName']}}",
        Signal::Metrics,
    );
    let e = consume(&p, metrics(vec![(vec![], vec![g("a")])]))
        .await
        .unwrap_err();
    assert!(
        e.message
            .contains("MetricName < 3: invalid operation: string Lt int"),
        "{e:?}"
    );
    assert!(received(&rec).is_empty());
}

fn resource_logs(resources: Vec<(Vec<KeyValue>, Vec<LogRecord>)>) -> Request {
    Request::Logs(ExportLogsServiceRequest {
        resource_logs: resources
            .into_iter()
            .map(|(r, records)| ResourceLogs {
                resource: resource(r),
                scope_logs: vec![ScopeLogs {
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    })
}

fn with_text(mut l: LogRecord, text: &str) -> LogRecord {
    l.severity_text = text.into();
    l
}

fn with_attrs(mut l: LogRecord, attrs: Vec<KeyValue>) -> LogRecord {
    l.attributes = attrs;
    l
}

async fn run_logs(yaml: &str, input: Request) -> Vec<String> {
    let (p, rec, _) = processor(yaml, Signal::Logs);
    consume(&p, input).await.unwrap();
    received(&rec).first().map(bodies).unwrap_or_default()
}

#[tokio::test]
async fn legacy_logs_readme() {
    let hosts = || {
        resource_logs(vec![
            (
                vec![kv_str("host.name", "just_this_one_hostname")],
                vec![log("a", 9)],
            ),
            (vec![kv_str("host.name", "prefix-b")], vec![log("b", 9)]),
            (vec![kv_str("host.name", "other")], vec![log("c", 9)]),
        ])
    };
    // filter/2
    let strict = r#"
logs:
  include:
    match_type: strict
    resource_attributes:
      - key: host.name
        value: just_this_one_hostname
"#;
    assert_eq!(run_logs(strict, hosts()).await, vec!["a"]);
    // filter/regexp
    let regexp = r#"
logs:
  include:
    match_type: regexp
    resource_attributes:
      - key: host.name
        value: prefix.*
"#;
    assert_eq!(run_logs(regexp, hosts()).await, vec!["b"]);

    // filter/regexp_record
    let record = r#"
logs:
  include:
    match_type: regexp
    record_attributes:
      - key: record_attr
        value: prefix_.*
"#;
    let input = logs(vec![
        with_attrs(log("a", 9), vec![kv_str("record_attr", "prefix_1")]),
        with_attrs(log("b", 9), vec![kv_str("record_attr", "other")]),
        with_attrs(log("c", 9), vec![kv("record_attr", Value::IntValue(1))]),
        log("d", 9),
    ]);
    assert_eq!(run_logs(record, input).await, vec!["a"]);

    // filter/severity_text
    let text = r#"
logs:
  include:
    match_type: regexp
    severity_texts:
    - INFO[2-4]?
    - WARN[2-4]?
    - ERROR[2-4]?
"#;
    let input = logs(vec![
        with_text(log("a", 9), "INFO"),
        with_text(log("b", 5), "DEBUG"),
        with_text(log("c", 18), "ERROR2"),
        log("d", 0),
    ]);
    assert_eq!(run_logs(text, input).await, vec!["a", "c"]);

    // filter/severity_number: below INFO dropped, undefined kept (no match_type needed).
    let number = r#"
logs:
  include:
    severity_number:
      min: "INFO"
      match_undefined: true
"#;
    let input = || {
        logs(vec![
            log("trace", 1),
            log("debug4", 8),
            log("info", 9),
            log("error", 17),
            log("undefined", 0),
        ])
    };
    assert_eq!(
        run_logs(number, input()).await,
        vec!["info", "error", "undefined"]
    );
    let exclude = "logs: {exclude: {severity_number: {min: error}}}";
    assert_eq!(
        run_logs(exclude, input()).await,
        vec!["trace", "debug4", "info", "undefined"]
    );

    // filter/bodies
    let bodies_yaml = r#"
logs:
  include:
    match_type: regexp
    bodies:
    - ^IMPORTANT RECORD
"#;
    let input = logs(vec![
        log("IMPORTANT RECORD 1", 9),
        log("not an IMPORTANT RECORD", 9),
    ]);
    assert_eq!(
        run_logs(bodies_yaml, input).await,
        vec!["IMPORTANT RECORD 1"]
    );
}

#[tokio::test]
async fn legacy_logs_include_then_exclude() {
    let yaml = r#"
logs:
  include:
    match_type: strict
    bodies: [a, b, c]
  exclude:
    match_type: strict
    record_attributes:
      - key: drop
        value: true
"#;
    let input = logs(vec![
        log("a", 9),
        with_attrs(log("b", 9), vec![kv("drop", Value::BoolValue(true))]),
        with_attrs(log("c", 9), vec![kv("drop", Value::BoolValue(false))]),
        log("d", 9),
    ]);
    assert_eq!(run_logs(yaml, input).await, vec!["a", "c"]);
    // An include or exclude that sets nothing is ignored, as in Go.
    let empty = "logs: {include: {match_type: strict}, exclude: {}}";
    let (p, _, _) = processor(empty, Signal::Logs);
    assert!(p.legacy.is_none());
}

#[test]
fn legacy_config_errors() {
    let cases = [
        (
            "traces: {span: ['name == \"a\"']}\nspans: {exclude: {match_type: strict, services: [a]}}",
            "spans::exclude: cannot use \"traces.span\", \"traces.spanevent\" and the span settings \"spans.include\", \"spans.exclude\" at the same time",
        ),
        (
            "metrics: {datapoint: ['true'], include: {match_type: strict, metric_names: [a]}}",
            "metrics::include: cannot use \"metrics.metric\", \"metrics.datapoint\" and the settings \"metrics.include\", \"metrics.exclude\" at the same time",
        ),
        (
            "logs: {log_record: ['true'], exclude: {match_type: strict, bodies: [a]}}",
            "logs::exclude: cannot use \"logs.log_record\" and the settings \"logs.include\", \"logs.exclude\" at the same time",
        ),
        (
            "spans: {include: {match_type: regex, services: [a]}}",
            "spans::include: unrecognized match_type: 'regex', valid types are: [regexp strict]",
        ),
        (
            "spans: {include: {match_type: strict}}",
            "spans::include: at least one of \"attributes\", \"libraries\",  or \"resources\" field must be specified",
        ),
        (
            "spans: {exclude: {match_type: strict, log_bodies: [a]}}",
            "spans::exclude: log_bodies should not be specified for trace spans",
        ),
        (
            "spans: {exclude: {match_type: strict, span_kinds: [server]}}",
            "spans::exclude: span_kinds string must match one of the standard span kinds when match_type=strict: [SPAN_KIND_CLIENT SPAN_KIND_CONSUMER SPAN_KIND_INTERNAL SPAN_KIND_PRODUCER SPAN_KIND_SERVER]",
        ),
        (
            "spans: {exclude: {match_type: regexp, span_names: ['(']}}",
            "spans::exclude: error parsing regexp",
        ),
        (
            "metrics: {include: {metric_names: [a]}}",
            "metrics::include: unrecognized match_type: '', valid types are: [regexp strict]",
        ),
        (
            "metrics: {include: {match_type: regexp, resource_attributes: [{key: a, value: 1}]}}",
            "metrics::include: match_type=regexp for \"a\" key is only supported for strings",
        ),
        (
            "logs: {include: {match_type: strict, record_attributes: [{value: a}]}}",
            "logs::include: error creating processor. Can't have empty key in the list of attributes",
        ),
        (
            "logs: {include: {bodies: [a]}}",
            "logs::include: unrecognized match_type: ''",
        ),
        (
            "logs: {include: {severity_number: {min: LOUD}}}",
            "unknown severity \"LOUD\"",
        ),
        // Go's log match has no libraries (nor span keys).
        (
            "logs: {include: {match_type: strict, libraries: [{name: a}]}}",
            "libraries",
        ),
    ];
    for (yaml, want) in cases {
        let e = config_error::<FilterConfig>(yaml);
        assert!(e.contains(want), "{yaml}\n got: {e}\nwant: {want}");
    }
    // Both forms for different signals are fine.
    let ok: FilterConfig = config(
        "traces: {span: ['name == \"a\"']}\nlogs: {exclude: {match_type: strict, bodies: [a]}}\nmetrics: {regexp: {cacheenabled: true}}",
    );
    ok.validate().unwrap();
    // The example of docs/configuration.md.
    let doc: FilterConfig = config(
        r#"
spans:
  exclude:
    match_type: regexp
    span_names: ['^GET /health']
    attributes:
      - {key: http.route}
metrics:
  include:
    match_type: regexp
    metric_names: ['^http\.server\..*', '^process\..*']
logs:
  include:
    severity_number: {min: INFO, match_undefined: true}
"#,
    );
    doc.validate().unwrap();
}

// ---- `*_conditions`: contexts inferred from the paths (collector-contrib v0.146+) ----

/// The blog post's example of context inference: the same intent as `README`'s traces part,
/// written as one flat list; what is left is the same.
#[tokio::test]
async fn trace_conditions_infer_contexts_like_the_context_blocks() {
    let flat = r#"
error_mode: ignore
trace_conditions:
  - 'resource.attributes["host.name"] == "localhost"'
  - 'span.attributes["container.name"] == "app_container_1"'
  - 'span.name == "app_3"'
  - 'spanevent.attributes["grpc"] == true'
  - 'IsMatch(spanevent.name, ".*grpc.*")'
"#;
    let input = || {
        traces(vec![
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
                        vec![],
                        vec![
                            event("call", vec![kv("grpc", Value::BoolValue(true))]),
                            event("my-grpc-request", vec![]),
                            event("cache.miss", vec![]),
                        ],
                    ),
                    span("app_3", vec![], vec![]),
                ],
            ),
            (
                vec![kv_str("host.name", "localhost")],
                vec![
                    span("local-1", vec![], vec![]),
                    span("local-2", vec![], vec![]),
                ],
            ),
        ])
    };
    let (p, rec, telemetry) = processor(flat, Signal::Traces);
    consume(&p, input()).await.unwrap();
    let got = received(&rec);
    assert_eq!(
        span_summary(&got[0]),
        vec![("app_2".to_string(), vec!["cache.miss".to_string()])]
    );
    let Request::Traces(t) = &got[0] else {
        panic!()
    };
    // The resource condition dropped the localhost resource with both its spans.
    assert_eq!(t.resource_spans.len(), 1);
    assert_eq!(dropped(&telemetry), 4);
    // The same request through the context blocks of the older form.
    let (p, rec, _) = processor(README, Signal::Traces);
    consume(&p, input()).await.unwrap();
    assert_eq!(span_summary(&received(&rec)[0]), span_summary(&got[0]));
}

/// Higher levels are evaluated first, whatever the order in the list: a span condition that
/// would fail to evaluate never sees the spans of a resource already dropped.
#[tokio::test]
async fn higher_levels_are_evaluated_first() {
    let yaml = r#"
trace_conditions:
  - 'span.attributes["flag"]'
  - 'resource.attributes["drop"] == true'
"#;
    let (p, rec, _) = processor(yaml, Signal::Traces);
    let input = traces(vec![
        (
            vec![kv("drop", Value::BoolValue(true))],
            // A string used as a condition: an error under the default `propagate`.
            vec![span("bad", vec![kv_str("flag", "yes")], vec![])],
        ),
        (
            vec![],
            vec![
                span("kept", vec![kv("flag", Value::BoolValue(false))], vec![]),
                span("gone", vec![kv("flag", Value::BoolValue(true))], vec![]),
            ],
        ),
    ]);
    consume(&p, input).await.unwrap();
    assert_eq!(rec.span_names(), vec!["kept"]);
}

#[tokio::test]
async fn condition_groups_take_a_context_and_an_error_mode() {
    let yaml = r#"
log_conditions:
  - context: log
    error_mode: ignore
    conditions:
      - 'attributes["flag"]'
  - conditions:
      - 'log.severity_number < SEVERITY_NUMBER_WARN'
  - 'scope.name == "noisy"'
"#;
    let (p, rec, _) = processor(yaml, Signal::Logs);
    let mut flagged = log("flagged-but-error", 13);
    flagged.attributes = vec![kv_str("flag", "yes")];
    let mut noisy = logs(vec![log("from-noisy", 17)]);
    let Request::Logs(l) = &mut noisy else {
        panic!()
    };
    l.resource_logs[0].scope_logs[0].scope = Some(InstrumentationScope {
        name: "noisy".into(),
        ..Default::default()
    });
    consume(&p, logs(vec![flagged, log("debug", 5), log("error", 17)]))
        .await
        .unwrap();
    consume(&p, noisy).await.unwrap();
    // The group's `ignore` let the first record through its failing condition; the inferred
    // group dropped the debug record; the scope condition dropped the whole second request.
    let got = received(&rec);
    assert_eq!(got.len(), 1);
    assert_eq!(bodies(&got[0]), vec!["flagged-but-error", "error"]);
}

#[tokio::test]
async fn metric_conditions_drop_points_then_empty_metrics() {
    let yaml = r#"
metric_conditions:
  - 'metric.name == "drop.me"'
  - 'datapoint.value_double > 10.0'
"#;
    let (p, rec, _) = processor(yaml, Signal::Metrics);
    let input = metrics(vec![(
        vec![],
        vec![
            gauge("drop.me", vec![point(1.0, vec![])]),
            gauge("all.high", vec![point(11.0, vec![]), point(12.0, vec![])]),
            gauge("mixed", vec![point(1.0, vec![]), point(20.0, vec![])]),
        ],
    )]);
    consume(&p, input).await.unwrap();
    assert_eq!(metric_names(&received(&rec)[0]), vec!["mixed"]);
}

#[test]
fn inferred_condition_errors_name_the_entry() {
    let e =
        config_error::<FilterConfig>("trace_conditions: ['span.name == \"a\"', 'name == \"b\"']");
    assert!(
        e.contains("trace_conditions[1]: condition 1, col 1: cannot infer the context"),
        "{e}"
    );
    let e = config_error::<FilterConfig>("log_conditions: ['span.name == \"a\"']");
    assert!(
        e.contains(r#"log_conditions[0]: condition 1, col 1: context "span" is not valid here"#),
        "{e}"
    );
    let e = config_error::<FilterConfig>(
        "metric_conditions: [{context: spanevent, conditions: ['true']}]",
    );
    assert!(
        e.contains(r#"metric_conditions[0]: unknown context "spanevent" (here: resource, scope, metric, datapoint)"#),
        "{e}"
    );
    let e = config_error::<FilterConfig>("trace_conditions: [{conditions: ['span.name == ']}]");
    assert!(e.contains("trace_conditions[0]"), "{e}");
    // The new lists and the legacy match form do not mix for one signal.
    let e = config_error::<FilterConfig>(
        "trace_conditions: ['span.name == \"a\"']\nspans: {exclude: {match_type: strict, span_names: [x]}}",
    );
    assert!(e.contains("spans::exclude"), "{e}");
}
