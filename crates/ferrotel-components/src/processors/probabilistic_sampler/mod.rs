//! `probabilistic_sampler` processor: keeps a configured percentage of spans and log records,
//! deciding per item from its trace id (or a log attribute), statelessly and consistently —
//! collectors with the same settings keep the same traces. The Go Collector's
//! `probabilisticsamplerprocessor`:
//!
//! - `hash_seed` mode: FNV-1a of (seed, trace id), 14 bits compared with the percentage —
//!   bit-for-bit the Go Collector's decisions;
//! - `proportional` / `equalizing`: OpenTelemetry consistent probability sampling with 56 bits
//!   of randomness from the trace id (or `rv`), thresholds written to `ot=th:` in the tracestate
//!   (log records: `sampling.threshold`).
//!
//! `sampling.priority` on a span forces keep (> 0) or drop (0); for logs, the
//! `sampling_priority` attribute raises the probability of a record (0 drops it).
//!
//! Spans still in their received encoding are sampled on the wire
//! ([`ferrotel_pdata::wire::edit_items`]): only trace id, tracestate and `sampling.priority` are
//! read, and the request is rebuilt from slices of the input (≈ 10× cheaper than a decode and
//! re-encode, `cargo bench -p ferrotel-components --bench processors`).

pub mod config;
pub mod sampling;

use std::sync::Arc;

use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
use ferrotel_pdata::proto::logs::v1::LogRecord;
use ferrotel_pdata::proto::trace::v1::Span;
use ferrotel_pdata::wire::{AnyValueView, ItemDecision};
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::telemetry::Counter;
use ferrotel_runtime::telemetry::obs::ProcessorObs;
use ferrotel_runtime::*;

pub use config::{Mode, ProbabilisticSamplerConfig};
use sampling::*;

use crate::processors::attributes::actions::as_string;

const RANDOMNESS_ATTR: &str = "sampling.randomness";
const THRESHOLD_ATTR: &str = "sampling.threshold";

/// Factory of the `probabilistic_sampler` processor.
pub struct ProbabilisticSamplerFactory;

impl ProcessorFactory for ProbabilisticSamplerFactory {
    type Config = ProbabilisticSamplerConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "probabilistic_sampler",
            "Keeps a percentage of spans and log records, consistently by trace id",
        )
        .signal(Signal::Traces, Stability::Beta)
        .signal(Signal::Logs, Stability::Alpha)
    }

    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        signal: Signal,
        next: ConsumerRef,
    ) -> Result<Arc<dyn Processor>, ComponentError> {
        let sampler = Sampler::new(&config).map_err(ComponentError::new)?;
        let id = ctx.id.to_string();
        let pipeline = ctx
            .pipeline
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default();
        let name = match signal {
            Signal::Logs => "otelcol_processor_probabilistic_sampler_count_logs_sampled",
            _ => "otelcol_processor_probabilistic_sampler_count_traces_sampled",
        };
        let counter = |sampled: &str| {
            ctx.telemetry.counter(
                name,
                "Items sampled (kept) or not by the probabilistic sampler.",
                &[
                    ("processor", id.as_str()),
                    ("pipeline", pipeline.as_str()),
                    ("sampled", sampled),
                ],
            )
        };
        Ok(Arc::new(ProbabilisticSampler {
            sampler,
            kept: counter("true"),
            dropped: counter("false"),
            next,
            obs: ProcessorObs::new(&ctx.telemetry, &id, &pipeline, signal),
        }))
    }
}

/// How the threshold of an item is chosen.
#[derive(Debug, Clone, Copy)]
enum Decide {
    Never,
    /// `hash_seed` and `equalizing`: one threshold for all.
    Fixed(Threshold),
    /// `proportional`: the arriving probability times this ratio.
    Ratio(f64),
}

/// The per-item decision logic, compiled from the config.
#[derive(Debug, Clone)]
pub struct Sampler {
    /// Legacy hash randomness (`hash_seed` mode) rather than trace-id randomness.
    hashing: bool,
    decide: Decide,
    hash_seed: u32,
    precision: u32,
    fail_closed: bool,
    logs_trace_id: bool,
    from_attribute: String,
    sampling_priority: String,
}

/// `sampling.priority` of a span.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Priority {
    Defer,
    Keep,
    Drop,
}

impl Sampler {
    pub fn new(config: &ProbabilisticSamplerConfig) -> Result<Sampler, String> {
        let mode = config.mode()?;
        // Above 100 % means 100 %, as the README allows.
        let pct = config.sampling_percentage.min(100.0);
        let ratio = (f64::from(pct) / 100.0).max(MIN_SAMPLING_PROBABILITY);
        let (hashing, decide) = if pct <= 0.0 {
            (false, Decide::Never)
        } else {
            match mode {
                Mode::HashSeed => match hash_threshold(pct) {
                    Some(t) => (true, Decide::Fixed(t)),
                    None => {
                        tracing::warn!(percent = pct, "probability rounded to zero");
                        (false, Decide::Never)
                    }
                },
                Mode::Equalizing => (
                    false,
                    Decide::Fixed(
                        Threshold::from_probability(ratio, config.sampling_precision)
                            .unwrap_or(Threshold::ALWAYS_SAMPLE),
                    ),
                ),
                Mode::Proportional => (false, Decide::Ratio(ratio)),
            }
        };
        Ok(Sampler {
            hashing,
            decide,
            hash_seed: config.hash_seed,
            precision: config.sampling_precision,
            fail_closed: config.fail_closed,
            logs_trace_id: config.logs_use_trace_id(),
            from_attribute: config.from_attribute.clone(),
            sampling_priority: config.sampling_priority.clone(),
        })
    }

    fn threshold(&self, arriving: Option<Threshold>) -> Threshold {
        match self.decide {
            Decide::Never => Threshold::NEVER_SAMPLE,
            Decide::Fixed(t) => t,
            Decide::Ratio(ratio) => {
                let incoming = arriving.map_or(1.0, Threshold::probability);
                match Threshold::from_probability(incoming * ratio, self.precision) {
                    Ok(t) => t,
                    // Below the smallest probability: simply not sampled.
                    Err(ProbabilityError::Range) => Threshold::NEVER_SAMPLE,
                    Err(ProbabilityError::PrecisionUnderflow) => Threshold::ALWAYS_SAMPLE,
                }
            }
        }
    }

    /// The common decision: randomness and carrier (or an error), consistency check,
    /// threshold, priority.
    fn decide(
        &self,
        rnd: Option<Randomness>,
        carrier: Option<&mut OtelTraceState>,
        err: Option<SamplerError>,
        priority: impl FnOnce(Threshold) -> Threshold,
    ) -> (bool, Threshold) {
        let mut err = err;
        let mut arriving = None;
        if err.is_none() {
            match (rnd, carrier) {
                (None, _) => err = Some(SamplerError::MissingRandomness),
                (Some(r), Some(c)) => {
                    if let Some(th) = c.th
                        && !th.should_sample(r)
                    {
                        // The arriving threshold is a lie for this randomness: drop it.
                        c.th = None;
                        err = Some(SamplerError::InconsistentArrivingThreshold);
                    }
                    arriving = c.th;
                }
                (Some(_), None) => {}
            }
        }
        let threshold = match err {
            Some(e) => {
                tracing::debug!(error = %e, "probabilistic_sampler: no usable sampling information");
                if self.fail_closed {
                    Threshold::NEVER_SAMPLE
                } else {
                    Threshold::ALWAYS_SAMPLE
                }
            }
            None => self.threshold(arriving),
        };
        let threshold = priority(threshold);
        let sampled = threshold.should_sample(rnd.unwrap_or(Randomness::ALL_PROBABILITIES));
        (sampled, threshold)
    }

    /// Decides for one span; a kept span gets its threshold written into its tracestate.
    pub fn sample_span(&self, span: &mut Span) -> bool {
        let priority = span_priority(&span.attributes);
        let (sampled, trace_state) = self.decide_span(&span.trace_id, &span.trace_state, priority);
        if let Some(ts) = trace_state {
            span.trace_state = ts;
        }
        sampled
    }

    /// The decision for a span from its trace id, tracestate and `sampling.priority`, and the
    /// tracestate a kept span gets. Shared by the decoded and the wire paths.
    fn decide_span(
        &self,
        trace_id: &[u8],
        trace_state: &str,
        priority: Priority,
    ) -> (bool, Option<String>) {
        let (rnd, mut ts, err) = self.span_randomness(trace_id, trace_state);
        let (sampled, threshold) =
            self.decide(
                rnd,
                ts.as_mut().map(|t| &mut t.ot),
                err,
                |t| match priority {
                    Priority::Defer => t,
                    Priority::Keep => Threshold::ALWAYS_SAMPLE,
                    Priority::Drop => Threshold::NEVER_SAMPLE,
                },
            );
        if sampled && let Some(mut ts) = ts {
            // Lowering an arriving probability only; a refused raise keeps the arriving one.
            ts.ot.update_threshold(threshold);
            return (true, Some(ts.serialize()));
        }
        (sampled, None)
    }

    fn span_randomness(
        &self,
        trace_id: &[u8],
        trace_state: &str,
    ) -> (Option<Randomness>, Option<TraceState>, Option<SamplerError>) {
        if self.hashing {
            // The legacy mode hashes whatever trace id there is, even an empty one.
            let rnd = randomness_from_hash(trace_id, self.hash_seed);
            let mut ts = match TraceState::parse(trace_state) {
                Ok(ts) => ts,
                Err(e) => return (Some(rnd), None, Some(e)),
            };
            // Items already carrying consistent-sampling information are left to those modes.
            let err = if ts.ot.rv.is_some() {
                Some(SamplerError::RandomnessInUse)
            } else if ts.ot.th.is_some() {
                Some(SamplerError::ThresholdInUse)
            } else {
                ts.ot.rv = Some(rnd);
                None
            };
            return (Some(rnd), Some(ts), err);
        }
        match TraceState::parse(trace_state) {
            Err(e) => (None, None, Some(e)),
            Ok(ts) => {
                let rnd = ts.ot.rv.or_else(|| Randomness::from_trace_id(trace_id));
                (rnd, Some(ts), None)
            }
        }
    }

    /// Decides for one log record; a kept record gets `sampling.threshold` (and, when this
    /// sampler computed it, `sampling.randomness`).
    pub fn sample_log(&self, log: &mut LogRecord) -> bool {
        let (rnd, mut carrier, err) = self.log_randomness(log);
        let priority = self.log_priority(&log.attributes);
        let (sampled, threshold) = self.decide(rnd, carrier.as_mut(), err, |t| match priority {
            None => t,
            Some(p) if p == Threshold::NEVER_SAMPLE => p,
            Some(p) => p.min(t),
        });
        if sampled && let Some(mut c) = carrier {
            c.update_threshold(threshold);
            if let Some(rv) = c.rv {
                put_str(&mut log.attributes, RANDOMNESS_ATTR, rv.rvalue());
            }
            if let Some(tv) = c.th.and_then(Threshold::tvalue) {
                put_str(&mut log.attributes, THRESHOLD_ATTR, tv);
            }
        }
        sampled
    }

    fn log_randomness(
        &self,
        log: &LogRecord,
    ) -> (
        Option<Randomness>,
        Option<OtelTraceState>,
        Option<SamplerError>,
    ) {
        let from_attribute = || {
            if self.from_attribute.is_empty() {
                return None;
            }
            let v = get(&log.attributes, &self.from_attribute)?;
            Some(randomness_from_hash(&value_bytes(v), self.hash_seed))
        };
        let parsed = log_carrier(&log.attributes);
        if self.hashing {
            let mut rnd = None;
            if self.logs_trace_id {
                rnd = Some(randomness_from_hash(&log.trace_id, self.hash_seed));
            }
            if rnd.is_none() {
                rnd = from_attribute();
            }
            return match parsed {
                Err(e) => (rnd, None, Some(e)),
                Ok(mut c) => {
                    let err = if c.rv.is_some() {
                        Some(SamplerError::RandomnessInUse)
                    } else if c.th.is_some() {
                        Some(SamplerError::ThresholdInUse)
                    } else {
                        c.rv = rnd;
                        None
                    };
                    (rnd, Some(c), err)
                }
            };
        }
        match parsed {
            Err(e) => (None, None, Some(e)),
            Ok(c) => {
                let rnd =
                    c.rv.or_else(|| Randomness::from_trace_id(&log.trace_id))
                        .or_else(from_attribute);
                (rnd, Some(c), None)
            }
        }
    }

    /// The threshold the record's `sampling_priority` attribute asks for: a percentage; 0 (or
    /// less) means drop. `None` without the attribute or with a non-numeric value.
    fn log_priority(&self, attrs: &[KeyValue]) -> Option<Threshold> {
        if self.sampling_priority.is_empty() {
            return None;
        }
        let pct = match get(attrs, &self.sampling_priority)?.value.as_ref()? {
            any_value::Value::IntValue(i) => *i as f64,
            any_value::Value::DoubleValue(d) => *d,
            _ => return None,
        };
        if pct <= 0.0 || pct.is_nan() {
            return Some(Threshold::NEVER_SAMPLE);
        }
        Some(
            Threshold::from_probability((pct / 100.0).min(1.0), self.precision)
                .unwrap_or(Threshold::NEVER_SAMPLE),
        )
    }
}

fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs.iter().find(|a| a.key == key)?.value.as_ref()
}

fn put_str(attrs: &mut Vec<KeyValue>, key: &str, value: String) {
    let v = Some(AnyValue {
        value: Some(any_value::Value::StringValue(value)),
    });
    match attrs.iter_mut().find(|a| a.key == key) {
        Some(a) => a.value = v,
        None => attrs.push(KeyValue {
            key: key.to_string(),
            value: v,
            ..Default::default()
        }),
    }
}

/// The bytes an attribute value is hashed as: raw bytes, else its string form.
fn value_bytes(v: &AnyValue) -> Vec<u8> {
    match &v.value {
        Some(any_value::Value::BytesValue(b)) => b.to_vec(),
        Some(any_value::Value::StringValue(s)) => s.as_bytes().to_vec(),
        _ => as_string(v).into_bytes(),
    }
}

/// The sampling information of a log record, from its attributes.
fn log_carrier(attrs: &[KeyValue]) -> Result<OtelTraceState, SamplerError> {
    let mut c = OtelTraceState::default();
    let text = |v: &AnyValue| match &v.value {
        Some(any_value::Value::StringValue(s)) => Some(s.clone()),
        _ => None,
    };
    if let Some(v) = get(attrs, RANDOMNESS_ATTR) {
        let s = text(v).ok_or(SamplerError::Syntax)?;
        c.rv = Some(Randomness::parse(&s).ok_or(SamplerError::Syntax)?);
    }
    if let Some(v) = get(attrs, THRESHOLD_ATTR) {
        let s = text(v).ok_or(SamplerError::Syntax)?;
        c.th = Some(Threshold::parse(&s).ok_or(SamplerError::Syntax)?);
    }
    Ok(c)
}

/// `sampling.priority` (OpenTracing convention): 0 drops, > 0 keeps; ints, doubles and numeric
/// strings are understood.
fn span_priority(attrs: &[KeyValue]) -> Priority {
    let Some(v) = get(attrs, "sampling.priority").and_then(|v| v.value.as_ref()) else {
        return Priority::Defer;
    };
    priority_of(match v {
        any_value::Value::IntValue(i) => Some(*i as f64),
        any_value::Value::DoubleValue(d) => Some(*d),
        any_value::Value::StringValue(s) => s.parse::<f64>().ok(),
        _ => None,
    })
}

/// [`span_priority`] of an encoded span's attribute.
fn span_priority_view(v: Option<AnyValueView<'_>>) -> Priority {
    priority_of(match v {
        Some(AnyValueView::Int(i)) => Some(i as f64),
        Some(AnyValueView::Double(d)) => Some(d),
        Some(AnyValueView::Str(s)) => s.parse::<f64>().ok(),
        _ => None,
    })
}

fn priority_of(n: Option<f64>) -> Priority {
    let Some(n) = n else {
        return Priority::Defer;
    };
    if n == 0.0 {
        Priority::Drop
    } else if n > 0.0 {
        Priority::Keep
    } else {
        Priority::Defer
    }
}

/// The `probabilistic_sampler` processor of one pipeline.
pub struct ProbabilisticSampler {
    sampler: Sampler,
    kept: Counter,
    dropped: Counter,
    next: ConsumerRef,
    obs: ProcessorObs,
}

impl ProbabilisticSampler {
    /// Removes the items not sampled (and groups left empty); returns the items kept.
    pub fn apply(&self, request: &mut Request) -> usize {
        let mut kept = 0usize;
        let mut dropped = 0usize;
        match request {
            Request::Traces(r) => {
                r.resource_spans.retain_mut(|rs| {
                    rs.scope_spans.retain_mut(|ss| {
                        ss.spans.retain_mut(|s| {
                            let keep = self.sampler.sample_span(s);
                            if keep {
                                kept += 1
                            } else {
                                dropped += 1
                            }
                            keep
                        });
                        !ss.spans.is_empty()
                    });
                    !rs.scope_spans.is_empty()
                });
            }
            Request::Logs(r) => {
                r.resource_logs.retain_mut(|rl| {
                    rl.scope_logs.retain_mut(|sl| {
                        sl.log_records.retain_mut(|l| {
                            let keep = self.sampler.sample_log(l);
                            if keep {
                                kept += 1
                            } else {
                                dropped += 1
                            }
                            keep
                        });
                        !sl.log_records.is_empty()
                    });
                    !rl.scope_logs.is_empty()
                });
            }
            // Not signals of this processor (the factory does not offer them).
            Request::Metrics(_) | Request::Profiles(_) => return request.item_count(),
        }
        self.kept.add(kept as u64);
        self.dropped.add(dropped as u64);
        kept
    }
}

impl ProbabilisticSampler {
    /// Samples the spans of a traces payload still in its received encoding, on the wire: only
    /// trace id, tracestate and `sampling.priority` are read; dropped spans are left out and
    /// kept ones get their new tracestate. None when the payload must be decoded (logs, a
    /// decoded payload).
    pub fn apply_encoded(&self, payload: &mut Payload) -> Option<usize> {
        if payload.signal() != Signal::Traces {
            return None;
        }
        let (mut kept, mut dropped) = (0usize, 0usize);
        let done = payload.edit_items_encoded(|span, out| {
            let trace_id = span.bytes_field(SPAN_TRACE_ID).unwrap_or_default();
            let trace_state = span
                .bytes_field(SPAN_TRACE_STATE)
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default();
            let priority = span_priority_view(span.attribute("sampling.priority"));
            let (sampled, new_state) = self.sampler.decide_span(trace_id, trace_state, priority);
            if !sampled {
                dropped += 1;
                return ItemDecision::Drop;
            }
            kept += 1;
            if let Some(ts) = new_state
                && ts != trace_state
            {
                out.set_string_field(SPAN_TRACE_STATE, &ts);
            }
            ItemDecision::Keep
        });
        if !done {
            return None;
        }
        self.kept.add(kept as u64);
        self.dropped.add(dropped as u64);
        Some(kept)
    }
}

/// Span field numbers (trace.proto).
const SPAN_TRACE_ID: u32 = 1;
const SPAN_TRACE_STATE: u32 = 3;

impl Consumer for ProbabilisticSampler {
    fn consume(
        &self,
        mut payload: Payload,
        ctx: Context,
    ) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            self.obs.incoming.add(payload.items() as u64);
            if payload.is_empty() {
                return Ok(());
            }
            let kept = match self.apply_encoded(&mut payload) {
                Some(kept) => kept,
                None => payload
                    .modify(|req| self.apply(req))
                    .map_err(|e| ConsumeError::permanent(format!("probabilistic_sampler: {e}")))?,
            };
            if kept == 0 {
                // Nothing left to send, as the Go sampler skips the rest of the pipeline.
                return Ok(());
            }
            self.next.consume(payload, ctx).await?;
            self.obs.outgoing.add(kept as u64);
            Ok(())
        })
    }

    /// Passes the question on: a `memory_limiter` may come after this processor.
    fn admit(&self, signal: Signal) -> Result<(), ConsumeError> {
        self.next.admit(signal)
    }
}

impl Lifecycle for ProbabilisticSampler {}
impl Processor for ProbabilisticSampler {}

#[cfg(test)]
mod tests;
