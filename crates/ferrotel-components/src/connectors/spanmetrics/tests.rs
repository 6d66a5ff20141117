//! Output checked against counts and bucket counts worked out by hand from span durations.

use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{KeyValue, any_value};
use ferrotel_pdata::proto::metrics::v1::{Metric, exemplar, metric::Data, number_data_point};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use ferrotel_pdata::{Payload, Request};
use ferrotel_runtime::ComponentConfig;

use super::*;
use crate::testing::{Recorder, config, config_error, ctx, kv_str};

const MS: u64 = 1_000_000;
const T0: u64 = 1_700_000_000_000_000_000;

fn sp(name: &str, kind: i32, status: i32, dur_ns: u64, id: u8, attrs: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![id; 16].into(),
        span_id: vec![id; 8].into(),
        name: name.into(),
        kind,
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + dur_ns,
        status: Some(Status {
            code: status,
            ..Default::default()
        }),
        attributes: attrs,
        ..Default::default()
    }
}

fn req(resources: Vec<(Vec<KeyValue>, Vec<Span>)>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: resources
            .into_iter()
            .map(|(attrs, spans)| ResourceSpans {
                resource: Some(Resource {
                    attributes: attrs,
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

fn svc(name: &str) -> Vec<KeyValue> {
    vec![kv_str("service.name", name)]
}

fn aggregator(yaml: &str) -> Aggregator {
    let c: SpanMetricsConfig = config(yaml);
    c.validate().unwrap();
    Aggregator::new(c, T0 - 1000)
}

fn metric<'a>(out: &'a ExportMetricsServiceRequest, name: &str) -> Vec<&'a Metric> {
    out.resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .filter(|m| m.name == name)
        .collect()
}

fn attrs_map(kvs: &[KeyValue]) -> Vec<(String, String)> {
    kvs.iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.clone()) {
                Some(any_value::Value::StringValue(s)) => s,
                Some(any_value::Value::BoolValue(b)) => b.to_string(),
                Some(any_value::Value::IntValue(i)) => i.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), v)
        })
        .collect()
}

fn a(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// (attributes, value) of every point of a sum.
fn sum_points(m: &Metric) -> Vec<(Vec<(String, String)>, i64)> {
    let Some(Data::Sum(s)) = &m.data else {
        panic!("{} is not a sum", m.name)
    };
    assert!(s.is_monotonic);
    let mut v: Vec<_> = s
        .data_points
        .iter()
        .map(|p| {
            let Some(number_data_point::Value::AsInt(n)) = p.value else {
                panic!("not an int")
            };
            (attrs_map(&p.attributes), n)
        })
        .collect();
    v.sort();
    v
}

fn base_attrs(service: &str, name: &str, kind: &str, status: &str) -> Vec<(String, String)> {
    a(&[
        ("service.name", service),
        ("span.name", name),
        ("span.kind", kind),
        ("status.code", status),
    ])
}

#[test]
fn calls_and_default_explicit_buckets() {
    let mut agg = aggregator("{}");
    let server = span::SpanKind::Server as i32;
    agg.add(
        &req(vec![(
            svc("shop"),
            vec![
                sp("GET /", server, 0, MS, 1, vec![]),
                sp("GET /", server, 0, 2 * MS, 2, vec![]), // on a bound: that bucket
                sp("GET /", server, 0, 3 * MS, 3, vec![]),
                sp("GET /", server, 0, 50 * MS, 4, vec![]),
                sp("GET /", server, 0, 20_000 * MS, 5, vec![]), // past 15s: last bucket
                sp("GET /", server, 2, 7 * MS, 6, vec![]),
            ],
        )]),
        T0,
    );
    let out = agg.flush(T0 + 5).unwrap();
    assert_eq!(out.resource_metrics.len(), 1);
    let rm = &out.resource_metrics[0];
    assert_eq!(
        attrs_map(&rm.resource.as_ref().unwrap().attributes),
        a(&[("service.name", "shop")])
    );
    assert_eq!(
        rm.scope_metrics[0].scope.as_ref().unwrap().name,
        "spanmetricsconnector"
    );
    let calls = metric(&out, "traces.span.metrics.calls");
    assert_eq!(calls.len(), 1);
    assert_eq!(
        sum_points(calls[0]),
        vec![
            (
                base_attrs("shop", "GET /", "SPAN_KIND_SERVER", "STATUS_CODE_ERROR"),
                1
            ),
            (
                base_attrs("shop", "GET /", "SPAN_KIND_SERVER", "STATUS_CODE_UNSET"),
                5
            ),
        ]
    );
    let Some(Data::Sum(s)) = &calls[0].data else {
        unreachable!()
    };
    assert_eq!(s.aggregation_temporality, 2, "cumulative by default");
    assert_eq!(s.data_points[0].start_time_unix_nano, T0);
    assert_eq!(s.data_points[0].time_unix_nano, T0 + 5);

    let dur = metric(&out, "traces.span.metrics.duration");
    assert_eq!(dur[0].unit, "ms");
    let Some(Data::Histogram(h)) = &dur[0].data else {
        panic!("explicit histogram")
    };
    let unset = h
        .data_points
        .iter()
        .find(|p| {
            attrs_map(&p.attributes).contains(&("status.code".into(), "STATUS_CODE_UNSET".into()))
        })
        .unwrap();
    assert_eq!(
        unset.explicit_bounds,
        vec![
            2., 4., 6., 8., 10., 50., 100., 200., 400., 800., 1000., 1400., 2000., 5000., 10000.,
            15000.
        ]
    );
    //                          2  4  6  8 10 50 100 ... 15000 +inf
    assert_eq!(
        unset.bucket_counts,
        vec![2, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    );
    assert_eq!(unset.count, 5);
    assert_eq!(unset.sum, Some(1. + 2. + 3. + 50. + 20_000.));
    assert!(unset.exemplars.is_empty(), "exemplars are off by default");
    assert!(metric(&out, "traces.span.metrics.events").is_empty());
}

#[test]
fn cumulative_accumulates_and_delta_resets() {
    let spans = || req(vec![(svc("a"), vec![sp("x", 1, 0, MS, 1, vec![])])]);
    let mut cum = aggregator("{}");
    cum.add(&spans(), T0);
    cum.flush(T0 + 1).unwrap();
    cum.add(&spans(), T0 + 2);
    let out = cum.flush(T0 + 3).unwrap();
    let pts = sum_points(metric(&out, "traces.span.metrics.calls")[0]);
    assert_eq!(pts[0].1, 2);
    // Series still exported without new spans.
    assert!(cum.flush(T0 + 4).is_some());

    let mut delta = aggregator("aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA");
    delta.add(&spans(), T0);
    delta.flush(T0 + 1).unwrap();
    delta.add(&spans(), T0 + 2);
    delta.add(&spans(), T0 + 2);
    let out = delta.flush(T0 + 3).unwrap();
    let m = metric(&out, "traces.span.metrics.calls")[0];
    assert_eq!(sum_points(m)[0].1, 2);
    let Some(Data::Sum(s)) = &m.data else {
        unreachable!()
    };
    assert_eq!(s.aggregation_temporality, 1);
    assert_eq!(
        s.data_points[0].start_time_unix_nano,
        T0 + 1,
        "starts at the previous flush"
    );
    assert!(delta.flush(T0 + 4).is_none(), "nothing new, nothing sent");
}

#[test]
fn exemplars_carry_trace_and_span_ids_up_to_the_limit() {
    let mut agg = aggregator("exemplars: {enabled: true, max_per_data_point: 2}");
    agg.add(
        &req(vec![(
            svc("a"),
            vec![
                sp("x", 2, 0, 3 * MS, 7, vec![]),
                sp("x", 2, 0, 5 * MS, 8, vec![]),
                sp("x", 2, 0, 9 * MS, 9, vec![]),
            ],
        )]),
        T0,
    );
    let out = agg.flush(T0 + 1).unwrap();
    let Some(Data::Histogram(h)) = &metric(&out, "traces.span.metrics.duration")[0].data else {
        unreachable!()
    };
    let ex = &h.data_points[0].exemplars;
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[0].trace_id.as_ref(), &[7u8; 16]);
    assert_eq!(ex[0].span_id.as_ref(), &[7u8; 8]);
    assert_eq!(ex[0].time_unix_nano, T0 + 3 * MS);
    assert_eq!(ex[0].value, Some(exemplar::Value::AsDouble(3.0)));
    assert_eq!(ex[1].trace_id.as_ref(), &[8u8; 16]);
    let Some(Data::Sum(s)) = &metric(&out, "traces.span.metrics.calls")[0].data else {
        unreachable!()
    };
    assert_eq!(s.data_points[0].exemplars.len(), 2);
    // Exemplars belong to one interval.
    let out = agg.flush(T0 + 2).unwrap();
    let Some(Data::Histogram(h)) = &metric(&out, "traces.span.metrics.duration")[0].data else {
        unreachable!()
    };
    assert!(h.data_points[0].exemplars.is_empty());
}

#[test]
fn dimensions_from_span_then_resource_with_defaults() {
    let yaml = r#"
namespace: ""
dimensions:
  - name: http.method
    default: GET
  - name: region
  - name: missing
exclude_dimensions: [span.kind]
calls_dimensions: [{name: peer, default: none}]
histogram: {dimensions: [{name: h.only, default: yes}]}
"#;
    let mut agg = aggregator(yaml);
    let mut res = svc("a");
    res.push(kv_str("region", "eu"));
    agg.add(
        &req(vec![(
            res,
            vec![
                sp("x", 2, 0, MS, 1, vec![kv_str("http.method", "POST")]),
                sp("x", 2, 0, MS, 2, vec![kv_str("region", "us")]),
            ],
        )]),
        T0,
    );
    let out = agg.flush(T0 + 1).unwrap();
    let with = |m: &str, r: &str, extra: (&str, &str)| {
        a(&[
            ("service.name", "a"),
            ("span.name", "x"),
            ("status.code", "STATUS_CODE_UNSET"),
            ("http.method", m),
            ("region", r),
            extra,
        ])
    };
    assert_eq!(
        sum_points(metric(&out, "calls")[0]),
        vec![
            (with("GET", "us", ("peer", "none")), 1),
            (with("POST", "eu", ("peer", "none")), 1),
        ]
    );
    let Some(Data::Histogram(h)) = &metric(&out, "duration")[0].data else {
        unreachable!()
    };
    let mut got: Vec<_> = h
        .data_points
        .iter()
        .map(|p| attrs_map(&p.attributes))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            with("GET", "us", ("h.only", "yes")),
            with("POST", "eu", ("h.only", "yes"))
        ]
    );
}

#[test]
fn seconds_and_configured_buckets() {
    let mut agg = aggregator("histogram: {unit: s, explicit: {buckets: [100ms, 1s, 2s]}}");
    agg.add(
        &req(vec![(
            svc("a"),
            vec![
                sp("x", 1, 0, 50 * MS, 1, vec![]),
                sp("x", 1, 0, 100 * MS, 2, vec![]),
                sp("x", 1, 0, 1500 * MS, 3, vec![]),
                sp("x", 1, 0, 3000 * MS, 4, vec![]),
            ],
        )]),
        T0,
    );
    let out = agg.flush(T0 + 1).unwrap();
    let m = metric(&out, "traces.span.metrics.duration")[0];
    assert_eq!(m.unit, "s");
    let Some(Data::Histogram(h)) = &m.data else {
        unreachable!()
    };
    assert_eq!(h.data_points[0].explicit_bounds, vec![0.1, 1.0, 2.0]);
    assert_eq!(h.data_points[0].bucket_counts, vec![2, 0, 1, 1]);
    assert!((h.data_points[0].sum.unwrap() - 4.65).abs() < 1e-9);
}

#[test]
fn exponential_histogram() {
    let mut agg = aggregator("histogram: {exponential: {max_size: 4}}");
    let spans = [1u64, 2, 4, 8, 16]
        .iter()
        .enumerate()
        .map(|(i, ms)| sp("x", 1, 0, ms * MS, i as u8 + 1, vec![]))
        .collect();
    agg.add(&req(vec![(svc("a"), spans)]), T0);
    let out = agg.flush(T0 + 1).unwrap();
    let Some(Data::ExponentialHistogram(h)) = &metric(&out, "traces.span.metrics.duration")[0].data
    else {
        panic!("exponential")
    };
    let p = &h.data_points[0];
    // 1,2,4,8,16 ms need 5 buckets at scale 0, so scale -1 (base 4): (1/4,1] (1,4] (4,16].
    assert_eq!(p.scale, -1);
    let pos = p.positive.as_ref().unwrap();
    assert_eq!((pos.offset, pos.bucket_counts.clone()), (-1, vec![1, 2, 2]));
    assert_eq!(
        (p.count, p.sum, p.min, p.max),
        (5, Some(31.0), Some(1.0), Some(16.0))
    );
}

#[test]
fn cardinality_limit_overflows_into_one_series() {
    let mut agg = aggregator("aggregation_cardinality_limit: 2");
    let spans = ["a", "b", "c", "d", "a"]
        .iter()
        .enumerate()
        .map(|(i, n)| sp(n, 1, 0, MS, i as u8 + 1, vec![]))
        .collect();
    agg.add(&req(vec![(svc("s"), spans)]), T0);
    let out = agg.flush(T0 + 1).unwrap();
    assert_eq!(
        sum_points(metric(&out, "traces.span.metrics.calls")[0]),
        vec![
            (a(&[("otel.metric.overflow", "true")]), 2),
            (
                base_attrs("s", "a", "SPAN_KIND_INTERNAL", "STATUS_CODE_UNSET"),
                2
            ),
            (
                base_attrs("s", "b", "SPAN_KIND_INTERNAL", "STATUS_CODE_UNSET"),
                1
            ),
        ]
    );
}

#[test]
fn resource_key_attributes_and_spans_without_service() {
    let mut agg = aggregator("resource_metrics_key_attributes: [service.name]");
    let mut r1 = svc("a");
    r1.push(kv_str("host.name", "h1"));
    let mut r2 = svc("a");
    r2.push(kv_str("host.name", "h2"));
    agg.add(
        &req(vec![
            (r1, vec![sp("x", 1, 0, MS, 1, vec![])]),
            (r2, vec![sp("x", 1, 0, MS, 2, vec![])]),
            (
                vec![kv_str("host.name", "h3")],
                vec![sp("x", 1, 0, MS, 3, vec![])],
            ),
        ]),
        T0,
    );
    let out = agg.flush(T0 + 1).unwrap();
    assert_eq!(
        out.resource_metrics.len(),
        1,
        "one resource by service.name"
    );
    // The resource keeps the attributes of the first span seen.
    assert_eq!(
        attrs_map(
            &out.resource_metrics[0]
                .resource
                .as_ref()
                .unwrap()
                .attributes
        ),
        a(&[("service.name", "a"), ("host.name", "h1")])
    );
    assert_eq!(
        sum_points(metric(&out, "traces.span.metrics.calls")[0])[0].1,
        2
    );
}

#[test]
fn events_metric() {
    let mut agg = aggregator("events: {enabled: true, dimensions: [{name: exception.type}]}");
    let mut s = sp("x", 1, 2, MS, 1, vec![]);
    let ev = |t: &str| span::Event {
        name: "exception".into(),
        attributes: vec![kv_str("exception.type", t)],
        ..Default::default()
    };
    s.events = vec![ev("E1"), ev("E1"), ev("E2")];
    agg.add(&req(vec![(svc("a"), vec![s])]), T0);
    let out = agg.flush(T0 + 1).unwrap();
    let mut e1 = base_attrs("a", "x", "SPAN_KIND_INTERNAL", "STATUS_CODE_ERROR");
    let mut e2 = e1.clone();
    e1.push(("exception.type".into(), "E1".into()));
    e2.push(("exception.type".into(), "E2".into()));
    assert_eq!(
        sum_points(metric(&out, "traces.span.metrics.events")[0]),
        vec![(e1, 2), (e2, 1)]
    );
}

#[test]
fn resource_cache_evicts_least_recently_used() {
    let mut agg = aggregator("resource_metrics_cache_size: 2");
    for (i, s) in ["a", "b", "a", "c"].iter().enumerate() {
        agg.add(
            &req(vec![(svc(s), vec![sp("x", 1, 0, MS, i as u8 + 1, vec![])])]),
            T0,
        );
    }
    let out = agg.flush(T0 + 1).unwrap();
    let mut services: Vec<_> = out
        .resource_metrics
        .iter()
        .map(|r| {
            attrs_map(&r.resource.as_ref().unwrap().attributes)[0]
                .1
                .clone()
        })
        .collect();
    services.sort();
    assert_eq!(services, vec!["a", "c"], "b was least recently used");
}

#[test]
fn metrics_expire() {
    let mut agg = aggregator("metrics_expiration: 10s");
    agg.add(
        &req(vec![(svc("a"), vec![sp("x", 1, 0, MS, 1, vec![])])]),
        T0,
    );
    assert!(agg.flush(T0 + 1_000 * MS).is_some());
    assert!(agg.flush(T0 + 11_000 * MS).is_none());
    assert_eq!(agg.series_count(), 0);
}

#[test]
fn config_errors_name_the_field() {
    let e = config_error::<SpanMetricsConfig>("dimensions: [{name: span.kind}]");
    assert_eq!(e, "dimensions[0]::name: duplicate dimension name span.kind");
    let e = config_error::<SpanMetricsConfig>("histogram: {explicit: {}, exponential: {}}");
    assert_eq!(
        e,
        "histogram: use either `explicit` or `exponential` buckets histogram"
    );
    let e = config_error::<SpanMetricsConfig>("events: {enabled: true}");
    assert_eq!(e, "events::dimensions: no dimensions configured for events");
    let e = config_error::<SpanMetricsConfig>("aggregation_cardinality_limit: -1");
    assert!(
        e.starts_with("aggregation_cardinality_limit: invalid aggregation_cardinality_limit: -1"),
        "{e}"
    );
    let e = config_error::<SpanMetricsConfig>("aggregation_temporality: DELTA");
    assert!(
        e.starts_with("aggregation_temporality: unknown aggregation temporality \"DELTA\""),
        "{e}"
    );
    let e = config_error::<SpanMetricsConfig>("histogram: {unit: min}");
    assert!(e.contains("unknown unit \"min\""), "{e}");
    let e = config_error::<SpanMetricsConfig>("histogram: {explicit: {buckets: [2ms, 1ms]}}");
    assert_eq!(
        e,
        "histogram::explicit::buckets: buckets must be in increasing order"
    );
    let e = config_error::<SpanMetricsConfig>("exclude_dimensions: [foo]");
    assert!(
        e.starts_with("exclude_dimensions[0]: \"foo\" is not a default dimension"),
        "{e}"
    );
    let e = config_error::<SpanMetricsConfig>("metrics_flush_interval: 0s");
    assert!(
        e.starts_with("metrics_flush_interval: invalid metrics_flush_interval"),
        "{e}"
    );
    let e = config_error::<SpanMetricsConfig>("unknown_key: 1");
    assert!(e.contains("unknown_key"), "{e}");
    let c = SpanMetricsConfig::default();
    assert_eq!(c.metrics_flush_interval, std::time::Duration::from_secs(60));
    assert_eq!(c.namespace, "traces.span.metrics");
}

#[tokio::test]
async fn the_timer_flushes_and_shutdown_flushes_the_rest() {
    let rec = Recorder::new();
    let c: SpanMetricsConfig = config("metrics_flush_interval: 50ms");
    let conn = SpanMetrics::new(&ctx("spanmetrics", Kind::Connector), c, rec.clone());
    conn.start().await.unwrap();
    let payload = |id| {
        let r = req(vec![(svc("a"), vec![sp("x", 1, 0, MS, id, vec![])])]);
        Payload::from_proto(Signal::Traces, Request::Traces(r).encode_proto()).unwrap()
    };
    conn.consume(payload(1), Context::default()).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while rec.got.lock().unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no flush within 5s");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    conn.shutdown().await.unwrap();
    conn.shutdown().await.unwrap();
    let got = rec.got.lock().unwrap();
    let Request::Metrics(last) = got.last().unwrap().to_request().unwrap() else {
        panic!("metrics")
    };
    assert_eq!(
        sum_points(metric(&last, "traces.span.metrics.calls")[0])[0].1,
        1
    );
}

/// `include_instrumentation_scope`: spans of a listed scope get its name (and version, when
/// set) as dimensions; spans of other scopes, with the same name, kind and status, stay in the
/// series without them. Counts and buckets worked out by hand.
#[test]
fn include_instrumentation_scope_adds_scope_dimensions() {
    use ferrotel_pdata::proto::common::v1::InstrumentationScope;
    let mut agg = aggregator("include_instrumentation_scope: [io.http, io.grpc]");
    let scope = |name: &str, version: &str, spans| ScopeSpans {
        scope: Some(InstrumentationScope {
            name: name.into(),
            version: version.into(),
            ..Default::default()
        }),
        spans,
        ..Default::default()
    };
    let mut r = req(vec![(svc("shop"), vec![])]);
    r.resource_spans[0].scope_spans = vec![
        scope(
            "io.http",
            "1.2.0",
            vec![
                sp("GET", 2, 0, MS, 1, vec![]),
                sp("GET", 2, 0, 3 * MS, 2, vec![]),
            ],
        ),
        scope("lib.db", "0.1", vec![sp("GET", 2, 0, 5 * MS, 3, vec![])]),
        scope("io.grpc", "", vec![sp("GET", 2, 0, 7 * MS, 4, vec![])]),
    ];
    agg.add(&r, T0);
    let out = agg.flush(T0 + 1).unwrap();
    let base = base_attrs("shop", "GET", "SPAN_KIND_SERVER", "STATUS_CODE_UNSET");
    let with = |extra: &[(&str, &str)]| {
        let mut v = base.clone();
        v.extend(a(extra));
        v
    };
    let http = with(&[
        ("span.instrumentation.scope.name", "io.http"),
        ("span.instrumentation.scope.version", "1.2.0"),
    ]);
    let grpc = with(&[("span.instrumentation.scope.name", "io.grpc")]);
    let mut want = vec![(base.clone(), 1), (http.clone(), 2), (grpc.clone(), 1)];
    want.sort();
    assert_eq!(
        sum_points(metric(&out, "traces.span.metrics.calls")[0]),
        want
    );
    let Some(Data::Histogram(h)) = &metric(&out, "traces.span.metrics.duration")[0].data else {
        panic!("explicit histogram")
    };
    let point = |attrs: &Vec<(String, String)>| {
        let p = h
            .data_points
            .iter()
            .find(|p| attrs_map(&p.attributes) == *attrs)
            .unwrap();
        (p.count, p.sum, p.bucket_counts[..5].to_vec())
    };
    //                                    ≤2 ≤4 ≤6 ≤8 ≤10 (ms)
    assert_eq!(point(&http), (2, Some(4.0), vec![1, 1, 0, 0, 0]));
    assert_eq!(point(&base), (1, Some(5.0), vec![0, 0, 1, 0, 0]));
    assert_eq!(point(&grpc), (1, Some(7.0), vec![0, 0, 0, 1, 0]));
}
