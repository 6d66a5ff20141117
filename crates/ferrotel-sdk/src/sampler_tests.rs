use super::*;
use opentelemetry::trace::{SpanId, TraceFlags};

fn tid(low56: u64) -> TraceId {
    TraceId::from((0xabcd_u128 << 64) | u128::from(low56))
}

fn params<'a>(parent: Option<&'a SpanContext>, trace_id: TraceId) -> SamplingParameters<'a> {
    SamplingParameters {
        parent,
        trace_id,
        name: "s",
        kind: &SpanKind::Internal,
        attributes: &[],
        links: &[],
    }
}

fn parent(sampled: bool, remote: bool, ts: &str) -> SpanContext {
    SpanContext::new(
        tid(1),
        SpanId::from(7u64),
        if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        },
        remote,
        ts.parse().unwrap(),
    )
}

fn decision(s: &Sampler, p: Option<&SpanContext>, t: TraceId) -> SamplingDecision {
    s.should_sample(&params(p, t)).decision
}

use SamplingDecision::{Drop, RecordAndSample};

#[test]
fn always_on_and_off_ignore_the_parent() {
    for p in [
        None,
        Some(parent(false, true, "")),
        Some(parent(true, false, "")),
    ] {
        assert_eq!(
            decision(&Sampler::AlwaysOn, p.as_ref(), tid(0)),
            RecordAndSample
        );
        assert_eq!(
            decision(&Sampler::AlwaysOff, p.as_ref(), tid(u64::MAX)),
            Drop
        );
    }
}

#[test]
fn parent_based_matrix() {
    for root in [Sampler::AlwaysOn, Sampler::AlwaysOff] {
        let root_decision = decision(&root, None, tid(5));
        let s = Sampler::parent_based(root);
        assert_eq!(decision(&s, None, tid(5)), root_decision);
        for remote in [true, false] {
            let sampled = parent(true, remote, "");
            let unsampled = parent(false, remote, "");
            assert_eq!(decision(&s, Some(&sampled), tid(5)), RecordAndSample);
            assert_eq!(decision(&s, Some(&unsampled), tid(5)), Drop);
        }
    }
    // Each delegate can be replaced.
    let mut pb = ParentBased::new(Sampler::AlwaysOn);
    pb.remote_parent_not_sampled = Sampler::AlwaysOn;
    pb.local_parent_sampled = Sampler::AlwaysOff;
    let s = Sampler::ParentBased(Box::new(pb));
    assert_eq!(
        decision(&s, Some(&parent(false, true, "")), tid(5)),
        RecordAndSample
    );
    assert_eq!(decision(&s, Some(&parent(true, false, "")), tid(5)), Drop);
    assert_eq!(decision(&s, Some(&parent(false, false, "")), tid(5)), Drop);
    assert_eq!(
        decision(&s, Some(&parent(true, true, "")), tid(5)),
        RecordAndSample
    );
}

#[test]
fn parent_based_keeps_the_parents_tracestate() {
    let p = parent(true, true, "vendor=x,ot=th:8");
    let r = Sampler::parent_based(Sampler::AlwaysOff).should_sample(&params(Some(&p), tid(1)));
    assert_eq!(r.trace_state.header(), "vendor=x,ot=th:8");
}

#[test]
fn ratio_boundaries() {
    let half = Sampler::trace_id_ratio(0.5);
    // Threshold 2^55: R = 2^55 - 1 is rejected, R = 2^55 sampled.
    assert_eq!(decision(&half, None, tid((1 << 55) - 1)), Drop);
    let r = half.should_sample(&params(None, tid(1 << 55)));
    assert_eq!(r.decision, RecordAndSample);
    assert_eq!(r.trace_state.header(), "ot=th:8");
    // Only the low 56 bits count.
    assert_eq!(decision(&half, None, TraceId::from(u128::MAX << 56)), Drop);

    let all = Sampler::trace_id_ratio(1.0);
    let r = all.should_sample(&params(None, tid(0)));
    assert_eq!(r.decision, RecordAndSample);
    assert_eq!(r.trace_state.header(), "ot=th:0");

    for never in [0.0, -1.0, f64::NAN, 1e-20] {
        let s = Sampler::trace_id_ratio(never);
        assert_eq!(decision(&s, None, tid((1 << 56) - 1)), Drop, "{never}");
    }
    assert_eq!(
        Sampler::trace_id_ratio(7.0)
            .should_sample(&params(None, tid(0)))
            .decision,
        RecordAndSample
    );
}

#[test]
fn thresholds_match_the_collector() {
    // The collector's probabilistic_sampler writes these for sampling_precision 4.
    for (p, th) in [
        (0.5, "8"),
        (0.25, "c"),
        (1.0 / 3.0, "aaab"),
        (0.1, "e666"),
        (0.01, "fd71"),
        (0.999, "004189"),
    ] {
        assert_eq!(Ratio::new(p).tvalue.as_deref(), Some(th), "{p}");
    }
}

#[test]
fn ratio_uses_rv_and_keeps_other_ot_members() {
    let s = Sampler::trace_id_ratio(0.5);
    // rv above the threshold wins over a trace id below it.
    let p = parent(true, true, "ot=rv:9b8233f7e3a151;x:y,vendor=v");
    let r = s.should_sample(&params(Some(&p), tid(0)));
    assert_eq!(r.decision, RecordAndSample);
    assert_eq!(
        r.trace_state.header(),
        "ot=rv:9b8233f7e3a151;th:8;x:y,vendor=v"
    );
    // Not sampled: an arriving th is removed, the rest kept.
    let p = parent(true, true, "ot=rv:00000000000001;th:0,vendor=v");
    let r = s.should_sample(&params(Some(&p), tid(u64::MAX)));
    assert_eq!(r.decision, Drop);
    assert_eq!(r.trace_state.header(), "ot=rv:00000000000001,vendor=v");
}

#[test]
fn ratio_is_consistent_across_ratios() {
    // Sampled at a probability implies sampled at every higher probability.
    for i in 0..2000u64 {
        let t = crate::ids::new_ids(None).0;
        let mut prev = false;
        for p in [0.01, 0.1, 0.25, 0.5, 0.9, 1.0] {
            let now = decision(&Sampler::trace_id_ratio(p), None, t) == RecordAndSample;
            assert!(!prev || now, "iteration {i}");
            prev = now;
        }
    }
}

#[test]
fn from_env() {
    use crate::env::lookup_from;
    let d = |pairs: &[(&str, &str)]| Sampler::from_lookup(&lookup_from(pairs)).description();
    assert_eq!(d(&[]), "ParentBased{root=AlwaysOnSampler}");
    assert_eq!(
        d(&[("OTEL_TRACES_SAMPLER", "always_off")]),
        "AlwaysOffSampler"
    );
    assert_eq!(
        d(&[("OTEL_TRACES_SAMPLER", "always_on")]),
        "AlwaysOnSampler"
    );
    assert_eq!(
        d(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25")
        ]),
        "TraceIdRatioBased{0.25}"
    );
    assert_eq!(
        d(&[("OTEL_TRACES_SAMPLER", "traceidratio")]),
        "TraceIdRatioBased{1}"
    );
    assert_eq!(
        d(&[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "2")
        ]),
        "ParentBased{root=TraceIdRatioBased{1}}"
    );
    assert_eq!(
        d(&[("OTEL_TRACES_SAMPLER", "parentbased_always_off")]),
        "ParentBased{root=AlwaysOffSampler}"
    );
    assert_eq!(
        d(&[("OTEL_TRACES_SAMPLER", "xray")]),
        "ParentBased{root=AlwaysOnSampler}"
    );
}
