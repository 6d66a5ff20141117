//! The keys of newer Go versions: `maximum_trace_size_bytes`, `block_on_overflow`,
//! `sampling_strategy`, `num_shards`, `tail_storage`, the `recordpolicy` attributes
//! (`record_policy`), and Go's current metrics (per-policy span counts, decision labels,
//! execution count and time; drop policies evaluated first).

use std::time::Duration;

use ferrotel_pdata::Request;
use ferrotel_pdata::proto::common::v1::KeyValue;
use ferrotel_pdata::proto::common::v1::any_value::Value;
use ferrotel_runtime::{ComponentConfig, Context};
use tokio::time::sleep;

use super::config::TailSamplingConfig;
use super::tests::{Harness, ids, payload, span, tid};
use crate::testing::{config, config_error, kv_str};

const ALL: &str = "policies: [{name: all, type: always_sample}]";

/// Every attribute of every span passed on, per span.
fn span_attributes(h: &Harness) -> Vec<Vec<KeyValue>> {
    let mut out = Vec::new();
    for p in h.rec.got.lock().unwrap().iter() {
        let Request::Traces(r) = p.to_request().unwrap() else {
            panic!("not traces")
        };
        for ss in r.resource_spans.into_iter().flat_map(|rs| rs.scope_spans) {
            out.extend(ss.spans.into_iter().map(|s| s.attributes));
        }
    }
    out
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
}

/// A trace past the limit is dropped before its decision, counted; its later spans are late
/// (not sampled), and a trace within the limit is untouched.
#[tokio::test(start_paused = true)]
async fn maximum_trace_size_drops_a_growing_trace() {
    // Room for two one-span pieces (and so for one two-span piece), not three.
    let one = payload(vec![], vec![span(tid(1), 0, 1)]).to_proto().len();
    let h = Harness::new(&format!(
        "decision_wait: 5s\nmaximum_trace_size_bytes: {}\n{ALL}",
        2 * one + 1
    ))
    .await;
    h.send(vec![span(tid(1), 0, 1)]).await;
    h.send(vec![span(tid(2), 0, 1), span(tid(2), 1, 1)]).await;
    h.send(vec![span(tid(1), 1, 1)]).await;
    h.send(vec![span(tid(1), 2, 1)]).await;
    // Trace 3 is too large in its first piece.
    h.send((0..5).map(|i| span(tid(3), i, 1)).collect()).await;
    let too_large = h.metric(
        "otelcol_processor_tail_sampling_traces_dropped_too_large",
        &[],
    );
    assert_eq!(too_large, 2);
    h.send(vec![span(tid(1), 3, 1)]).await;
    assert_eq!(
        h.metric(
            "otelcol_processor_tail_sampling_sampling_late_spans",
            &[("sampled", "false")]
        ),
        1,
        "a span after the drop is a late, not sampled span"
    );
    h.pass_wait().await;
    assert_eq!(h.sampled(), (ids(&[2]), 2));
    assert_eq!(
        h.metric(
            "otelcol_processor_dropped_items",
            &[("processor", "tail_sampling")]
        ),
        3 + 5 + 1
    );
    // No decision was made on them.
    assert_eq!(
        h.metric(
            "otelcol_processor_tail_sampling_global_count_traces_sampled",
            &[]
        ),
        1
    );
    h.p.shutdown().await.unwrap();
}

/// Full of pending traces, a new trace waits for a decision instead of pushing one out; it
/// fits as soon as a decided trace can be forgotten. Shutdown refuses what still waits.
#[tokio::test(start_paused = true)]
async fn block_on_overflow_holds_the_request_until_room() {
    let h = Harness::new(&format!(
        "decision_wait: 2s\nnum_traces: 2\nblock_on_overflow: true\n{ALL}"
    ))
    .await;
    h.send(vec![span(tid(1), 0, 1)]).await;
    h.send(vec![span(tid(2), 0, 1)]).await;
    let p = h.p.clone();
    let third = tokio::spawn(async move {
        p.consume(
            payload(vec![], vec![span(tid(3), 0, 1)]),
            Context::default(),
        )
        .await
    });
    sleep(Duration::from_millis(1900)).await;
    assert!(!third.is_finished(), "held while both traces are pending");
    sleep(Duration::from_millis(200)).await;
    assert!(third.is_finished(), "let in by the decisions");
    third.await.unwrap().unwrap();
    h.pass_wait().await;
    assert_eq!(h.sampled_ids(), ids(&[1, 2, 3]));
    assert_eq!(
        h.metric(
            "otelcol_processor_tail_sampling_sampling_trace_dropped_too_early",
            &[]
        ),
        0
    );

    // Two pending traces again (3 and 4 decided ... 5 and 6 pending), then shutdown.
    h.send(vec![span(tid(5), 0, 1)]).await;
    h.send(vec![span(tid(6), 0, 1)]).await;
    let p = h.p.clone();
    let held = tokio::spawn(async move {
        p.consume(
            payload(vec![], vec![span(tid(7), 0, 1)]),
            Context::default(),
        )
        .await
    });
    sleep(Duration::from_millis(100)).await;
    assert!(!held.is_finished());
    h.p.shutdown().await.unwrap();
    let err = held.await.unwrap().unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(h.sampled_ids(), ids(&[1, 2, 3, 5, 6]));
}

/// Without block_on_overflow the oldest pending trace is pushed out (the default).
#[tokio::test(start_paused = true)]
async fn without_block_on_overflow_the_oldest_is_pushed_out() {
    let h = Harness::new(&format!("decision_wait: 2s\nnum_traces: 2\n{ALL}")).await;
    for t in 1..=3 {
        h.send(vec![span(tid(t), 0, 1)]).await;
    }
    h.pass_wait().await;
    assert_eq!(h.sampled_ids(), ids(&[2, 3]));
    h.p.shutdown().await.unwrap();
}

#[test]
fn newer_go_keys() {
    let cfg: TailSamplingConfig = config(&format!(
        "maximum_trace_size_bytes: 1048576\nblock_on_overflow: true\nsampling_strategy: trace-complete\nnum_shards: 4\nrecord_policy: true\n{ALL}"
    ));
    cfg.validate().unwrap();
    assert_eq!(cfg.maximum_trace_size_bytes, 1 << 20);
    assert!(cfg.block_on_overflow && cfg.record_policy);
    assert_eq!(cfg.num_shards, 4);
    let defaults: TailSamplingConfig = config(ALL);
    assert_eq!(defaults.maximum_trace_size_bytes, 0);
    assert_eq!(defaults.num_shards, 1);
    assert!(!defaults.block_on_overflow && !defaults.record_policy);
    for (yaml, path, msg) in [
        (
            "sampling_strategy: span-ingest",
            "sampling_strategy",
            "span-ingest is not supported",
        ),
        (
            "sampling_strategy: fast",
            "sampling_strategy",
            "unknown variant `fast`",
        ),
        (
            "tail_storage: pebble_tail_storage",
            "tail_storage",
            "not supported by ferrotel",
        ),
        ("num_shards: 0", "num_shards", "greater than 0"),
        (
            "policies: [{name: r, type: rate_limiting, rate_limiting: {spans_per_second: 5, burst_capacity: -1}}]",
            "policies[0]::rate_limiting::burst_capacity",
            "must not be negative",
        ),
    ] {
        let yaml = if yaml.starts_with("policies") {
            yaml.to_string()
        } else {
            format!("{yaml}\n{ALL}")
        };
        let err = config_error::<TailSamplingConfig>(&yaml);
        assert!(err.contains(path) && err.contains(msg), "{yaml}: {err}");
    }
}

/// Go's labels: `decision` sampled / not_sampled / dropped on the votes (traces and spans) and
/// on the final decisions; execution count and time per policy.
#[tokio::test(start_paused = true)]
async fn metrics_as_go_reports_them() {
    let h = Harness::new(
        r#"decision_wait: 1s
policies:
  - {name: two-spans, type: span_count, span_count: {min_spans: 2}}
  - name: no-health
    type: drop
    drop:
      drop_sub_policy: [{name: health, type: string_attribute, string_attribute: {key: url.path, values: [/health]}}]"#,
    )
    .await;
    h.send(vec![span(tid(1), 0, 1), span(tid(1), 1, 1)]).await;
    h.send(vec![span(tid(2), 0, 1)]).await;
    let mut health = span(tid(3), 0, 1);
    health.attributes.push(kv_str("url.path", "/health"));
    h.send(vec![health, span(tid(3), 1, 1), span(tid(3), 2, 1)])
        .await;
    h.pass_wait().await;
    assert_eq!(h.sampled_ids(), ids(&[1]));
    let m = |name: &str, labels: &[(&str, &str)]| {
        h.metric(&format!("otelcol_processor_tail_sampling_{name}"), labels)
    };
    let vote = |policy, decision| [("policy", policy), ("decision", decision)];
    // The drop policy runs first, and its drop vote ends the evaluation of trace 3.
    assert_eq!(m("count_traces_sampled", &vote("no-health", "dropped")), 1);
    assert_eq!(
        m("count_traces_sampled", &vote("no-health", "not_sampled")),
        2
    );
    assert_eq!(m("count_traces_sampled", &vote("two-spans", "sampled")), 1);
    assert_eq!(
        m("count_traces_sampled", &vote("two-spans", "not_sampled")),
        1
    );
    assert_eq!(m("count_spans_sampled", &vote("no-health", "dropped")), 3);
    assert_eq!(m("count_spans_sampled", &vote("two-spans", "sampled")), 2);
    assert_eq!(
        m("count_spans_sampled", &vote("two-spans", "not_sampled")),
        1
    );
    assert_eq!(
        m(
            "count_spans_sampled",
            &[("policy", "two-spans"), ("sampled", "true")]
        ),
        2
    );
    assert_eq!(
        m(
            "sampling_policy_execution_count",
            &[("policy", "no-health")]
        ),
        3
    );
    assert_eq!(
        m(
            "sampling_policy_execution_count",
            &[("policy", "two-spans")]
        ),
        2
    );
    let final_ = |d| m("global_count_traces_sampled", &[("decision", d)]);
    assert_eq!(
        (final_("sampled"), final_("not_sampled"), final_("dropped")),
        (1, 1, 1)
    );
    assert_eq!(m("global_count_traces_sampled", &[("sampled", "false")]), 2);
    h.p.shutdown().await.unwrap();
}

/// A named processor's policies are labelled `<name>.<policy>`, as Go's `uniquePolicyName`.
#[tokio::test(start_paused = true)]
async fn a_named_processor_prefixes_its_policy_labels() {
    let h = Harness::named(
        "tail_sampling/edge",
        "decision_wait: 1s\npolicies:\n  - {name: all, type: always_sample}",
    )
    .await;
    h.send(vec![span(tid(1), 0, 1)]).await;
    h.pass_wait().await;
    let m = |policy| {
        h.metric(
            "otelcol_processor_tail_sampling_count_traces_sampled",
            &[("policy", policy), ("decision", "sampled")],
        )
    };
    assert_eq!((m("edge.all"), m("all")), (1, 0));
    h.p.shutdown().await.unwrap();
}

/// With `sample_on_first_match`, a drop policy listed after a sampling one still wins: Go
/// evaluates drop policies first.
#[tokio::test(start_paused = true)]
async fn drop_policies_run_before_first_match() {
    let h = Harness::new(
        r#"decision_wait: 1s
sample_on_first_match: true
policies:
  - {name: all, type: always_sample}
  - name: no-health
    type: drop
    drop:
      drop_sub_policy: [{name: health, type: string_attribute, string_attribute: {key: url.path, values: [/health]}}]"#,
    )
    .await;
    let mut health = span(tid(1), 0, 1);
    health.attributes.push(kv_str("url.path", "/health"));
    h.send(vec![health]).await;
    h.send(vec![span(tid(2), 0, 1)]).await;
    h.pass_wait().await;
    assert_eq!(h.sampled_ids(), ids(&[2]));
    h.p.shutdown().await.unwrap();
}

/// `record_policy`: the policy (and composite sub-policy) that sampled each trace on its spans;
/// spans released by the sampled decision cache are marked as such.
#[tokio::test(start_paused = true)]
async fn record_policy_names_the_sampling_policy() {
    let h = Harness::new(
        r#"decision_wait: 1s
record_policy: true
decision_cache: {sampled_cache_size: 10}
num_traces: 1
policies:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - name: budget
    type: composite
    composite:
      max_total_spans_per_second: 100
      composite_sub_policy: [{name: two-spans, type: span_count, span_count: {min_spans: 2}}]
      rate_allocation: [{policy: two-spans, percent: 100}]"#,
    )
    .await;
    let mut failed = span(tid(1), 0, 1);
    failed.status = Some(ferrotel_pdata::proto::trace::v1::Status {
        code: ferrotel_pdata::proto::trace::v1::status::StatusCode::Error as i32,
        ..Default::default()
    });
    h.send(vec![failed]).await;
    h.pass_wait().await;
    h.send(vec![span(tid(2), 0, 1), span(tid(2), 1, 1)]).await;
    h.pass_wait().await;
    // Trace 1 left memory (num_traces: 1): its late span comes through the cache.
    h.send(vec![span(tid(1), 1, 1)]).await;
    let spans = span_attributes(&h);
    assert_eq!(spans.len(), 4);
    let s = |v: &str| Some(Value::StringValue(v.into()));
    assert_eq!(attr(&spans[0], "tailsampling.policy").cloned(), s("errors"));
    assert_eq!(attr(&spans[0], "tailsampling.composite_policy"), None);
    for two in &spans[1..3] {
        assert_eq!(attr(two, "tailsampling.policy").cloned(), s("budget"));
        assert_eq!(
            attr(two, "tailsampling.composite_policy").cloned(),
            s("two-spans")
        );
    }
    assert_eq!(
        attr(&spans[3], "tailsampling.cached_decision").cloned(),
        Some(Value::BoolValue(true))
    );
    h.p.shutdown().await.unwrap();
}
