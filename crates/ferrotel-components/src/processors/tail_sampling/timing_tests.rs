//! Timing on tokio's paused clock: `decision_wait_after_root_received` (the root span brings
//! the decision forward, never back; spans after an early decision are late spans) and the Go
//! processor's histograms (late span age, trace removal age, decision latencies).

use std::time::Duration;

use ferrotel_pdata::proto::trace::v1::Span;
use tokio::time::sleep;

use super::config::TailSamplingConfig;
use super::tests::{Harness, ids, span, tid};
use crate::testing::{config, config_error};

/// A span with a parent: not a root.
fn child(trace: u8, n: u8) -> Span {
    Span {
        parent_span_id: vec![9; 8].into(),
        ..span(tid(trace), n, 1)
    }
}

fn root(trace: u8) -> Span {
    span(tid(trace), 0, 1)
}

const ALL: &str = "policies: [{name: all, type: always_sample}]";

#[tokio::test(start_paused = true)]
async fn the_root_span_brings_the_decision_forward() {
    let h = Harness::new(&format!(
        "decision_wait: 10s\ndecision_wait_after_root_received: 2s\n{ALL}"
    ))
    .await;
    // Trace 1: a child at 0 s, its root at 1 s → decided 2 s after the root.
    // Trace 2: children only → decision_wait. Trace 3: root first, at 0 s → at 2 s.
    h.send(vec![child(1, 1), child(2, 1), root(3)]).await;
    sleep(Duration::from_secs(1)).await;
    h.send(vec![root(1)]).await;
    sleep(Duration::from_millis(990)).await;
    assert!(h.sampled_ids().is_empty());
    sleep(Duration::from_millis(20)).await;
    assert_eq!(h.sampled_ids(), ids(&[3]), "2 s after trace 3's root");
    sleep(Duration::from_millis(980)).await;
    assert_eq!(h.sampled_ids(), ids(&[3]));
    sleep(Duration::from_millis(20)).await;
    assert_eq!(h.sampled(), (ids(&[1, 3]), 3), "2 s after trace 1's root");
    sleep(Duration::from_millis(6980)).await;
    assert_eq!(h.sampled_ids(), ids(&[1, 3]));
    sleep(Duration::from_millis(20)).await;
    assert_eq!(
        h.sampled(),
        (ids(&[1, 2, 3]), 4),
        "trace 2 at decision_wait"
    );
    h.p.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_root_never_delays_the_decision() {
    // The root wait longer than decision_wait: no effect. A second root-like span after the
    // trace was brought forward does not push it back.
    let h = Harness::new(&format!(
        "decision_wait: 3s\ndecision_wait_after_root_received: 2s\n{ALL}"
    ))
    .await;
    h.send(vec![child(1, 1)]).await;
    sleep(Duration::from_millis(1500)).await;
    h.send(vec![root(1), root(2)]).await;
    // Trace 1: 3 s after its first span (sooner than 2 s after its root at 1.5 s).
    sleep(Duration::from_millis(1490)).await;
    assert!(h.sampled_ids().is_empty());
    sleep(Duration::from_millis(20)).await;
    assert_eq!(h.sampled_ids(), ids(&[1]));
    // Trace 2: root at 1.5 s → 3.5 s; another root span at 3.2 s does not move it.
    sleep(Duration::from_millis(190)).await;
    h.send(vec![Span {
        span_id: vec![7; 8].into(),
        ..root(2)
    }])
    .await;
    sleep(Duration::from_millis(310)).await;
    assert_eq!(
        h.sampled(),
        (ids(&[1, 2]), 4),
        "at 3.5 s, not 5.2 s nor 4.5 s"
    );
    h.p.shutdown().await.unwrap();

    let longer = Harness::new(&format!(
        "decision_wait: 2s\ndecision_wait_after_root_received: 5s\n{ALL}"
    ))
    .await;
    longer.send(vec![root(4)]).await;
    sleep(Duration::from_millis(2010)).await;
    assert_eq!(
        longer.sampled_ids(),
        ids(&[4]),
        "decision_wait still applies"
    );
    longer.p.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn spans_after_an_early_decision_are_late_spans() {
    let h = Harness::new(
        "decision_wait: 10s\ndecision_wait_after_root_received: 1s\npolicies: [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]",
    )
    .await;
    h.send(vec![root(1)]).await;
    sleep(Duration::from_millis(1010)).await;
    // Decided (not sampled) on the root alone; an error child after that follows the decision.
    let mut err = child(1, 1);
    err.status = Some(ferrotel_pdata::proto::trace::v1::Status {
        code: 2,
        ..Default::default()
    });
    h.send(vec![err]).await;
    sleep(Duration::from_secs(10)).await;
    assert!(h.sampled_ids().is_empty());
    assert_eq!(
        h.metric(
            "otelcol_processor_tail_sampling_global_count_traces_sampled",
            &[("sampled", "false")]
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
    h.p.shutdown().await.unwrap();
}

#[test]
fn config_key_default_and_errors() {
    let c: TailSamplingConfig = config(ALL);
    assert_eq!(c.decision_wait_after_root_received, Duration::ZERO);
    let c: TailSamplingConfig = config(&format!("decision_wait_after_root_received: 4s\n{ALL}"));
    assert_eq!(c.decision_wait_after_root_received, Duration::from_secs(4));
    let e = config_error::<TailSamplingConfig>(&format!(
        "decision_wait_after_root_received: soon\n{ALL}"
    ));
    assert!(e.contains("decision_wait_after_root_received"), "{e}");
}

/// (count, sum) of one of the processor's histograms.
fn hist(h: &Harness, name: &str, labels: &[(&str, &str)]) -> (u64, u64) {
    let name = format!("otelcol_processor_tail_sampling_{name}");
    let x = h.tel.histogram_of(&name, labels).expect(&name);
    (x.count(), x.sum())
}

#[tokio::test(start_paused = true)]
async fn histograms_of_late_spans_removals_and_decisions() {
    let h = Harness::new(&format!("decision_wait: 1s\nnum_traces: 2\n{ALL}")).await;
    h.send(vec![root(1)]).await;
    sleep(Duration::from_millis(1010)).await;
    assert_eq!(h.sampled_ids(), ids(&[1]));
    assert_eq!(
        hist(&h, "sampling_decision_latency", &[("policy", "all")]).0,
        1
    );
    assert_eq!(hist(&h, "sampling_decision_timer_latency", &[]).0, 1);
    // A late span 2.5 s after the decision (taken at 1 s): age 2 (whole seconds, as Go).
    sleep(Duration::from_millis(2490)).await;
    h.send(vec![child(1, 1)]).await;
    assert_eq!(hist(&h, "sampling_late_span_age", &[]), (1, 2));
    assert_eq!(hist(&h, "sampling_trace_removal_age", &[]), (0, 0));
    // Traces 2 and 3 at 3.5 s: trace 1 (arrived at 0) leaves memory, aged 3 s; trace 4
    // pushes out trace 2, pending, aged 0.
    h.send(vec![root(2)]).await;
    h.send(vec![root(3)]).await;
    assert_eq!(hist(&h, "sampling_trace_removal_age", &[]), (1, 3));
    h.send(vec![root(4)]).await;
    assert_eq!(hist(&h, "sampling_trace_removal_age", &[]), (2, 3));
    assert_eq!(
        h.metric(
            "otelcol_processor_tail_sampling_sampling_trace_dropped_too_early",
            &[]
        ),
        1
    );
    sleep(Duration::from_millis(1010)).await;
    assert_eq!(
        hist(&h, "sampling_decision_latency", &[("policy", "all")]).0,
        3
    );
    h.p.shutdown().await.unwrap();
}
