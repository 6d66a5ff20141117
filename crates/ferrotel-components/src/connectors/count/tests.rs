//! Counts checked by hand on small requests: defaults, conditions (any matches), attributes with
//! and without default values, per resource; metrics and data points; logs; config errors.

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{KeyValue, any_value};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric::Data, number_data_point,
};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, span::Event};
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::*;

use super::*;
use crate::testing::{Recorder, config, config_error, kv_str};

fn res(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv_str("service.name", service)],
        ..Default::default()
    })
}

fn span(name: &str, attrs: Vec<KeyValue>, events: usize) -> Span {
    Span {
        name: name.into(),
        attributes: attrs,
        events: (0..events)
            .map(|i| Event {
                name: format!("e{i}"),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn traces() -> Request {
    let rs = |service: &str, spans: Vec<Span>| ResourceSpans {
        resource: res(service),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        ..Default::default()
    };
    Request::Traces(ExportTraceServiceRequest {
        resource_spans: vec![
            rs(
                "a",
                vec![
                    span("GET", vec![kv_str("env", "prod")], 2),
                    span("POST", vec![kv_str("env", "dev")], 0),
                    span("GET", vec![], 1),
                ],
            ),
            rs("b", vec![span("GET", vec![kv_str("env", "prod")], 0)]),
        ],
    })
}

fn count(yaml: &str, from: Signal, req: Request) -> ExportMetricsServiceRequest {
    let c: CountConfig = config(yaml);
    c.validate().unwrap();
    Count::new(&c, from, Recorder::new())
        .unwrap()
        .count(req, 42)
        .unwrap()
}

/// (resource service, metric, attributes, count) of every point.
type Flat = (String, String, Vec<(String, String)>, i64);

fn flat(out: &ExportMetricsServiceRequest) -> Vec<Flat> {
    let mut v = Vec::new();
    for rm in &out.resource_metrics {
        let svc = rm
            .resource
            .as_ref()
            .and_then(|r| r.attributes.first())
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| match &v.value {
                Some(any_value::Value::StringValue(s)) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        assert_eq!(rm.scope_metrics[0].scope.as_ref().unwrap().name, SCOPE_NAME);
        for m in &rm.scope_metrics[0].metrics {
            let Some(Data::Sum(s)) = &m.data else {
                panic!("sum")
            };
            assert!(s.is_monotonic);
            assert_eq!(s.aggregation_temporality, 1, "delta");
            for p in &s.data_points {
                assert!(p.time_unix_nano > 0);
                let attrs = p
                    .attributes
                    .iter()
                    .map(|kv| {
                        let Some(any_value::Value::StringValue(s)) =
                            kv.value.as_ref().and_then(|v| v.value.clone())
                        else {
                            panic!("string attribute")
                        };
                        (kv.key.clone(), s)
                    })
                    .collect();
                let Some(number_data_point::Value::AsInt(n)) = p.value else {
                    panic!()
                };
                v.push((svc.clone(), m.name.clone(), attrs, n));
            }
        }
    }
    v.sort();
    v
}

fn s(x: &str) -> String {
    x.to_string()
}

#[test]
fn default_span_and_event_counts_per_resource() {
    let out = count("{}", Signal::Traces, traces());
    assert_eq!(
        flat(&out),
        vec![
            (s("a"), s("trace.span.count"), vec![], 3),
            (s("a"), s("trace.span.event.count"), vec![], 3),
            (s("b"), s("trace.span.count"), vec![], 1),
        ]
    );
    let m = &out.resource_metrics[0].scope_metrics[0].metrics[0];
    assert_eq!(m.description, "The number of spans observed.");
    let Some(Data::Sum(sum)) = &m.data else {
        panic!()
    };
    assert_eq!(sum.data_points[0].time_unix_nano, 42);
}

#[test]
fn conditions_and_attributes() {
    let yaml = r#"
spans:
  get.count:
    description: GETs
    conditions: ['name == "GET"', 'attributes["env"] == "dev"']
  by.env:
    attributes: [{key: env}]
  by.env.default:
    attributes: [{key: env, default_value: none}, {key: service.name}]
spanevents: {}
"#;
    let out = count(yaml, Signal::Traces, traces());
    let e = |k: &str, v: &str| vec![(s(k), s(v))];
    let e2 = |v: &str, svc: &str| vec![(s("env"), s(v)), (s("service.name"), s(svc))];
    assert_eq!(
        flat(&out),
        vec![
            (s("a"), s("by.env"), e("env", "dev"), 1),
            (s("a"), s("by.env"), e("env", "prod"), 1),
            (s("a"), s("by.env.default"), e2("dev", "a"), 1),
            (s("a"), s("by.env.default"), e2("none", "a"), 1),
            (s("a"), s("by.env.default"), e2("prod", "a"), 1),
            // Two GETs and the dev POST: conditions are ORed.
            (s("a"), s("get.count"), vec![], 3),
            (s("b"), s("by.env"), e("env", "prod"), 1),
            (s("b"), s("by.env.default"), e2("prod", "b"), 1),
            (s("b"), s("get.count"), vec![], 1),
        ]
    );
}

#[test]
fn metrics_and_data_points() {
    let gauge = |name: &str, points: Vec<&str>| Metric {
        name: name.into(),
        data: Some(Data::Gauge(Gauge {
            data_points: points
                .into_iter()
                .map(|h| NumberDataPoint {
                    attributes: vec![kv_str("host", h)],
                    value: Some(number_data_point::Value::AsInt(1)),
                    ..Default::default()
                })
                .collect(),
        })),
        ..Default::default()
    };
    let req = Request::Metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: res("m"),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    gauge("cpu", vec!["h1", "h2", "h1"]),
                    gauge("mem", vec!["h1"]),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    let out = count(
        "datapoints: {dp.by.host: {attributes: [{key: host}], conditions: ['metric.name == \"cpu\"']}}",
        Signal::Metrics,
        req,
    );
    assert_eq!(
        flat(&out),
        vec![
            (s("m"), s("dp.by.host"), vec![(s("host"), s("h1"))], 2),
            (s("m"), s("dp.by.host"), vec![(s("host"), s("h2"))], 1),
            (s("m"), s("metric.count"), vec![], 2),
        ]
    );
}

#[tokio::test]
async fn logs_through_the_connector() {
    let rec = Recorder::new();
    let c: CountConfig =
        config("logs: {errors: {conditions: ['severity_number >= SEVERITY_NUMBER_ERROR']}}");
    let conn = CountConnectorFactory
        .create(
            crate::testing::ctx("count", Kind::Connector),
            c,
            Signal::Logs,
            Signal::Metrics,
            rec.clone(),
        )
        .unwrap();
    let logs = |sev: Vec<i32>| ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: res("l"),
            scope_logs: vec![ScopeLogs {
                log_records: sev
                    .into_iter()
                    .map(|n| LogRecord {
                        severity_number: n,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let p = Payload::from_request(Request::Logs(logs(vec![9, 17, 21, 5])));
    conn.consume(p, Context::default()).await.unwrap();
    // Nothing matches: nothing is sent.
    let p = Payload::from_request(Request::Logs(logs(vec![9])));
    conn.consume(p, Context::default()).await.unwrap();
    let got = rec.got.lock().unwrap();
    assert_eq!(got.len(), 1);
    let Request::Metrics(m) = got[0].to_request().unwrap() else {
        panic!()
    };
    let f = flat(&m);
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].1.as_str(), f[0].3), ("errors", 2));
}

#[test]
fn config_errors_name_the_metric() {
    let e = config_error::<CountConfig>("spans: {x: {conditions: ['name ==']}}");
    assert!(e.starts_with("spans::x::conditions: condition 1"), "{e}");
    let e = config_error::<CountConfig>("metrics: {x: {attributes: [{key: a}]}}");
    assert_eq!(
        e,
        "metrics::x::attributes: metrics attributes not supported: metric \"x\""
    );
    let e = config_error::<CountConfig>("logs: {x: {attributes: [{default_value: a}]}}");
    assert_eq!(e, "logs::x::attributes[0]::key: attribute key missing");
    let e = config_error::<CountConfig>("logs: {'': {}}");
    assert_eq!(e, "logs: metric name missing");
}
