//! `batch` processor: groups items into batches by count or time.
//!
//! Batching works on encoded payloads with the data model's shallow merge and split (a
//! protobuf concatenation and a walk of lengths), so a pipeline that does not otherwise touch
//! the data never decodes it here.
//!
//! Unlike the Go batch processor, a failed send of a batch is never silent: the items are
//! counted in `otelcol_processor_dropped_items` and, by reason, in
//! `otelcol_processor_batch_dropped_items{reason=refused_permanent|refused_retryable|split_failed}`,
//! and logged with the downstream's message. (Errors cannot go
//! back to the senders: their requests were acknowledged when the data entered the batch, as in
//! the Go Collector; put a sending queue after it for durability.)

pub mod config;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use ferrotel_pdata::{Payload, Signal};
use ferrotel_runtime::telemetry::Counter;
use ferrotel_runtime::telemetry::obs::ProcessorObs;

/// `otelcol_processor_batch_dropped_items` by reason.
struct DroppedBy {
    refused_permanent: Counter,
    refused_retryable: Counter,
    split_failed: Counter,
}
use ferrotel_runtime::*;
use tokio::sync::Notify;
use tokio::time::Instant;

pub use config::BatchConfig;

/// Factory of the `batch` processor.
pub struct BatchProcessorFactory;

impl ProcessorFactory for BatchProcessorFactory {
    type Config = BatchConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("batch", "Groups items into batches by size and time")
            .all_signals(Stability::Beta)
    }

    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        signal: Signal,
        next: ConsumerRef,
    ) -> Result<Arc<dyn Processor>, ComponentError> {
        let pipeline = ctx
            .pipeline
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default();
        let id = ctx.id.to_string();
        let obs = ProcessorObs::new(&ctx.telemetry, &id, &pipeline, signal);
        let dropped = |reason| {
            ctx.telemetry.counter(
                "otelcol_processor_batch_dropped_items",
                "Items the batch processor dropped, by reason: the next component refused them (permanently, or retryably: the batch cannot retry) or the batch could not be split.",
                &[
                    ("processor", id.as_str()),
                    ("pipeline", pipeline.as_str()),
                    ("otel_signal", signal.as_str()),
                    ("reason", reason),
                ],
            )
        };
        let dropped_by = DroppedBy {
            refused_permanent: dropped("refused_permanent"),
            refused_retryable: dropped("refused_retryable"),
            split_failed: dropped("split_failed"),
        };
        Ok(Arc::new(BatchProcessor {
            inner: Arc::new(Inner {
                id: ctx.id.to_string(),
                config,
                signal,
                next,
                obs,
                dropped_by,
                state: Mutex::new(State {
                    batches: HashMap::new(),
                    seen: HashSet::new(),
                    stopped: false,
                }),
                wake: Notify::new(),
            }),
            timer: Mutex::new(None),
        }))
    }
}

/// Pending data for one metadata key.
struct Pending {
    parts: Vec<Payload>,
    items: usize,
    /// When this batch must be sent by.
    deadline: Instant,
    ctx: Context,
}

/// A batch's key: per entry of `metadata_keys`, the client's values for it, or `None` when
/// the client sent none (Go keeps an unset key apart from an empty value). Empty without
/// `metadata_keys`.
type BatchKey = Vec<Option<Vec<String>>>;

struct State {
    batches: HashMap<BatchKey, Pending>,
    /// Every metadata combination seen so far: `metadata_cardinality_limit` bounds them over
    /// the process's lifetime, as the Go Collector's shards are never removed.
    seen: HashSet<BatchKey>,
    stopped: bool,
}

struct Inner {
    id: String,
    config: BatchConfig,
    signal: Signal,
    next: ConsumerRef,
    obs: ProcessorObs,
    dropped_by: DroppedBy,
    state: Mutex<State>,
    /// Wakes the timer task when a new batch starts (its deadline may be the earliest).
    wake: Notify,
}

impl Inner {
    fn key_of(&self, ctx: &Context) -> BatchKey {
        self.config
            .metadata_keys
            .iter()
            .map(|k| {
                let values: Vec<String> = ctx
                    .client
                    .as_ref()
                    .map(|c| c.metadata_values(k).map(str::to_owned).collect())
                    .unwrap_or_default();
                (!values.is_empty()).then_some(values)
            })
            .collect()
    }

    /// Sends one batch: merge (shallow), split by send_batch_max_size, pass on. With
    /// `keep_short_tail`, a last chunk smaller than `send_batch_size` (left by the split) is
    /// not sent but returned, to wait for more data as in the Go Collector.
    async fn send(&self, pending: Pending, keep_short_tail: bool) -> Option<Payload> {
        let Pending {
            parts, items, ctx, ..
        } = pending;
        // Profiles requests carry their own dictionaries, which a byte-level merge cannot
        // combine: when merging is refused, the parts go on one by one instead of being lost.
        // (Cloning the parts costs reference counts, not data.)
        let mut merged_one = true;
        let merged = match Payload::merge(self.signal, parts.clone()) {
            // The parts go now, not after the downstream consumer returns: a slow exporter
            // would otherwise hold each batch twice (parts and merged copy) while it works.
            Ok(m) => {
                drop(parts);
                vec![m]
            }
            Err(e) => {
                tracing::debug!(processor = %self.id, items, reason = %e, "sending the batch's parts unmerged");
                merged_one = false;
                parts
            }
        };
        let mut chunks = Vec::new();
        for part in merged {
            let n = part.items();
            match part.split(self.config.send_batch_max_size) {
                Ok(c) => chunks.extend(c),
                Err(e) => self.drop_items(
                    n,
                    &self.dropped_by.split_failed,
                    "batch dropped: it could not be split",
                    &e.to_string(),
                ),
            }
        }
        // Only a split of the one merged batch leaves a tail; unmerged parts all go on.
        let tail = if keep_short_tail
            && merged_one
            && chunks.len() > 1
            && chunks
                .last()
                .is_some_and(|c| c.items() < self.config.send_batch_size)
        {
            chunks.pop()
        } else {
            None
        };
        for chunk in chunks {
            let n = chunk.items();
            match self.next.consume(chunk, ctx.clone()).await {
                Ok(()) => self.obs.outgoing.add(n as u64),
                Err(e) => {
                    let by = if e.is_retryable() {
                        &self.dropped_by.refused_retryable
                    } else {
                        &self.dropped_by.refused_permanent
                    };
                    self.drop_items(
                        n,
                        by,
                        "batch dropped: the next component refused it",
                        &e.message,
                    )
                }
            }
        }
        tail
    }

    fn drop_items(&self, n: usize, by_reason: &Counter, what: &str, reason: &str) {
        self.obs.dropped.add(n as u64);
        by_reason.add(n as u64);
        tracing::error!(processor = %self.id, signal = %self.signal, items = n, reason, "{what}");
    }

    /// Puts the short tail of a split batch back in front of its key's pending data, with a
    /// new deadline (Go resets the timer after a size-triggered send); sends it when the
    /// processor is stopping, so nothing is left behind after the shutdown's flush. A tail
    /// plus data that came meanwhile may reach the size again: then one more round.
    async fn keep_tail(&self, key: BatchKey, mut tail: Payload, mut ctx: Context) {
        loop {
            let n = tail.items();
            let (due, keep_short_tail) = {
                let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if st.stopped {
                    let p = Pending {
                        parts: vec![tail],
                        items: n,
                        deadline: Instant::now(),
                        ctx,
                    };
                    (Some(p), false)
                } else {
                    let is_new = !st.batches.contains_key(&key);
                    let pending = st.batches.entry(key.clone()).or_insert_with(|| Pending {
                        parts: Vec::new(),
                        items: 0,
                        deadline: Instant::now() + self.config.timeout,
                        ctx,
                    });
                    pending.parts.insert(0, tail);
                    pending.items += n;
                    if is_new {
                        self.wake.notify_one();
                    }
                    let full = pending.items >= self.config.send_batch_size;
                    (full.then(|| st.batches.remove(&key)).flatten(), true)
                }
            };
            let Some(p) = due else { return };
            ctx = p.ctx.clone();
            match self.send(p, keep_short_tail).await {
                Some(t) => tail = t,
                None => return,
            }
        }
    }

    /// Takes every batch due by `now` (all of them when `all`).
    fn take_due(&self, now: Instant, all: bool) -> (Vec<Pending>, Option<Instant>) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let due: Vec<BatchKey> = st
            .batches
            .iter()
            .filter(|(_, p)| all || p.deadline <= now)
            .map(|(k, _)| k.clone())
            .collect();
        let taken = due
            .into_iter()
            .filter_map(|k| st.batches.remove(&k))
            .collect();
        let next = st.batches.values().map(|p| p.deadline).min();
        (taken, next)
    }
}

/// The `batch` processor of one pipeline.
pub struct BatchProcessor {
    inner: Arc<Inner>,
    timer: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Consumer for BatchProcessor {
    fn consume(&self, payload: Payload, ctx: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let n = payload.items();
            inner.obs.incoming.add(n as u64);
            if n == 0 {
                return Ok(());
            }
            if inner.config.timeout.is_zero() {
                // timeout 0: no waiting, only splitting by send_batch_max_size.
                inner
                    .send(
                        Pending {
                            parts: vec![payload],
                            items: n,
                            deadline: Instant::now(),
                            ctx,
                        },
                        false,
                    )
                    .await;
                return Ok(());
            }
            let key = inner.key_of(&ctx);
            let full = {
                let mut st = inner.state.lock().unwrap_or_else(|e| e.into_inner());
                if st.stopped {
                    return Err(ConsumeError::retryable(
                        "batch processor is shutting down",
                        None,
                    ));
                }
                let is_new = !st.batches.contains_key(&key);
                let limit = inner.config.metadata_cardinality_limit;
                if !inner.config.metadata_keys.is_empty() && !st.seen.contains(&key) {
                    // As in Go: a permanent error (retrying cannot help, the combinations
                    // seen are never forgotten), and 0 is no limit.
                    if limit != 0 && st.seen.len() >= limit {
                        return Err(ConsumeError::permanent(format!(
                            "batch: too many batcher metadata-value combinations (metadata_cardinality_limit {limit})"
                        )));
                    }
                    st.seen.insert(key.clone());
                }
                let pending = st.batches.entry(key.clone()).or_insert_with(|| Pending {
                    parts: Vec::new(),
                    items: 0,
                    deadline: Instant::now() + inner.config.timeout,
                    ctx: ctx.clone(),
                });
                pending.parts.push(payload);
                pending.items += n;
                if is_new {
                    inner.wake.notify_one();
                }
                if pending.items >= inner.config.send_batch_size {
                    st.batches.remove(&key)
                } else {
                    None
                }
            };
            if let Some(p) = full {
                let ctx = p.ctx.clone();
                if let Some(tail) = inner.send(p, true).await {
                    inner.keep_tail(key, tail, ctx).await;
                }
            }
            Ok(())
        })
    }

    /// A memory limiter after the batch still gets to refuse before bodies are read.
    fn admit(&self, signal: Signal) -> Result<(), ConsumeError> {
        self.inner.next.admit(signal)
    }
}

impl Lifecycle for BatchProcessor {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let mut timer = self.timer.lock().unwrap_or_else(|e| e.into_inner());
            if timer.is_some() || self.inner.config.timeout.is_zero() {
                return Ok(());
            }
            let inner = self.inner.clone();
            *timer = Some(tokio::spawn(async move {
                loop {
                    let notified = inner.wake.notified();
                    let (due, next) = inner.take_due(Instant::now(), false);
                    for p in due {
                        inner.send(p, false).await;
                    }
                    if inner
                        .state
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .stopped
                    {
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
            self.inner
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .stopped = true;
            self.inner.wake.notify_one();
            let timer = self.timer.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(t) = timer {
                let _ = t.await;
            }
            // Flush what is left; the next stages are still running.
            let (rest, _) = self.inner.take_due(Instant::now(), true);
            for p in rest {
                self.inner.send(p, false).await;
            }
            Ok(())
        })
    }
}

impl Processor for BatchProcessor {}

#[cfg(test)]
mod tests;
