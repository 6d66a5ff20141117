//! One test per policy from the Go README's examples, composite rate allocation, decision
//! precedence, late spans (in memory and through the decision caches), `num_traces` eviction,
//! decision timing on tokio's paused clock, shutdown, own metrics, and config errors with paths.

use std::collections::BTreeSet;
use std::time::Duration;

use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::KeyValue;
use ferrotel_pdata::proto::common::v1::any_value::Value;
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::span::Event;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::*;

use super::config::TailSamplingConfig;
use super::policy::{hash_trace_id, probability_threshold};
use super::*;
use crate::testing::{Recorder, config, config_error, ctx, kv, kv_str};

fn testdata(name: &str) -> String {
    let path = format!(
        "{}/src/processors/tail_sampling/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub(super) fn tid(i: u8) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[0] = 0xab;
    id[15] = i;
    id
}

/// A span of trace `trace` lasting `ms` milliseconds.
pub(super) fn span(trace: [u8; 16], n: u8, ms: u64) -> Span {
    Span {
        trace_id: trace.to_vec().into(),
        span_id: vec![n + 1; 8].into(),
        name: format!("s{n}"),
        start_time_unix_nano: 100_000_000_000,
        end_time_unix_nano: 100_000_000_000 + ms * 1_000_000,
        ..Default::default()
    }
}

pub(super) fn payload(resource: Vec<KeyValue>, spans: Vec<Span>) -> Payload {
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Payload::from_proto(Signal::Traces, Request::Traces(req).encode_proto()).unwrap()
}

pub(super) struct Harness {
    pub(super) p: Arc<dyn Processor>,
    pub(super) rec: Arc<Recorder>,
    pub(super) tel: Telemetry,
    wait: Duration,
}

impl Harness {
    pub(super) async fn new(yaml: &str) -> Harness {
        Self::named("tail_sampling", yaml).await
    }

    /// A processor with component id `id` (`tail_sampling/<name>`).
    pub(super) async fn named(id: &str, yaml: &str) -> Harness {
        let cfg: TailSamplingConfig = config(yaml);
        cfg.validate().unwrap();
        let wait = cfg.decision_wait;
        let c = ctx(id, Kind::Processor);
        let tel = c.telemetry.clone();
        let rec = Recorder::new();
        let p = TailSamplingFactory
            .create(c, cfg, Signal::Traces, rec.clone())
            .unwrap();
        p.start().await.unwrap();
        Harness { p, rec, tel, wait }
    }

    pub(super) async fn send(&self, spans: Vec<Span>) {
        self.send_with(Vec::new(), spans).await
    }

    pub(super) async fn send_with(&self, resource: Vec<KeyValue>, spans: Vec<Span>) {
        self.p
            .consume(payload(resource, spans), Context::default())
            .await
            .unwrap();
    }

    /// Lets the decision wait pass (tokio's paused clock jumps).
    pub(super) async fn pass_wait(&self) {
        tokio::time::sleep(self.wait + Duration::from_millis(10)).await;
    }

    /// Trace ids of every span passed on, and the span count.
    pub(super) fn sampled(&self) -> (BTreeSet<[u8; 16]>, usize) {
        let mut ids = BTreeSet::new();
        let mut n = 0;
        for p in self.rec.got.lock().unwrap().iter() {
            assert!(p.is_encoded(), "sampled traces go on as encoded bytes");
            let Request::Traces(r) = p.to_request().unwrap() else {
                panic!("not traces")
            };
            for rs in r.resource_spans {
                for ss in rs.scope_spans {
                    for s in ss.spans {
                        ids.insert(<[u8; 16]>::try_from(&s.trace_id[..]).unwrap());
                        n += 1;
                    }
                }
            }
        }
        (ids, n)
    }

    pub(super) fn sampled_ids(&self) -> BTreeSet<[u8; 16]> {
        self.sampled().0
    }

    pub(super) fn metric(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.tel.sum(name, labels)
    }
}

pub(super) fn ids(list: &[u8]) -> BTreeSet<[u8; 16]> {
    list.iter().map(|i| tid(*i)).collect()
}

/// Runs one policy (YAML of a `policies` entry) on traces (each one request) and returns which
/// were sampled.
async fn run_policy(policy: &str, traces: Vec<(Vec<KeyValue>, Vec<Span>)>) -> BTreeSet<[u8; 16]> {
    let h = Harness::new(&format!("decision_wait: 1s\npolicies: [{policy}]")).await;
    for (res, spans) in traces {
        h.send_with(res, spans).await;
    }
    h.pass_wait().await;
    let got = h.sampled_ids();
    h.p.shutdown().await.unwrap();
    got
}

#[tokio::test(start_paused = true)]
async fn always_sample() {
    let got = run_policy(
        "{name: test-policy-1, type: always_sample}",
        vec![(vec![], vec![span(tid(1), 0, 5)])],
    )
    .await;
    assert_eq!(got, ids(&[1]));
}

#[tokio::test(start_paused = true)]
async fn latency_with_upper_bound() {
    // Trace duration = latest end − earliest start over its spans.
    let mut long = span(tid(2), 0, 1000);
    long.start_time_unix_nano -= 5_000_000_000; // 6 s in all with the second span
    let traces = vec![
        (vec![], vec![span(tid(1), 0, 2000)]),
        (vec![], vec![long, span(tid(2), 1, 100)]),
        (vec![], vec![span(tid(3), 0, 10_001)]),
        (vec![], vec![span(tid(4), 0, 10_000)]),
    ];
    let got = run_policy(
        "{name: test-policy-2, type: latency, latency: {threshold_ms: 5000, upper_threshold_ms: 10000}}",
        traces.clone(),
    )
    .await;
    assert_eq!(got, ids(&[2, 4]));
    // Without an upper bound, anything at or above the threshold.
    let got = run_policy(
        "{name: slow, type: latency, latency: {threshold_ms: 5000}}",
        traces,
    )
    .await;
    assert_eq!(got, ids(&[2, 3, 4]));
}

#[tokio::test(start_paused = true)]
async fn numeric_attribute_span_and_resource() {
    let with = |t: u8, v: i64| {
        let mut s = span(tid(t), 0, 1);
        s.attributes.push(kv("key1", Value::IntValue(v)));
        (vec![], vec![s])
    };
    let traces = vec![
        with(1, 50),
        with(2, 100),
        with(3, 101),
        with(4, 49),
        // On the resource, as an int.
        (
            vec![kv("key1", Value::IntValue(70))],
            vec![span(tid(5), 0, 1)],
        ),
        // A string is not a number.
        (vec![kv_str("key1", "70")], vec![span(tid(6), 0, 1)]),
    ];
    let got = run_policy(
        "{name: test-policy-3, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50, max_value: 100}}",
        traces.clone(),
    )
    .await;
    assert_eq!(got, ids(&[1, 2, 5]));
    // invert_match: traces without a matching value are sampled.
    let got = run_policy(
        "{name: inv, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50, max_value: 100, invert_match: true}}",
        traces,
    )
    .await;
    assert_eq!(got, ids(&[3, 4, 6]));
}

/// The Go hash: FNV-1a 64 of salt ‖ trace id against ratio × MaxUint64 (big.Float). The
/// expected values come from an independent Python re-implementation (exact fractions).
#[test]
fn probabilistic_hash_and_threshold_as_go() {
    assert_eq!(hash_trace_id(b"a", b""), 0xaf63dc4c8601ec8c);
    assert_eq!(probability_threshold(0.1), 1844674407370955263);
    assert_eq!(probability_threshold(0.001), 18446744073709551);
    assert_eq!(probability_threshold(0.5), 9223372036854775807);
    assert_eq!(probability_threshold(0.01), 184467440737095519);
    assert_eq!(probability_threshold(0.333), 6142765776545281023);
    assert_eq!(probability_threshold(1e-5), 184467440737095);
    assert_eq!(probability_threshold(1.0), u64::MAX);
    assert_eq!(probability_threshold(1.5), u64::MAX);
    assert_eq!(probability_threshold(0.0), 0);
}

fn py_id(i: u8) -> [u8; 16] {
    std::array::from_fn(|j| ((i as usize * 37 + j * 11) % 256) as u8)
}

#[tokio::test(start_paused = true)]
async fn probabilistic_matches_go_decisions() {
    let traces: Vec<_> = (0..40u8)
        .map(|i| {
            let mut s = span(tid(0), 0, 1);
            s.trace_id = py_id(i).to_vec().into();
            (vec![], vec![s])
        })
        .collect();
    let expect = |list: &[u8]| -> BTreeSet<[u8; 16]> { list.iter().map(|i| py_id(*i)).collect() };
    let got = run_policy(
        "{name: test-policy-4, type: probabilistic, probabilistic: {sampling_percentage: 10}}",
        traces.clone(),
    )
    .await;
    assert_eq!(got, expect(&[2, 3, 8, 19, 34]));
    let got = run_policy(
        "{name: p, type: probabilistic, probabilistic: {hash_salt: my-salt, sampling_percentage: 50}}",
        traces,
    )
    .await;
    assert_eq!(
        got,
        expect(&[
            0, 1, 2, 4, 5, 7, 9, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 23, 25, 26, 30, 31, 32, 37
        ])
    );
}

#[tokio::test(start_paused = true)]
async fn status_code() {
    let with = |t: u8, code: Option<status::StatusCode>| {
        let mut s = span(tid(t), 0, 1);
        s.status = code.map(|c| Status {
            code: c as i32,
            ..Default::default()
        });
        (vec![], vec![span(tid(t), 1, 1), s])
    };
    let got = run_policy(
        "{name: test-policy-5, type: status_code, status_code: {status_codes: [ERROR, UNSET]}}",
        vec![
            with(1, Some(status::StatusCode::Error)),
            with(2, None),
            with(3, Some(status::StatusCode::Ok)),
        ],
    )
    .await;
    // Trace 3 has an OK span and an UNSET one (no status): sampled by UNSET.
    assert_eq!(got, ids(&[1, 2, 3]));
    let got = run_policy(
        "{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}",
        vec![
            with(1, Some(status::StatusCode::Error)),
            with(2, None),
            with(3, Some(status::StatusCode::Ok)),
        ],
    )
    .await;
    assert_eq!(got, ids(&[1]));
}

fn string_traces() -> Vec<(Vec<KeyValue>, Vec<Span>)> {
    let with = |t: u8, v: &str| {
        let mut s = span(tid(t), 0, 1);
        s.attributes.push(kv_str("key2", v));
        (vec![], vec![s])
    };
    vec![
        with(1, "value1"),
        with(2, "value2"),
        with(3, "valx"),
        with(4, "other"),
        (vec![kv_str("key2", "value2")], vec![span(tid(5), 0, 1)]),
        (vec![], vec![span(tid(6), 0, 1)]),
    ]
}

#[tokio::test(start_paused = true)]
async fn string_attribute_exact() {
    let got = run_policy(
        "{name: test-policy-6, type: string_attribute, string_attribute: {key: key2, values: [value1, value2]}}",
        string_traces(),
    )
    .await;
    assert_eq!(got, ids(&[1, 2, 5]));
}

#[tokio::test(start_paused = true)]
async fn string_attribute_regex_and_invert() {
    let got = run_policy(
        "{name: test-policy-7, type: string_attribute, string_attribute: {key: key2, values: [value1, val*], enabled_regex_matching: true, cache_max_size: 10}}",
        string_traces(),
    )
    .await;
    // `val*` is unanchored (Go's MatchString): "valx", "value2" match; "other" does not.
    assert_eq!(got, ids(&[1, 2, 3, 5]));
    let got = run_policy(
        "{name: inv, type: string_attribute, string_attribute: {key: key2, values: [value1, value2], invert_match: true}}",
        string_traces(),
    )
    .await;
    // Sampled: traces without a listed value, including those without the key.
    assert_eq!(got, ids(&[3, 4, 6]));
}

/// Go's token bucket (`golang.org/x/time/rate`): spans_per_second refill, burst_capacity
/// (default twice the rate) spans at most.
#[tokio::test(start_paused = true)]
async fn rate_limiting_token_bucket() {
    let h =
        Harness::new("decision_wait: 1s\npolicies: [{name: test-policy-8, type: rate_limiting, rate_limiting: {spans_per_second: 35, burst_capacity: 35}}]")
            .await;
    let trace = |t: u8, n: u8| (0..n).map(|i| span(tid(t), i, 1)).collect::<Vec<_>>();
    // Decided at the same instant: 20 fit, 20 more would need 40 > 35, 15 more make 35.
    h.send(trace(1, 20)).await;
    h.send(trace(2, 20)).await;
    h.send(trace(3, 15)).await;
    h.pass_wait().await;
    assert_eq!(h.sampled_ids(), ids(&[1, 3]));
    // A second later the bucket holds 35 again (not more: the burst).
    tokio::time::sleep(Duration::from_secs(1)).await;
    h.send(trace(4, 30)).await;
    h.send(trace(5, 6)).await;
    h.pass_wait().await;
    assert_eq!(h.sampled_ids(), ids(&[1, 3, 4]));
    h.p.shutdown().await.unwrap();

    // Without burst_capacity the bucket holds twice the rate.
    let h =
        Harness::new("decision_wait: 1s\npolicies: [{name: r, type: rate_limiting, rate_limiting: {spans_per_second: 35}}]")
            .await;
    h.send(trace(1, 70)).await;
    h.send(trace(2, 1)).await;
    h.pass_wait().await;
    assert_eq!(h.sampled_ids(), ids(&[1]));
    h.p.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn bytes_limiting_token_bucket() {
    // A trace here is ≈ 60 bytes encoded: a burst of 150 takes two, then 100 bytes/s refill.
    let h = Harness::new(
        "decision_wait: 1s\npolicies: [{name: test-policy-9, type: bytes_limiting, bytes_limiting: {bytes_per_second: 100, burst_capacity: 150}}]",
    )
    .await;
    let size = payload(vec![], vec![span(tid(1), 0, 1)]).to_proto().len();
    assert!((40..75).contains(&size), "{size}");
    for t in 1..=3 {
        h.send(vec![span(tid(t), 0, 1)]).await;
    }
    h.pass_wait().await;
    assert_eq!(h.sampled_ids(), ids(&[1, 2]));
    tokio::time::sleep(Duration::from_secs(1)).await;
    h.send(vec![span(tid(4), 0, 1)]).await;
    h.pass_wait().await;
    assert_eq!(h.sampled_ids(), ids(&[1, 2, 4]));
    h.p.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn span_count_inclusive_range() {
    let trace = |t: u8, n: u8| (vec![], (0..n).map(|i| span(tid(t), i, 1)).collect());
    let got = run_policy(
        "{name: test-policy-10, type: span_count, span_count: {min_spans: 2, max_spans: 20}}",
        vec![trace(1, 1), trace(2, 2), trace(3, 20), trace(4, 21)],
    )
    .await;
    assert_eq!(got, ids(&[2, 3]));
}

#[tokio::test(start_paused = true)]
async fn span_count_across_requests() {
    // Spans of one trace in separate requests are counted together.
    let h = Harness::new(
        "decision_wait: 1s\npolicies: [{name: two, type: span_count, span_count: {min_spans: 2}}]",
    )
    .await;
    h.send(vec![span(tid(1), 0, 1)]).await;
    h.send(vec![span(tid(2), 0, 1)]).await;
    h.send(vec![span(tid(1), 1, 1)]).await;
    h.pass_wait().await;
    let (got, n) = h.sampled();
    assert_eq!(got, ids(&[1]));
    assert_eq!(n, 2);
    h.p.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn trace_state() {
    let with = |t: u8, ts: &str| {
        let mut s = span(tid(t), 0, 1);
        s.trace_state = ts.into();
        (vec![], vec![s])
    };
    let got = run_policy(
        "{name: test-policy-11, type: trace_state, trace_state: {key: key3, values: [value1, value2]}}",
        vec![
            with(1, "key3=value1"),
            with(2, "foo=bar, key3=value2"),
            with(3, "key3=value3"),
            with(4, "key4=value1"),
        ],
    )
    .await;
    assert_eq!(got, ids(&[1, 2]));
}

#[tokio::test(start_paused = true)]
async fn trace_flags_sampled_bit() {
    let with = |t: u8, flags: u32| {
        let mut s = span(tid(t), 0, 1);
        s.flags = flags;
        (vec![], vec![span(tid(t), 1, 1), s])
    };
    let got = run_policy(
        "{name: f, type: trace_flags}",
        vec![with(1, 0x1), with(2, 0x100), with(3, 0x101)],
    )
    .await;
    assert_eq!(got, ids(&[1, 3]));
}

#[tokio::test(start_paused = true)]
async fn boolean_attribute() {
    let with = |t: u8, b: Value| {
        let mut s = span(tid(t), 0, 1);
        s.attributes.push(kv("key4", b));
        (vec![], vec![s])
    };
    let traces = vec![
        with(1, Value::BoolValue(true)),
        with(2, Value::BoolValue(false)),
        with(3, Value::StringValue("true".into())),
        (
            vec![kv("key4", Value::BoolValue(true))],
            vec![span(tid(4), 0, 1)],
        ),
    ];
    let got = run_policy(
        "{name: test-policy-12, type: boolean_attribute, boolean_attribute: {key: key4, value: true}}",
        traces,
    )
    .await;
    assert_eq!(got, ids(&[1, 4]));
}

#[tokio::test(start_paused = true)]
async fn ottl_condition_span_and_spanevent() {
    let policy = r#"{name: test-policy-13, type: ottl_condition, ottl_condition: {error_mode: ignore, span: ['attributes["test_attr_key_1"] == "test_attr_val_1"'], spanevent: ['name == "boom"']}}"#;
    let mut by_attr = span(tid(1), 0, 1);
    by_attr
        .attributes
        .push(kv_str("test_attr_key_1", "test_attr_val_1"));
    let mut by_event = span(tid(2), 0, 1);
    by_event.events.push(Event {
        name: "boom".into(),
        ..Default::default()
    });
    let mut neither = span(tid(3), 0, 1);
    neither.events.push(Event {
        name: "fine".into(),
        ..Default::default()
    });
    let got = run_policy(
        policy,
        vec![
            (vec![], vec![by_attr]),
            (vec![], vec![span(tid(2), 1, 1), by_event]),
            (vec![], vec![neither]),
        ],
    )
    .await;
    assert_eq!(got, ids(&[1, 2]));
}

#[tokio::test(start_paused = true)]
async fn ottl_condition_error_mode_propagate_counts_an_error() {
    // Indexing into a string fails to evaluate.
    let h = Harness::new(
        r#"decision_wait: 1s
policies:
  - {name: bad, type: ottl_condition, ottl_condition: {span: ['attributes["s"]["x"] == 1']}}
  - {name: all, type: always_sample}"#,
    )
    .await;
    let mut s = span(tid(1), 0, 1);
    s.attributes.push(kv_str("s", "text"));
    h.send(vec![s]).await;
    h.pass_wait().await;
    // The error is not a vote: always_sample still samples.
    assert_eq!(h.sampled_ids(), ids(&[1]));
    let errors = h.metric(
        "otelcol_processor_tail_sampling_sampling_policy_evaluation_error",
        &[],
    );
    // As Go: an error is no vote, but an execution.
    let votes = h.metric(
        "otelcol_processor_tail_sampling_count_traces_sampled",
        &[("policy", "bad")],
    );
    let runs = h.metric(
        "otelcol_processor_tail_sampling_sampling_policy_execution_count",
        &[("policy", "bad")],
    );
    h.p.shutdown().await.unwrap();
    assert_eq!((errors, votes, runs), (1, 0, 1));
}

#[tokio::test(start_paused = true)]
async fn and_policy() {
    let with = |t: u8, n: i64, s: &str| {
        let mut sp = span(tid(t), 0, 1);
        sp.attributes.push(kv("key1", Value::IntValue(n)));
        sp.attributes.push(kv_str("key2", s));
        (vec![], vec![sp])
    };
    let got = run_policy(
        "{name: and-policy-1, type: and, and: {and_sub_policy: [{name: test-and-policy-1, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50, max_value: 100}}, {name: test-and-policy-2, type: string_attribute, string_attribute: {key: key2, values: [value1, value2]}}]}}",
        vec![with(1, 60, "value1"), with(2, 10, "value1"), with(3, 60, "nope")],
    )
    .await;
    assert_eq!(got, ids(&[1]));
}

#[tokio::test(start_paused = true)]
async fn not_policy() {
    let mut err = span(tid(1), 0, 1);
    err.status = Some(Status {
        code: status::StatusCode::Error as i32,
        ..Default::default()
    });
    let got = run_policy(
        "{name: not-errors, type: not, not: {not_sub_policy: {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}}}",
        vec![(vec![], vec![err]), (vec![], vec![span(tid(2), 0, 1)])],
    )
    .await;
    assert_eq!(got, ids(&[2]));
}

/// `drop` wins over every sampling vote (README's drop-policy-1 next to always_sample).
#[tokio::test(start_paused = true)]
async fn drop_policy_beats_sample() {
    let h = Harness::new(
        r#"decision_wait: 1s
policies:
  - {name: all, type: always_sample}
  - name: drop-policy-1
    type: drop
    drop:
      drop_sub_policy:
        - {name: test-drop-policy-1, type: string_attribute, string_attribute: {key: url.path, values: [\/health, \/metrics], enabled_regex_matching: true}}"#,
    )
    .await;
    for (t, path) in [(1, "/health"), (2, "/api/orders"), (3, "/metrics/x")] {
        let mut s = span(tid(t), 0, 1);
        s.attributes.push(kv_str("url.path", path));
        h.send(vec![s]).await;
    }
    h.pass_wait().await;
    assert_eq!(h.sampled_ids(), ids(&[2]));
    assert_eq!(
        h.metric(
            "otelcol_processor_tail_sampling_count_traces_sampled",
            &[("policy", "drop-policy-1"), ("decision", "dropped")]
        ),
        2
    );
    assert_eq!(
        h.metric(
            "otelcol_processor_tail_sampling_global_count_traces_sampled",
            &[("sampled", "true")]
        ),
        1
    );
    h.p.shutdown().await.unwrap();
}

/// Inverted decisions: an inverted "not sampled" beats a sample vote; an inverted "sampled"
/// counts only when no policy voted "not sampled".
#[tokio::test(start_paused = true)]
async fn inverted_decision_precedence() {
    let inv = "{name: not-acme, type: string_attribute, string_attribute: {key: team, values: [acme], invert_match: true}}";
    let with = |t: u8, team: &str| {
        let mut s = span(tid(t), 0, 1);
        s.attributes.push(kv_str("team", team));
        s
    };
    let h = Harness::new(&format!(
        "decision_wait: 1s\npolicies: [{inv}, {{name: all, type: always_sample}}]"
    ))
    .await;
    h.send(vec![with(1, "acme")]).await;
    h.send(vec![with(2, "other")]).await;
    h.pass_wait().await;
    assert_eq!(h.sampled_ids(), ids(&[2]));
    h.p.shutdown().await.unwrap();

    let h = Harness::new(&format!(
        "decision_wait: 1s\npolicies: [{inv}, {{name: errors, type: status_code, status_code: {{status_codes: [ERROR]}}}}]"
    ))
    .await;
    h.send(vec![with(3, "other")]).await;
    h.pass_wait().await;
    // Inverted sampled, but status_code voted not sampled.
    assert!(h.sampled_ids().is_empty());
    h.p.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn sample_on_first_match_stops_evaluating() {
    let h = Harness::new(
        "decision_wait: 1s\nsample_on_first_match: true\npolicies: [{name: all, type: always_sample}, {name: count, type: span_count, span_count: {min_spans: 1}}]",
    )
    .await;
    h.send(vec![span(tid(1), 0, 1)]).await;
    h.pass_wait().await;
    assert_eq!(h.sampled_ids(), ids(&[1]));
    let count_votes = h.metric(
        "otelcol_processor_tail_sampling_count_traces_sampled",
        &[("policy", "count")],
    );
    assert_eq!(count_votes, 0, "the second policy was not evaluated");
    h.p.shutdown().await.unwrap();
}

/// The README's composite: 1000 spans/s, 50 % to policy 1, 25 % to policy 2; policy 3 has no
/// allocation, so (as in Go) it gets none.
#[tokio::test(start_paused = true)]
async fn composite_with_rate_allocation() {
    let h = Harness::new(&format!(
        "decision_wait: 1s\npolicies: [{}]",
        r#"{name: composite-policy-1, type: composite, composite: {max_total_spans_per_second: 1000, policy_order: [test-composite-policy-1, test-composite-policy-2, test-composite-policy-3], composite_sub_policy: [{name: test-composite-policy-1, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50}}, {name: test-composite-policy-2, type: string_attribute, string_attribute: {key: key2, values: [value1, value2]}}, {name: test-composite-policy-3, type: always_sample}], rate_allocation: [{policy: test-composite-policy-1, percent: 50}, {policy: test-composite-policy-2, percent: 25}]}}"#
    ))
    .await;
    // Traces of 100 spans: policy 1 may take 500 spans a second (5 traces), policy 2 250 (2).
    let trace = |t: u8, attr: KeyValue| {
        (0..100)
            .map(|i| {
                let mut s = span(tid(t), i, 1);
                s.attributes.push(attr.clone());
                s
            })
            .collect::<Vec<_>>()
    };
    for t in 0..7 {
        h.send(trace(t, kv("key1", Value::IntValue(60)))).await;
    }
    for t in 10..14 {
        h.send(trace(t, kv_str("key2", "value1"))).await;
    }
    h.send(trace(20, kv_str("other", "x"))).await;
    h.pass_wait().await;
    assert_eq!(h.sampled_ids(), ids(&[0, 1, 2, 3, 4, 10, 11]));
    // The next second, the budgets are back.
    tokio::time::sleep(Duration::from_secs(1)).await;
    h.send(trace(30, kv("key1", Value::IntValue(99)))).await;
    h.pass_wait().await;
    assert!(h.sampled_ids().contains(&tid(30)));
    h.p.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn decision_waits_exactly_decision_wait() {
    let h = Harness::new("decision_wait: 5s\npolicies: [{name: all, type: always_sample}]").await;
    h.send(vec![span(tid(1), 0, 1)]).await;
    tokio::time::sleep(Duration::from_millis(4990)).await;
    assert!(h.sampled_ids().is_empty(), "decided before decision_wait");
    // A span of the same trace meanwhile does not restart the wait.
    h.send(vec![span(tid(1), 1, 1)]).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (got, n) = h.sampled();
    assert_eq!(got, ids(&[1]));
    assert_eq!(n, 2);
    h.p.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn late_spans_follow_the_decision_in_memory() {
    let h = Harness::new(
        "decision_wait: 1s\npolicies: [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]",
    )
    .await;
    let mut err = span(tid(1), 0, 1);
    err.status = Some(Status {
        code: status::StatusCode::Error as i32,
        ..Default::default()
    });
    h.send(vec![err]).await;
    h.send(vec![span(tid(2), 0, 1)]).await;
    h.pass_wait().await;
    assert_eq!(h.sampled(), (ids(&[1]), 1));
    // Late spans: trace 1's go on at once, trace 2's are dropped (even an error span).
    h.send(vec![span(tid(1), 5, 1)]).await;
    let mut late_err = span(tid(2), 5, 1);
    late_err.status = Some(Status {
        code: status::StatusCode::Error as i32,
        ..Default::default()
    });
    h.send(vec![late_err]).await;
    assert_eq!(h.sampled(), (ids(&[1]), 2));
    assert_eq!(
        h.metric(
            "otelcol_processor_tail_sampling_sampling_late_spans",
            &[("sampled", "true")]
        ),
        1
    );
    assert_eq!(
        h.metric(
            "otelcol_processor_tail_sampling_sampling_late_spans",
            &[("sampled", "false")]
        ),
        1
    );
    h.pass_wait().await;
    assert_eq!(h.sampled(), (ids(&[1]), 2), "late spans start no new trace");
    h.p.shutdown().await.unwrap();
}

/// After the trace left memory: the sampled cache forwards its late spans, the non-sampled
/// cache drops them.
#[tokio::test(start_paused = true)]
async fn late_spans_through_the_decision_caches() {
    let h = Harness::new(
        "decision_wait: 1s\nnum_traces: 2\ndecision_cache: {sampled_cache_size: 10, non_sampled_cache_size: 10}\npolicies: [{name: key, type: boolean_attribute, boolean_attribute: {key: keep, value: true}}]",
    )
    .await;
    let mut keep = span(tid(1), 0, 1);
    keep.attributes.push(kv("keep", Value::BoolValue(true)));
    h.send(vec![keep]).await;
    h.send(vec![span(tid(2), 0, 1)]).await;
    h.pass_wait().await;
    assert_eq!(h.sampled_ids(), ids(&[1]));
    // Two new traces push 1 and 2 out of memory (num_traces 2).
    h.send(vec![span(tid(3), 0, 1)]).await;
    h.send(vec![span(tid(4), 0, 1)]).await;
    h.send(vec![span(tid(1), 7, 1)]).await;
    h.send(vec![span(tid(2), 7, 1)]).await;
    assert_eq!(
        h.sampled(),
        (ids(&[1]), 2),
        "trace 1's late span forwarded at once"
    );
    assert_eq!(
        h.metric(
            "otelcol_processor_tail_sampling_early_releases_from_cache_decision",
            &[("sampled", "false")]
        ),
        1
    );
    h.pass_wait().await;
    // Traces 3 and 4 decided (not sampled); trace 2's late span stayed dropped.
    assert_eq!(h.sampled(), (ids(&[1]), 2));
    h.p.shutdown().await.unwrap();
}

/// Without decision caches, a late span after its trace left memory starts a new trace.
#[tokio::test(start_paused = true)]
async fn late_spans_without_cache_start_a_new_trace() {
    let h = Harness::new("decision_wait: 1s\nnum_traces: 1\npolicies: [{name: c, type: span_count, span_count: {min_spans: 1}}]").await;
    h.send(vec![span(tid(1), 0, 1)]).await;
    h.pass_wait().await;
    h.send(vec![span(tid(2), 0, 1)]).await; // pushes decided trace 1 out
    h.send(vec![span(tid(1), 1, 1)]).await; // pushes pending trace 2 out: dropped too early
    h.pass_wait().await;
    assert_eq!(h.sampled(), (ids(&[1]), 2));
    assert_eq!(
        h.metric(
            "otelcol_processor_tail_sampling_sampling_trace_dropped_too_early",
            &[]
        ),
        1
    );
    assert_eq!(
        h.metric("otelcol_processor_tail_sampling_new_trace_id_received", &[]),
        3
    );
    h.p.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn num_traces_evicts_the_oldest_pending_trace() {
    let h = Harness::new(
        "decision_wait: 10s\nnum_traces: 3\npolicies: [{name: all, type: always_sample}]",
    )
    .await;
    for t in 1..=5 {
        h.send(vec![span(tid(t), 0, 1), span(tid(t), 1, 1)]).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(
        h.metric(
            "otelcol_processor_tail_sampling_sampling_traces_on_memory",
            &[]
        ),
        3
    );
    h.pass_wait().await;
    assert_eq!(h.sampled(), (ids(&[3, 4, 5]), 6));
    assert_eq!(
        h.metric(
            "otelcol_processor_tail_sampling_sampling_trace_dropped_too_early",
            &[]
        ),
        2
    );
    assert_eq!(
        h.metric(
            "otelcol_processor_dropped_items",
            &[("processor", "tail_sampling")]
        ),
        4,
        "the evicted traces' spans are counted as dropped"
    );
    h.p.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn shutdown_decides_pending_traces_or_drops_them() {
    let h = Harness::new("policies: [{name: all, type: always_sample}]").await;
    h.send(vec![span(tid(1), 0, 1)]).await;
    h.p.shutdown().await.unwrap();
    assert_eq!(h.sampled_ids(), ids(&[1]));
    // Refused after shutdown, retryably.
    let err =
        h.p.consume(
            payload(vec![], vec![span(tid(2), 0, 1)]),
            Context::default(),
        )
        .await
        .unwrap_err();
    assert!(err.is_retryable());

    let h = Harness::new(
        "drop_pending_traces_on_shutdown: true\npolicies: [{name: all, type: always_sample}]",
    )
    .await;
    h.send(vec![span(tid(1), 0, 1)]).await;
    h.p.shutdown().await.unwrap();
    assert!(h.sampled_ids().is_empty());
}

/// Spans of several traces in one request are regrouped per trace; each sampled trace keeps
/// its resource.
#[tokio::test(start_paused = true)]
async fn mixed_request_is_split_by_trace() {
    let h = Harness::new(
        "decision_wait: 1s\npolicies: [{name: c, type: span_count, span_count: {min_spans: 2}}]",
    )
    .await;
    h.send_with(
        vec![kv_str("service.name", "svc")],
        vec![
            span(tid(1), 0, 1),
            span(tid(2), 0, 1),
            span(tid(1), 1, 1),
            span(tid(3), 0, 1),
        ],
    )
    .await;
    h.pass_wait().await;
    assert_eq!(h.sampled(), (ids(&[1]), 2));
    let got = h.rec.got.lock().unwrap()[0].to_request().unwrap();
    let Request::Traces(r) = got else { panic!() };
    assert!(r.resource_spans.iter().all(|rs| {
        rs.resource.as_ref().unwrap().attributes == vec![kv_str("service.name", "svc")]
    }));
    h.p.shutdown().await.unwrap();
}

#[test]
fn valid_config_from_the_go_readme() {
    let cfg: TailSamplingConfig = config(&testdata("valid_full.yaml"));
    cfg.validate().unwrap();
    assert_eq!(cfg.decision_wait, Duration::from_secs(10));
    assert_eq!(cfg.num_traces, 100);
    assert_eq!(cfg.decision_cache.sampled_cache_size, 100_000);
    assert_eq!(cfg.policies.len(), 18);
    for p in &cfg.policies {
        policy::Policy::new(p).unwrap();
    }
}

#[test]
fn loose_composite_is_accepted_as_go_accepts_it() {
    let cfg: TailSamplingConfig = config(&testdata("valid_composite_loose.yaml"));
    cfg.validate().unwrap();
}

#[test]
fn defaults_are_gos() {
    let cfg: TailSamplingConfig = config("policies: [{name: a, type: always_sample}]");
    assert_eq!(cfg.decision_wait, Duration::from_secs(30));
    assert_eq!(cfg.num_traces, 50_000);
    assert_eq!(cfg.expected_new_traces_per_sec, 0);
    assert_eq!(cfg.decision_cache.sampled_cache_size, 0);
    assert_eq!(cfg.decision_cache.non_sampled_cache_size, 0);
    assert!(!cfg.sample_on_first_match);
}

#[test]
fn invalid_configs_name_the_field() {
    let cases = [
        (
            "invalid_unknown_type.yaml",
            "policies[1]::type",
            "unknown sampling policy type always_sampel",
        ),
        (
            "invalid_missing_status_codes.yaml",
            "policies[0]::status_code::status_codes",
            "expected at least one status code",
        ),
        (
            "invalid_status_code.yaml",
            "policies[0]::status_code::status_codes[1]",
            "unknown status code \"FAILED\"",
        ),
        ("invalid_unknown_key.yaml", "threshold", "unknown field"),
        (
            "invalid_no_policies.yaml",
            "policies",
            "no policies configured",
        ),
        (
            "invalid_regex.yaml",
            "policies[0]::drop::drop_sub_policy[0]::string_attribute::values[0]",
            "invalid regular expression",
        ),
        (
            "invalid_nested_composite.yaml",
            "policies[0]::and::and_sub_policy[0]::type",
            "unknown sampling policy type composite",
        ),
        (
            "invalid_composite_without_subs.yaml",
            "policies[0]::composite::composite_sub_policy",
            "at least one sub-policy is required",
        ),
        (
            "invalid_missing_key.yaml",
            "policies[0]::numeric_attribute::key",
            "key is required",
        ),
        (
            "invalid_ottl.yaml",
            "policies[0]::ottl_condition::span[0]",
            "",
        ),
    ];
    for (file, path, msg) in cases {
        let err = config_error::<TailSamplingConfig>(&testdata(file));
        assert!(err.contains(path), "{file}: {err}");
        assert!(err.contains(msg), "{file}: {err}");
    }
}

/// A late span of a sampled trace goes on at once, so its sender hears of a refusal.
#[tokio::test(start_paused = true)]
async fn refused_late_span_is_an_error_for_its_sender() {
    let h = Harness::new("decision_wait: 1s\npolicies: [{name: all, type: always_sample}]").await;
    h.send(vec![span(tid(1), 0, 1)]).await;
    h.pass_wait().await;
    *h.rec.fail.lock().unwrap() = Some(ConsumeError::permanent("full"));
    let err =
        h.p.consume(
            payload(vec![], vec![span(tid(1), 1, 1)]),
            Context::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.message, "full");
    assert_eq!(
        h.metric(
            "otelcol_processor_dropped_items",
            &[("processor", "tail_sampling")]
        ),
        1
    );
    *h.rec.fail.lock().unwrap() = None;
    h.p.shutdown().await.unwrap();
}
