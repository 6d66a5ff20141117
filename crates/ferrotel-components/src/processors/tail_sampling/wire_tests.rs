//! The policies on the wire against the policies on decoded spans: the same vote for every
//! policy that reads spans (latency, status, attributes, trace state, flags, and the and/not
//! combinations over them), on generated traces with repeated keys, several resources, absent
//! and present statuses.

use bytes::Bytes;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value::Value};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use proptest::prelude::*;
use prost::Message;

use super::config::TailSamplingConfig;
use super::policy::{Clock, Policy, TraceData};
use crate::testing::config;

const POLICIES: &str = r#"
decision_wait: 1s
policies:
  - { name: l1, type: latency, latency: { threshold_ms: 5 } }
  - { name: l2, type: latency, latency: { threshold_ms: 2, upper_threshold_ms: 8 } }
  - { name: n1, type: numeric_attribute, numeric_attribute: { key: n, min_value: 1, max_value: 3 } }
  - { name: n2, type: numeric_attribute, numeric_attribute: { key: n, min_value: 2, max_value: 9, invert_match: true } }
  - { name: c1, type: status_code, status_code: { status_codes: [ERROR] } }
  - { name: c2, type: status_code, status_code: { status_codes: [OK, UNSET] } }
  - { name: s1, type: string_attribute, string_attribute: { key: s, values: [a, b] } }
  - { name: s2, type: string_attribute, string_attribute: { key: s, values: ["^x.*"], enabled_regex_matching: true } }
  - { name: s3, type: string_attribute, string_attribute: { key: s, values: [a], invert_match: true } }
  - { name: t1, type: trace_state, trace_state: { key: k, values: [v1] } }
  - { name: f1, type: trace_flags }
  - { name: b1, type: boolean_attribute, boolean_attribute: { key: b, value: true } }
  - { name: b2, type: boolean_attribute, boolean_attribute: { key: b, value: false, invert_match: true } }
  - name: a1
    type: and
    and: { and_sub_policy: [ { name: x, type: status_code, status_code: { status_codes: [ERROR] } }, { name: y, type: string_attribute, string_attribute: { key: s, values: [a] } } ] }
  - name: no1
    type: not
    not: { not_sub_policy: { name: z, type: latency, latency: { threshold_ms: 5 } } }
"#;

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec!["a", "b", "x1", "", "c"])
            .prop_map(|s| Value::StringValue(s.into())),
        (0i64..5).prop_map(Value::IntValue),
        any::<bool>().prop_map(Value::BoolValue),
        Just(Value::DoubleValue(2.0)),
    ]
}

/// Attributes over a small key set, repeated keys allowed.
fn attrs() -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::vec(
        (prop::sample::select(vec!["n", "s", "b", "o"]), value()),
        0..4,
    )
    .prop_map(|kvs| {
        kvs.into_iter()
            .map(|(k, v)| KeyValue {
                key: k.into(),
                value: Some(AnyValue { value: Some(v) }),
                ..Default::default()
            })
            .collect()
    })
}

fn span() -> impl Strategy<Value = Span> {
    (
        (0u64..10, 0u64..10),
        prop::option::of(0i32..3),
        prop::sample::select(vec!["", "k=v1", "a=b, k=v1", "k=v2"]),
        0u32..4,
        attrs(),
    )
        .prop_map(|((start, len), code, state, flags, attributes)| Span {
            trace_id: vec![7; 16].into(),
            span_id: vec![1; 8].into(),
            start_time_unix_nano: start * 1_000_000,
            end_time_unix_nano: (start + len) * 1_000_000,
            status: code.map(|code| Status {
                code,
                ..Default::default()
            }),
            trace_state: state.into(),
            flags,
            attributes,
            ..Default::default()
        })
}

fn trace() -> impl Strategy<Value = ExportTraceServiceRequest> {
    prop::collection::vec(
        (
            prop::option::of(attrs()),
            prop::collection::vec(prop::collection::vec(span(), 1..3), 1..3),
        ),
        1..3,
    )
    .prop_map(|resources| ExportTraceServiceRequest {
        resource_spans: resources
            .into_iter()
            .map(|(resource, scopes)| ResourceSpans {
                resource: resource.map(|attributes| Resource {
                    attributes,
                    ..Default::default()
                }),
                scope_spans: scopes
                    .into_iter()
                    .map(|spans| ScopeSpans {
                        spans,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
    })
}

proptest! {
    #[test]
    fn wire_and_decoded_policies_vote_alike(req in trace()) {
        let cfg: TailSamplingConfig = config(POLICIES);
        let clock = Clock { now: tokio::time::Instant::now(), second: 0 };
        let bytes = Bytes::from(req.encode_to_vec());
        let spans = req.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum::<usize>() as u64;
        for p in &cfg.policies {
            let mut on_wire = TraceData::new(bytes.clone(), spans, bytes.len() as u64, [7; 16]);
            let mut decoded = TraceData::new(bytes.clone(), spans, bytes.len() as u64, [7; 16]);
            decoded.request().unwrap();
            let wire_vote = Policy::new(p).unwrap().evaluate(&mut on_wire, clock);
            let decoded_vote = Policy::new(p).unwrap().evaluate(&mut decoded, clock);
            prop_assert_eq!(wire_vote, decoded_vote, "policy {}", p.name);
        }
    }
}
