//! `tail_sampling` processor: holds the spans of each trace for `decision_wait` after its first
//! span, then runs the policies on the whole trace and passes it on or drops it — the Go
//! Collector's `tailsamplingprocessor` (same config, policy types, decision precedence, own
//! metrics `otelcol_processor_tail_sampling_*`).
//!
//! - Received requests are cut by trace id on the wire ([`wire::split_trace_runs`]); a trace
//!   is buffered as its span bytes, with the resource and scope shared by the request's
//!   traces, and written as a request again when its decision is due; the policies read it on
//!   the wire, and a sampled trace goes on as those bytes. See [`buffer`] for memory per span.
//! - At most `num_traces` traces (pending and decided) are in memory; a new trace pushes out
//!   the oldest, counted in `sampling_trace_dropped_too_early` when it was still pending.
//! - `decision_wait_after_root_received`: when a piece holding the trace's root span (no
//!   parent span id, found on the wire) arrives, the decision is brought forward to that
//!   long after it, never pushed back (Go's `MoveToEarlierBatch`, without its 1 s batches).
//! - Late spans of a decided trace follow its decision while the trace is in memory, then the
//!   decision caches' (`decision_cache`); otherwise they start a new trace, as in Go.
//! - Decision precedence (README): a `drop` or inverted-not-sampled vote drops; else a sampled
//!   vote keeps; else an inverted-sampled vote keeps when no policy voted not sampled; else
//!   the trace is dropped. Evaluation errors count in `sampling_policy_evaluation_error`.

pub mod buffer;
pub mod config;
pub mod policy;
mod record;

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use ferrotel_pdata::wire::{TracePiece, TraceRun};
use ferrotel_pdata::{Payload, Request, Signal, wire};
use ferrotel_runtime::telemetry::obs::ProcessorObs;
use ferrotel_runtime::telemetry::{Counter, DEFAULT_BOUNDS, Gauge, Histogram};
use ferrotel_runtime::*;
use tokio::sync::Notify;
use tokio::time::Instant;

use buffer::{DecisionCache, DueTrace, Evicted, TraceId, TraceTable};
pub use config::TailSamplingConfig;
use policy::{Clock, Decision, Policy, TraceData};

/// Factory of the `tail_sampling` processor.
pub struct TailSamplingFactory;

impl ProcessorFactory for TailSamplingFactory {
    type Config = TailSamplingConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "tail_sampling",
            "Samples whole traces by policies, after waiting for their spans",
        )
        .signal(Signal::Traces, Stability::Beta)
    }

    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        signal: Signal,
        next: ConsumerRef,
    ) -> Result<Arc<dyn Processor>, ComponentError> {
        let mut policies = config
            .policies
            .iter()
            .map(|p| Ok((p.name.clone(), Policy::new(p)?)))
            .collect::<Result<Vec<_>, String>>()
            .map_err(ComponentError::new)?;
        // As Go: drop policies first (a drop vote ends the evaluation), the rest in order.
        policies.sort_by_key(|(_, p)| !matches!(p, Policy::Drop(_)));
        let id = ctx.id.to_string();
        let pipeline = ctx
            .pipeline
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default();
        let metrics = Metrics::new(&ctx.telemetry, &id, &policies);
        let capacity = usize::try_from(config.num_traces).unwrap_or(usize::MAX);
        let expected = (config.expected_new_traces_per_sec as f64
            * config.decision_wait.as_secs_f64()) as usize;
        Ok(Arc::new(TailSampling {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    table: TraceTable::new(capacity, expected, config.block_on_overflow),
                    sampled: DecisionCache::new(config.decision_cache.sampled_cache_size),
                    not_sampled: DecisionCache::new(config.decision_cache.non_sampled_cache_size),
                    stopped: false,
                }),
                policies: Mutex::new(policies),
                obs: ProcessorObs::new(&ctx.telemetry, &id, &pipeline, signal),
                id,
                config,
                next,
                metrics,
                wake: Notify::new(),
                space: Notify::new(),
                base: Instant::now(),
            }),
            timer: Mutex::new(None),
        }))
    }
}

/// Per top-level policy metrics, named and labelled as the Go processor's.
struct PolicyMetrics {
    /// `count_traces_sampled{policy, sampled, decision}`, by [`Decision::outcome`].
    traces: [Counter; 3],
    /// `count_spans_sampled{policy, sampled, decision}` (behind a feature gate in Go).
    spans: [Counter; 3],
    /// `sampling_policy_execution_count{policy}`.
    executions: Counter,
    /// `sampling_policy_execution_time_sum{policy}` (µs).
    execution_time: Counter,
    /// `sampling_decision_latency{policy}` (µs): Go's histogram before v0.151, kept.
    latency: Histogram,
}

/// The processor's own metrics, named as the Go processor's.
struct Metrics {
    policies: Vec<PolicyMetrics>,
    /// `global_count_traces_sampled{sampled, decision}`: final decisions by outcome.
    global: [Counter; 3],
    /// `sampling_decision_timer_latency` (ms): one run of the decision task.
    timer_latency: Histogram,
    /// `sampling_late_span_age` (s): from the decision to a late span.
    late_span_age: Histogram,
    /// `sampling_trace_removal_age` (s): from a trace's arrival to its leaving memory.
    removal_age: Histogram,
    dropped_too_early: Counter,
    /// `traces_dropped_too_large`: pending traces past `maximum_trace_size_bytes`.
    too_large: Counter,
    late_sampled: Counter,
    late_not_sampled: Counter,
    cache_sampled: Counter,
    cache_not_sampled: Counter,
    new_traces: Counter,
    evaluation_errors: Counter,
    traces_on_memory: Gauge,
}

/// A metric's full name from the part after the Go processor's prefix.
macro_rules! name {
    ($n:literal) => {
        concat!("otelcol_processor_tail_sampling_", $n)
    };
}

/// The Go processor's buckets for its latency histograms.
const LATENCY_BOUNDS: &[u64] = &[
    1, 2, 5, 10, 25, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1000, 2000, 3000, 4000, 5000,
    10000, 20000, 30000, 50000,
];

/// The final decisions, indexes of [`Decision::OUTCOMES`].
const SAMPLED: usize = 0;
const NOT_SAMPLED: usize = 1;
const DROPPED: usize = 2;

impl Metrics {
    fn new(t: &Telemetry, id: &str, policies: &[(String, Policy)]) -> Self {
        let p = ("processor", id);
        // One counter per outcome, labelled `sampled` and `decision` as Go does.
        let outcomes = |metric: &'static str, help, policy: Option<&str>| -> [Counter; 3] {
            std::array::from_fn(|o| {
                let d = Decision::OUTCOMES[o];
                let sampled = if o == SAMPLED { "true" } else { "false" };
                let mut labels = vec![p, ("sampled", sampled), ("decision", d)];
                if let Some(policy) = policy {
                    labels.push(("policy", policy));
                }
                t.counter(metric, help, &labels)
            })
        };
        // Go labels a named processor's policies `<name>.<policy>` (`tail_sampling/a`: `a.x`).
        let name = id.split_once('/').map_or("", |(_, n)| n);
        let policies = policies
            .iter()
            .map(|(policy, _)| {
                let label = if name.is_empty() {
                    policy.clone()
                } else {
                    format!("{name}.{policy}")
                };
                let policy = &label;
                let with_policy = [p, ("policy", policy.as_str())];
                PolicyMetrics {
                    traces: outcomes(
                        name!("count_traces_sampled"),
                        "Traces per policy and vote (a vote, not the final decision).",
                        Some(policy),
                    ),
                    spans: outcomes(
                        name!("count_spans_sampled"),
                        "Spans per policy and vote (a vote, not the final decision).",
                        Some(policy),
                    ),
                    executions: t.counter(
                        name!("sampling_policy_execution_count"),
                        "Evaluations of a policy.",
                        &with_policy,
                    ),
                    execution_time: t.counter(
                        name!("sampling_policy_execution_time_sum"),
                        "Time (in microseconds) spent evaluating a policy.",
                        &with_policy,
                    ),
                    latency: t.histogram(
                        name!("sampling_decision_latency"),
                        "Latency (in microseconds) of a given sampling policy.",
                        "us",
                        LATENCY_BOUNDS,
                        &with_policy,
                    ),
                }
            })
            .collect();
        let with = |n, help, k, v: &str| t.counter(n, help, &[p, (k, v)]);
        let plain = |n, help| t.counter(n, help, &[p]);
        let seconds = |n, help| t.histogram(n, help, "s", DEFAULT_BOUNDS, &[p]);
        Metrics {
            policies,
            global: outcomes(
                name!("global_count_traces_sampled"),
                "Final decisions: traces sampled, not sampled or dropped.",
                None,
            ),
            timer_latency: t.histogram(
                name!("sampling_decision_timer_latency"),
                "Latency (in milliseconds) of each run of the sampling decision timer.",
                "ms",
                LATENCY_BOUNDS,
                &[p],
            ),
            late_span_age: seconds(
                name!("sampling_late_span_age"),
                "Time (in seconds) from the sampling decision to the arrival of a late span.",
            ),
            removal_age: seconds(
                name!("sampling_trace_removal_age"),
                "Time (in seconds) from the arrival of a new trace to its removal from memory.",
            ),
            late_sampled: with(
                name!("sampling_late_spans"),
                "Spans that arrived after their trace's decision, by that decision.",
                "sampled",
                "true",
            ),
            late_not_sampled: with(
                name!("sampling_late_spans"),
                "Spans that arrived after their trace's decision, by that decision.",
                "sampled",
                "false",
            ),
            cache_sampled: with(
                name!("early_releases_from_cache_decision"),
                "Spans released at once by a decision cache hit.",
                "sampled",
                "true",
            ),
            cache_not_sampled: with(
                name!("early_releases_from_cache_decision"),
                "Spans released at once by a decision cache hit.",
                "sampled",
                "false",
            ),
            dropped_too_early: plain(
                name!("sampling_trace_dropped_too_early"),
                "Traces pushed out of memory (num_traces) before their decision.",
            ),
            too_large: plain(
                name!("traces_dropped_too_large"),
                "Traces dropped before their decision for growing past maximum_trace_size_bytes.",
            ),
            new_traces: plain(
                name!("new_trace_id_received"),
                "Traces seen for the first time (or again after leaving memory).",
            ),
            evaluation_errors: plain(
                name!("sampling_policy_evaluation_error"),
                "Policy evaluations that failed.",
            ),
            traces_on_memory: t.gauge(
                name!("sampling_traces_on_memory"),
                "Traces in memory, pending and decided.",
                &[p],
            ),
        }
    }
}

struct State {
    table: TraceTable,
    sampled: DecisionCache,
    not_sampled: DecisionCache,
    stopped: bool,
}

struct Inner {
    id: String,
    config: TailSamplingConfig,
    next: ConsumerRef,
    obs: ProcessorObs,
    metrics: Metrics,
    state: Mutex<State>,
    /// Only the decision task (and the shutdown after it) evaluates: stateful policies (rate
    /// limits) need the one lock. Drop policies first.
    policies: Mutex<Vec<(String, Policy)>>,
    /// Wakes the decision task when the first pending trace arrives.
    wake: Notify,
    /// Wakes requests held by `block_on_overflow` after decisions (or the shutdown).
    space: Notify,
    /// Origin of the per-second counters of rate-limiting policies.
    base: Instant,
}

/// The final decision from the policies' votes (Go's precedence), as an index of
/// [`Decision::OUTCOMES`], and the policy that sampled. As in Go, a drop vote ends the
/// evaluation (drop policies come first), and so does a sample vote with `first_match`.
fn decide(
    policies: &mut [(String, Policy)],
    trace: &mut TraceData,
    clock: Clock,
    first_match: bool,
    metrics: &Metrics,
) -> (usize, Option<usize>) {
    // The first policy that voted each way, by `Decision as usize`.
    let mut first = [None; Decision::COUNT];
    for (i, (_, p)) in policies.iter_mut().enumerate() {
        // Wall time even on tokio's paused test clock: this measures work, not waiting.
        let started = std::time::Instant::now();
        let d = p.evaluate(trace, clock);
        if let Some(m) = metrics.policies.get(i) {
            let us = started.elapsed().as_micros() as u64;
            m.latency.record(us);
            m.executions.add(1);
            m.execution_time.add(us);
            if let Some(o) = d.outcome() {
                m.traces[o].add(1);
                m.spans[o].add(trace.span_count);
            }
        }
        if d == Decision::Error {
            metrics.evaluation_errors.add(1);
            continue;
        }
        first[d as usize].get_or_insert(i);
        if d == Decision::Dropped || (first_match && d == Decision::Sampled) {
            break;
        }
    }
    let got = |d: Decision| first[d as usize];
    if got(Decision::Dropped).is_some() {
        (DROPPED, None)
    } else if got(Decision::InvertNotSampled).is_some() {
        (NOT_SAMPLED, None)
    } else if let Some(i) = got(Decision::Sampled) {
        (SAMPLED, Some(i))
    } else if let (Some(i), None) = (got(Decision::InvertSampled), got(Decision::NotSampled)) {
        (SAMPLED, Some(i))
    } else {
        (NOT_SAMPLED, None)
    }
}

/// Sampled spans to pass on as one request: encoded parts and their span count.
#[derive(Default)]
struct Outgoing {
    parts: Vec<Bytes>,
    spans: usize,
}

impl Outgoing {
    fn push(&mut self, part: Bytes, spans: usize) {
        self.parts.push(part);
        self.spans += spans;
    }
}

/// What [`Inner::buffer`] left: nothing, or pieces waiting for room (`block_on_overflow`).
enum Buffered<'a> {
    Done,
    Full(Pin<Box<tokio::sync::futures::Notified<'a>>>),
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn clock(&self) -> Clock {
        let now = Instant::now();
        Clock {
            now,
            second: now.saturating_duration_since(self.base).as_secs(),
        }
    }

    /// Buffers the pieces of a request (one per trace, taken from the front of `groups`);
    /// late spans of sampled traces go to `forward`, to pass on at once. With
    /// `block_on_overflow`, stops at a new trace that finds memory full of pending traces and
    /// returns what to wait for before calling again.
    fn buffer(
        &self,
        groups: &mut VecDeque<TracePiece>,
        forward: &mut Outgoing,
    ) -> Result<Buffered<'_>, ConsumeError> {
        let now = Instant::now();
        let deadline = now + self.config.decision_wait;
        let m = &self.metrics;
        let max_size = self.config.maximum_trace_size_bytes;
        let mut st = self.lock();
        if st.stopped {
            return Err(ConsumeError::retryable(
                "tail_sampling processor is shutting down",
                None,
            ));
        }
        let after_root = self.config.decision_wait_after_root_received;
        // Wakes the decision task only when a deadline sooner than its next one appears.
        let mut earliest = st.table.next_deadline();
        let mut wake = false;
        let mut blocked = None;
        while let Some(piece) = groups.pop_front() {
            let id = piece.trace_id;
            let spans = piece.spans as u64;
            // As the piece would weigh cut as a request of its own (`bytes_limiting`,
            // `maximum_trace_size_bytes`).
            let piece_len = wire::encoded_len(&piece.runs) as u64;
            let st = &mut *st;
            if let Some(t) = st.table.traces.get_mut(&id) {
                match t.decision {
                    None => {
                        t.spans += spans;
                        t.bytes += piece_len;
                        if max_size > 0 && t.bytes > max_size {
                            self.drop_oversized(st, &id, now);
                            continue;
                        }
                        let root = (!after_root.is_zero()).then(|| now + after_root);
                        wake |= hold(&mut st.table, id, piece.runs, root, &mut earliest);
                    }
                    Some(sampled) => {
                        m.late_span_age
                            .record(now.saturating_duration_since(t.due).as_secs());
                        if sampled {
                            m.late_sampled.add(spans);
                            forward.push(wire::encode_runs(&piece.runs), piece.spans);
                        } else {
                            m.late_not_sampled.add(spans);
                            self.obs.dropped.add(spans);
                        }
                    }
                }
                continue;
            }
            if st.sampled.get(&id) {
                m.cache_sampled.add(spans);
                let chunk = wire::encode_runs(&piece.runs);
                let chunk = if self.config.record_policy {
                    record::cached(&chunk)
                } else {
                    chunk
                };
                forward.push(chunk, piece.spans);
                continue;
            }
            if st.not_sampled.get(&id) {
                m.cache_not_sampled.add(spans);
                self.obs.dropped.add(spans);
                continue;
            }
            if self.config.block_on_overflow && !self.make_room(st, now) {
                // Registered before the lock is released: a decision cannot slip between.
                let mut wait = Box::pin(self.space.notified());
                wait.as_mut().enable();
                groups.push_front(piece);
                blocked = Some(wait);
                break;
            }
            if earliest.is_none_or(|e| deadline < e) {
                earliest = Some(deadline);
                wake = true;
            }
            match st.table.insert(id, now, deadline) {
                Evicted::Pending {
                    spans: lost,
                    arrived,
                } => {
                    m.dropped_too_early.add(1);
                    m.removal_age
                        .record(now.saturating_duration_since(arrived).as_secs());
                    self.obs.dropped.add(lost);
                }
                Evicted::Decided { arrived } => {
                    m.removal_age
                        .record(now.saturating_duration_since(arrived).as_secs());
                }
                Evicted::Nothing => {}
            }
            m.new_traces.add(1);
            if max_size > 0 && piece_len > max_size {
                if let Some(t) = st.table.traces.get_mut(&id) {
                    t.spans = spans;
                }
                self.drop_oversized(st, &id, now);
                continue;
            }
            if let Some(t) = st.table.traces.get_mut(&id) {
                t.spans = spans;
                t.bytes = piece_len;
            }
            let root = (!after_root.is_zero()).then(|| now + after_root);
            wake |= hold(&mut st.table, id, piece.runs, root, &mut earliest);
        }
        m.traces_on_memory.set(st.table.len() as u64);
        drop(st);
        if wake {
            self.wake.notify_one();
        }
        Ok(blocked.map_or(Buffered::Done, Buffered::Full))
    }

    /// `maximum_trace_size_bytes`: the pending trace `id` (with the `spans` just received)
    /// is dropped and remembered as not sampled, as Go does.
    fn drop_oversized(&self, st: &mut State, id: &TraceId, now: Instant) {
        let lost = st.table.drop_oversized(id, now);
        st.not_sampled.put(*id);
        self.metrics.too_large.add(1);
        self.obs.dropped.add(lost);
    }

    /// `block_on_overflow`: makes room for a new trace by forgetting decided traces only;
    /// false when every trace in memory is pending.
    fn make_room(&self, st: &mut State, now: Instant) -> bool {
        while st.table.is_full() {
            match st.table.evict_decided() {
                Some(arrived) => self
                    .metrics
                    .removal_age
                    .record(now.saturating_duration_since(arrived).as_secs()),
                None => return false,
            }
        }
        true
    }

    /// Decides on the due traces and passes the sampled ones on, as one request.
    async fn decide_and_send(&self, due: Vec<DueTrace>) {
        if due.is_empty() {
            return;
        }
        let run = std::time::Instant::now();
        let clock = self.clock();
        let m = &self.metrics;
        let mut decisions = Vec::with_capacity(due.len());
        let mut out = Outgoing::default();
        {
            let mut policies = self.policies.lock().unwrap_or_else(|e| e.into_inner());
            for d in due {
                // No decode here: the policies read what they need on the wire, and the
                // sampled spans go on as these bytes.
                let bytes = wire::encode_runs(&d.runs);
                drop(d.runs);
                let mut trace = TraceData::new(bytes, d.spans, d.bytes, d.id);
                let (outcome, by) = decide(
                    &mut policies,
                    &mut trace,
                    clock,
                    self.config.sample_on_first_match,
                    m,
                );
                m.global[outcome].add(1);
                let sampled = outcome == SAMPLED;
                if !sampled {
                    self.obs.dropped.add(d.spans);
                } else if let (true, Some(i)) = (self.config.record_policy, by) {
                    let (name, policy) = &policies[i];
                    let choice = policy.composite_choice();
                    match trace.request() {
                        Ok(r) => out.push(
                            record::sampled(
                                std::mem::replace(r, Request::empty(Signal::Traces)),
                                name,
                                choice,
                            ),
                            d.spans as usize,
                        ),
                        Err(e) => {
                            // Validated when buffered, so not expected: sent unannotated.
                            tracing::error!(processor = %self.id, error = %e, "tail_sampling: record_policy could not decode a sampled trace");
                            out.push(trace.encoded().clone(), d.spans as usize);
                        }
                    }
                } else {
                    out.push(trace.encoded().clone(), d.spans as usize);
                }
                decisions.push((d.id, d.generation, sampled));
            }
        }
        {
            let mut st = self.lock();
            for (id, generation, sampled) in decisions {
                // Spans that came while the policies ran follow the decision.
                let rest = st.table.decided(&id, generation, sampled, clock.now);
                if sampled {
                    if !rest.is_empty() {
                        out.push(wire::encode_runs(&rest), wire::runs_span_count(&rest));
                    }
                    st.sampled.put(id);
                } else {
                    self.obs.dropped.add(wire::runs_span_count(&rest) as u64);
                    st.not_sampled.put(id);
                }
            }
        }
        if self.config.block_on_overflow {
            self.space.notify_waiters();
        }
        m.timer_latency.record(run.elapsed().as_millis() as u64);
        // The senders were answered when the spans were buffered: errors can only be counted.
        let _ = self.send(out).await;
    }

    /// Passes spans on as one request; a refusal is counted, logged and returned.
    async fn send(&self, out: Outgoing) -> Result<(), ConsumeError> {
        if out.parts.is_empty() {
            return Ok(());
        }
        // The parts were written from validated requests: no second validation pass.
        let payload = wire::merge(Signal::Traces, &out.parts)
            .map(|b| Payload::from_encoded(Signal::Traces, b, out.spans));
        let payload = match payload {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(processor = %self.id, error = %e, "tail_sampling: sampled spans could not be merged");
                return Err(ConsumeError::permanent(format!("tail_sampling: {e}")));
            }
        };
        let n = payload.items() as u64;
        match self.next.consume(payload, Context::default()).await {
            Ok(()) => {
                self.obs.outgoing.add(n);
                Ok(())
            }
            Err(e) => {
                self.obs.dropped.add(n);
                tracing::error!(processor = %self.id, spans = n, reason = %e.message, "tail_sampling: sampled spans refused by the next component");
                Err(e)
            }
        }
    }
}

/// Adds a piece's runs to its pending trace. With `decision_wait_after_root_received`
/// (`root_deadline`), a piece holding the trace's root span brings its decision forward to
/// that deadline (never later). Returns whether the decision task must wake.
fn hold(
    table: &mut TraceTable,
    id: buffer::TraceId,
    runs: Vec<TraceRun>,
    root_deadline: Option<Instant>,
    earliest: &mut Option<Instant>,
) -> bool {
    let mut wake = false;
    if let Some(deadline) = root_deadline
        && wire::runs_have_root_span(&runs)
        && table.expedite(&id, deadline)
        && earliest.is_none_or(|e| deadline < e)
    {
        *earliest = Some(deadline);
        wake = true;
    }
    if let Some(t) = table.traces.get_mut(&id) {
        t.runs.add(runs);
    }
    wake
}

/// The `tail_sampling` processor of one pipeline.
pub struct TailSampling {
    inner: Arc<Inner>,
    timer: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl TailSampling {
    /// Traces in memory (pending and decided), for tests.
    pub fn traces_in_memory(&self) -> usize {
        self.inner.lock().table.len()
    }
}

impl Consumer for TailSampling {
    fn consume(&self, payload: Payload, _ctx: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let n = payload.items() as u64;
            self.inner.obs.incoming.add(n);
            if n == 0 {
                return Ok(());
            }
            // Encoded as received (free), or encoded once if a processor before decoded it.
            let bytes = payload.to_proto();
            drop(payload);
            let mut groups: VecDeque<_> = wire::split_trace_runs(&bytes)
                .map_err(|e| ConsumeError::permanent(format!("tail_sampling: {e}")))?
                .into();
            let mut late = Outgoing::default();
            while let Buffered::Full(room) = self.inner.buffer(&mut groups, &mut late)? {
                // block_on_overflow: held until a decision frees room (back-pressure).
                room.await;
            }
            // Late spans of sampled traces go on now: their sender still hears of a refusal.
            self.inner.send(late).await
        })
    }

    fn admit(&self, signal: Signal) -> Result<(), ConsumeError> {
        self.inner.next.admit(signal)
    }
}

impl Lifecycle for TailSampling {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let mut timer = self.timer.lock().unwrap_or_else(|e| e.into_inner());
            if timer.is_some() {
                return Ok(());
            }
            let inner = self.inner.clone();
            *timer = Some(tokio::spawn(async move {
                loop {
                    let notified = inner.wake.notified();
                    let (due, next, stopped) = {
                        let mut st = inner.lock();
                        let due = st.table.take_due(Instant::now(), false);
                        (due, st.table.next_deadline(), st.stopped)
                    };
                    inner.decide_and_send(due).await;
                    if stopped {
                        return;
                    }
                    match next {
                        Some(deadline) => {
                            tokio::select! {
                                _ = tokio::time::sleep_until(deadline) => {}
                                _ = notified => {}
                            }
                        }
                        None => notified.await,
                    }
                }
            }));
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            self.inner.lock().stopped = true;
            self.inner.wake.notify_one();
            // Requests held by block_on_overflow are refused, retryably.
            self.inner.space.notify_waiters();
            let timer = self.timer.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(t) = timer {
                let _ = t.await;
            }
            // The traces still waiting: decided on what arrived, or dropped when asked to.
            let rest = self.inner.lock().table.take_due(Instant::now(), true);
            if self.inner.config.drop_pending_traces_on_shutdown {
                let n: u64 = rest.iter().map(|d| d.spans).sum();
                self.inner.obs.dropped.add(n);
            } else {
                self.inner.decide_and_send(rest).await;
            }
            Ok(())
        })
    }
}

impl Processor for TailSampling {}

#[cfg(test)]
mod limits_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod timing_tests;
#[cfg(test)]
mod wire_tests;
