//! Samplers: `always_on`, `always_off`, `traceidratio` (consistent probability sampling with
//! the `th` threshold in the `ot` tracestate entry, as the collector's probabilistic_sampler
//! reads and writes it) and `parentbased_*`, plus custom samplers through [`ShouldSample`].
//!
//! Consistent probability sampling (OpenTelemetry "TraceState: Probability Sampling"): the
//! randomness R is the trace id's low 56 bits (ferrotel's trace ids are fully random and carry
//! the W3C random flag) or an explicit `rv` in the tracestate; a probability p is a rejection
//! threshold T = (1 - p)·2^56, and a span is sampled when R >= T. Every participant using the
//! same R makes consistent decisions, and the `th` written into the tracestate lets backends
//! compute adjusted counts (1/p).

use std::fmt;
use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Link, SpanContext, SpanKind, TraceId, TraceState};

use crate::env::{self, Lookup};

/// What a sampler decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamplingDecision {
    /// Not recorded, not sampled: the span costs its context only.
    Drop,
    /// Recorded (processors see it end) but not sampled (not exported).
    RecordOnly,
    /// Recorded and sampled.
    RecordAndSample,
}

/// A sampler's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingResult {
    pub decision: SamplingDecision,
    /// Attributes the sampler adds to the span.
    pub attributes: Vec<KeyValue>,
    /// The new span's tracestate.
    pub trace_state: TraceState,
}

/// What a sampler is given.
pub struct SamplingParameters<'a> {
    /// The parent's context, when the span has a valid parent.
    pub parent: Option<&'a SpanContext>,
    pub trace_id: TraceId,
    pub name: &'a str,
    pub kind: &'a SpanKind,
    pub attributes: &'a [KeyValue],
    pub links: &'a [Link],
}

/// A custom sampler.
pub trait ShouldSample: Send + Sync + fmt::Debug + 'static {
    fn should_sample(&self, params: &SamplingParameters<'_>) -> SamplingResult;
    /// The name the specification's `GetDescription` returns.
    fn description(&self) -> String;
}

/// A sampler. The built-in ones are an enum so the span hot path makes no virtual call.
#[derive(Debug, Clone)]
pub enum Sampler {
    AlwaysOn,
    AlwaysOff,
    /// Consistent probability sampling with this ratio (clamped to [0, 1]).
    TraceIdRatio(Ratio),
    ParentBased(Box<ParentBased>),
    Custom(Arc<dyn ShouldSample>),
}

/// `parentbased_*`: the root sampler for spans without a parent, the parent's decision
/// otherwise (each case replaceable).
#[derive(Debug, Clone)]
pub struct ParentBased {
    pub root: Sampler,
    pub remote_parent_sampled: Sampler,
    pub remote_parent_not_sampled: Sampler,
    pub local_parent_sampled: Sampler,
    pub local_parent_not_sampled: Sampler,
}

impl ParentBased {
    pub fn new(root: Sampler) -> Self {
        ParentBased {
            root,
            remote_parent_sampled: Sampler::AlwaysOn,
            remote_parent_not_sampled: Sampler::AlwaysOff,
            local_parent_sampled: Sampler::AlwaysOn,
            local_parent_not_sampled: Sampler::AlwaysOff,
        }
    }
}

/// 2^56: the number of distinct randomness values.
const MAX_ADJUSTED_COUNT: u64 = 1 << 56;
/// Hex digits of a full-precision threshold.
const NUM_HEX_DIGITS: u32 = 14;
/// Significant hex digits written in `th` (the collector's default `sampling_precision`).
const PRECISION: u32 = 4;

/// A ratio as its rejection threshold and the `th` encoding of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ratio {
    ratio: f64,
    /// Sampled when randomness >= threshold; `MAX_ADJUSTED_COUNT` never samples.
    threshold: u64,
    /// The `th` value, `None` for never.
    tvalue: Option<String>,
}

impl Ratio {
    pub fn new(ratio: f64) -> Ratio {
        let ratio = if ratio.is_nan() {
            0.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        let threshold = threshold_of(ratio);
        Ratio {
            ratio,
            threshold,
            tvalue: tvalue(threshold),
        }
    }

    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// The rejection threshold (56-bit).
    pub fn threshold(&self) -> u64 {
        self.threshold
    }
}

/// T = (1 - p)·2^56, rounded to [`PRECISION`] significant hex digits (more for probabilities
/// near 1, one per leading `f`, so they keep their meaning), as the collector computes it.
fn threshold_of(p: f64) -> u64 {
    if p <= 0.0 || p < 1.0 / MAX_ADJUSTED_COUNT as f64 {
        return MAX_ADJUSTED_COUNT;
    }
    if p >= 1.0 {
        return 0;
    }
    let scaled = (p * MAX_ADJUSTED_COUNT as f64).round() as u64;
    let full = MAX_ADJUSTED_COUNT - scaled.min(MAX_ADJUSTED_COUNT);
    let mut precision = PRECISION;
    let mut reject = 1.0 - p;
    while reject * 16.0 < 1.0 && precision < NUM_HEX_DIGITS {
        reject *= 16.0;
        precision += 1;
    }
    let shift = 4 * (NUM_HEX_DIGITS - precision);
    if shift == 0 {
        return full;
    }
    let half = 1u64 << (shift - 1);
    (((full + half) >> shift) << shift).min(MAX_ADJUSTED_COUNT)
}

fn tvalue(t: u64) -> Option<String> {
    match t {
        0 => Some("0".into()),
        MAX_ADJUSTED_COUNT => None,
        t => {
            let digits = format!("{t:014x}");
            Some(digits.trim_end_matches('0').to_owned())
        }
    }
}

/// The randomness of a trace: `rv` from the `ot` entry when present, else the trace id's low
/// 56 bits.
fn randomness(trace_id: TraceId, ot: Option<&str>) -> u64 {
    if let Some(ot) = ot {
        for member in ot.split(';') {
            if let Some(rv) = member.strip_prefix("rv:")
                && rv.len() == NUM_HEX_DIGITS as usize
                && let Ok(v) = u64::from_str_radix(rv, 16)
            {
                return v;
            }
        }
    }
    let b = trace_id.to_bytes();
    let mut r = [0u8; 8];
    r[1..].copy_from_slice(&b[9..]);
    u64::from_be_bytes(r)
}

/// The `ot` entry with `th` set to `th` (or removed for `None`), other sub-keys kept in order;
/// `None` when nothing is left.
fn ot_with_threshold(ot: Option<&str>, th: Option<&str>) -> Option<String> {
    let mut out = String::new();
    let push = |out: &mut String, m: &str| {
        if !out.is_empty() {
            out.push(';');
        }
        out.push_str(m);
    };
    // rv first, then th, then the rest, as the collector writes it.
    let members: Vec<&str> = ot
        .map(|o| o.split(';').filter(|m| !m.is_empty()).collect())
        .unwrap_or_default();
    for m in members.iter().filter(|m| m.starts_with("rv:")) {
        push(&mut out, m);
    }
    if let Some(th) = th {
        push(&mut out, &format!("th:{th}"));
    }
    for m in members
        .iter()
        .filter(|m| !m.starts_with("rv:") && !m.starts_with("th:"))
    {
        push(&mut out, m);
    }
    (!out.is_empty()).then_some(out)
}

fn with_ot(ts: &TraceState, ot: Option<String>) -> TraceState {
    let r = match ot {
        Some(v) => ts.insert("ot", v),
        None => ts.delete("ot"),
    };
    // Both only fail for invalid keys/values, which `ot` and its hex digits are not.
    r.unwrap_or_else(|_| ts.clone())
}

impl Sampler {
    /// `parentbased_always_on`, the specification's default.
    pub fn parent_based(root: Sampler) -> Sampler {
        Sampler::ParentBased(Box::new(ParentBased::new(root)))
    }

    /// `traceidratio`.
    pub fn trace_id_ratio(ratio: f64) -> Sampler {
        Sampler::TraceIdRatio(Ratio::new(ratio))
    }

    /// From `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` (default
    /// `parentbased_always_on`; unknown names are warned about and give the default).
    pub fn from_env() -> Sampler {
        Sampler::from_lookup(&env::process_env)
    }

    pub fn from_lookup(lookup: Lookup<'_>) -> Sampler {
        let name = env::get(lookup, "OTEL_TRACES_SAMPLER")
            .unwrap_or_else(|| "parentbased_always_on".into())
            .to_ascii_lowercase();
        let ratio = || -> f64 {
            match env::get(lookup, "OTEL_TRACES_SAMPLER_ARG") {
                None => 1.0,
                Some(a) => match a.parse::<f64>() {
                    Ok(r) if (0.0..=1.0).contains(&r) => r,
                    _ => {
                        tracing::warn!(value = %a, "OTEL_TRACES_SAMPLER_ARG is not a ratio in [0, 1], using 1.0");
                        1.0
                    }
                },
            }
        };
        match name.as_str() {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::trace_id_ratio(ratio()),
            "parentbased_always_on" => Sampler::parent_based(Sampler::AlwaysOn),
            "parentbased_always_off" => Sampler::parent_based(Sampler::AlwaysOff),
            "parentbased_traceidratio" => Sampler::parent_based(Sampler::trace_id_ratio(ratio())),
            other => {
                tracing::warn!(
                    sampler = other,
                    "unsupported OTEL_TRACES_SAMPLER, using parentbased_always_on"
                );
                Sampler::parent_based(Sampler::AlwaysOn)
            }
        }
    }

    /// The specification's `GetDescription`.
    pub fn description(&self) -> String {
        match self {
            Sampler::AlwaysOn => "AlwaysOnSampler".into(),
            Sampler::AlwaysOff => "AlwaysOffSampler".into(),
            Sampler::TraceIdRatio(r) => format!("TraceIdRatioBased{{{}}}", r.ratio),
            Sampler::ParentBased(p) => format!("ParentBased{{root={}}}", p.root.description()),
            Sampler::Custom(c) => c.description(),
        }
    }

    /// The decision and the tracestate, without building attributes (the hot path).
    #[inline]
    pub(crate) fn decide(
        &self,
        p: &SamplingParameters<'_>,
    ) -> (SamplingDecision, TraceState, Vec<KeyValue>) {
        match self {
            Sampler::AlwaysOn => (
                SamplingDecision::RecordAndSample,
                parent_state(p),
                Vec::new(),
            ),
            Sampler::AlwaysOff => (SamplingDecision::Drop, parent_state(p), Vec::new()),
            Sampler::TraceIdRatio(r) => {
                let parent_ts = p.parent.map(|c| c.trace_state());
                let ot = parent_ts.and_then(|t| t.get("ot"));
                let sampled = randomness(p.trace_id, ot) >= r.threshold;
                let base = parent_state(p);
                if sampled {
                    let ts = with_ot(&base, ot_with_threshold(ot, r.tvalue.as_deref()));
                    (SamplingDecision::RecordAndSample, ts, Vec::new())
                } else {
                    // An unsampled span must not claim a threshold it did not pass.
                    let ts = if ot.is_some_and(|o| o.contains("th:")) {
                        with_ot(&base, ot_with_threshold(ot, None))
                    } else {
                        base
                    };
                    (SamplingDecision::Drop, ts, Vec::new())
                }
            }
            Sampler::ParentBased(pb) => {
                let next = match p.parent {
                    None => &pb.root,
                    Some(c) => match (c.is_remote(), c.is_sampled()) {
                        (true, true) => &pb.remote_parent_sampled,
                        (true, false) => &pb.remote_parent_not_sampled,
                        (false, true) => &pb.local_parent_sampled,
                        (false, false) => &pb.local_parent_not_sampled,
                    },
                };
                next.decide(p)
            }
            Sampler::Custom(c) => {
                let r = c.should_sample(p);
                (r.decision, r.trace_state, r.attributes)
            }
        }
    }

    /// Whether deciding may read the span's attributes (a custom sampler may).
    pub(crate) fn reads_attributes(&self) -> bool {
        match self {
            Sampler::AlwaysOn | Sampler::AlwaysOff | Sampler::TraceIdRatio(_) => false,
            Sampler::ParentBased(pb) => [
                &pb.root,
                &pb.remote_parent_sampled,
                &pb.remote_parent_not_sampled,
                &pb.local_parent_sampled,
                &pb.local_parent_not_sampled,
            ]
            .iter()
            .any(|s| s.reads_attributes()),
            Sampler::Custom(_) => true,
        }
    }

    /// The full [`SamplingResult`], as a composing custom sampler needs it.
    pub fn should_sample(&self, p: &SamplingParameters<'_>) -> SamplingResult {
        let (decision, trace_state, attributes) = self.decide(p);
        SamplingResult {
            decision,
            attributes,
            trace_state,
        }
    }
}

#[inline]
fn parent_state(p: &SamplingParameters<'_>) -> TraceState {
    match p.parent {
        Some(c) => c.trace_state().clone(),
        None => TraceState::NONE,
    }
}

#[cfg(test)]
#[path = "sampler_tests.rs"]
mod tests;
