//! What every exporter needs around its "send one request" function: a bounded sending queue
//! with consumers, retry with exponential backoff honouring server hints, a per-attempt
//! timeout, and the `otelcol_exporter_*` metrics. Configured with the Go Collector's keys
//! (`sending_queue`, `retry_on_failure`, `timeout`).
//!
//! Unlike the Go Collector, a drop is never silent: every item given up on is counted in
//! `otelcol_exporter_send_failed_*` or `otelcol_exporter_enqueue_failed_*` and logged with
//! the reason.

mod batch;
mod settings;

use batch::Take;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use ferrotel_pdata::Payload;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::component::*;
use crate::config::ComponentId;
use crate::queue::{DiskQueue, DiskQueueOptions, QueueStorage};
use crate::telemetry::Counter;
use crate::telemetry::obs::ExporterObs;

pub use settings::{
    BatchSettings, Batching, PartitionSettings, QueueSettings, RetrySettings, Sizer,
};

/// Why a send attempt failed.
#[derive(Debug, Clone)]
pub struct SendFailure {
    /// Retrying may succeed (the destination was unavailable, overloaded, timed out).
    pub retryable: bool,
    /// The server's hint (Retry-After, gRPC RetryInfo).
    pub retry_after: Option<Duration>,
    pub message: String,
}

impl SendFailure {
    pub fn permanent(message: impl Into<String>) -> Self {
        SendFailure {
            retryable: false,
            retry_after: None,
            message: message.into(),
        }
    }
    pub fn retryable(message: impl Into<String>) -> Self {
        SendFailure {
            retryable: true,
            retry_after: None,
            message: message.into(),
        }
    }
}

/// Sends one request to the destination: the part each exporter writes.
pub trait Sender: Send + Sync + 'static {
    fn send(&self, payload: Payload, ctx: Context) -> BoxFuture<'_, Result<(), SendFailure>>;

    /// Flushes and closes (files, connections) after the queue has drained.
    fn close(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async { Ok(()) })
    }
}

/// One queued request, or a part of one split across batches.
struct Entry {
    payload: Payload,
    ctx: Context,
    /// Memory-queue capacity (in the queue sizer's unit) given back when it leaves the queue;
    /// 0 for a persistent entry, whose [`Record`] holds it until acknowledged.
    size: u64,
    /// Its size in the batch sizer's unit (0 without batching).
    bsize: u64,
    /// When it entered the queue: a batch is due `flush_timeout` after its oldest request.
    enqueued: Instant,
    record: Option<Arc<Record>>,
}

/// A request in the persistent queue. It is acknowledged on disk, and its capacity given
/// back, once every part of it (batching may split it) was sent or given up on; a part kept
/// at shutdown keeps the whole request on disk (sent again after the restart: at least once).
struct Record {
    seq: u64,
    size: u64,
    parts: AtomicUsize,
    kept: AtomicBool,
}

struct QueueState {
    items: VecDeque<Entry>,
    /// What `items` holds in the batch sizer's unit (0 without batching).
    batched: u64,
    /// In the sizer's unit: what waits in memory, plus — for a persistent queue — what is
    /// being sent but not yet acknowledged (it still occupies the disk).
    size: u64,
    closed: bool,
}

/// The persistent half of a queue: where it lives, and the log once started.
struct Persistent {
    options: DiskQueueOptions,
    disk: Mutex<Option<Arc<DiskQueue>>>,
    /// `ferrotel_exporter_queue_corruptions`: segments quarantined and records skipped at
    /// recovery.
    corrupt: Counter,
}

/// The sending queue: in memory, or in memory and on disk (`sending_queue::storage`).
///
/// A persistent queue writes each request to its [`DiskQueue`] before `consume` returns, keeps
/// a copy in memory for the consumers (so `queue_size` also bounds memory), and acknowledges
/// the record once the request was sent or given up on. Its capacity is released at that
/// acknowledgement rather than when a consumer takes the request, so `queue_size` bounds the
/// disk too. Only the request is persisted, not its [`Context`] (client address, metadata,
/// auth subject): requests replayed after a restart are sent with an empty one.
///
/// At shutdown a persistent queue is not drained: retries stop, requests not yet delivered
/// stay on disk and are sent first after the next start.
struct Queue {
    state: Mutex<QueueState>,
    capacity: u64,
    sizer: Sizer,
    batching: Option<Batching>,
    /// Wakes consumers when an item arrives or the queue closes.
    not_empty: Notify,
    /// Wakes blocked producers when room frees up.
    not_full: Notify,
    persistent: Option<Persistent>,
}

impl Queue {
    fn size_of(&self, p: &Payload) -> u64 {
        measure(self.sizer, p)
    }

    /// The size of `p` in the batch sizer's unit, 0 without batching.
    fn batch_size_of(&self, p: &Payload) -> u64 {
        self.batching.map_or(0, |b| measure(b.sizer, p))
    }

    fn entry(
        &self,
        payload: Payload,
        ctx: Context,
        size: u64,
        record: Option<Arc<Record>>,
    ) -> Entry {
        Entry {
            bsize: self.batch_size_of(&payload),
            payload,
            ctx,
            size: if record.is_some() { 0 } else { size },
            enqueued: Instant::now(),
            record,
        }
    }

    /// Marks one part of a persistent request done; the last one acknowledges it (unless a
    /// part was kept for after the restart) and gives its capacity back.
    fn finish(&self, record: &Record, kept: bool, id: &ComponentId, obs: &ExporterObs) {
        if kept {
            record.kept.store(true, Ordering::Relaxed);
        }
        if record.parts.fetch_sub(1, Ordering::AcqRel) != 1 || record.kept.load(Ordering::Relaxed) {
            return;
        }
        if let Some(disk) = self.disk()
            && let Err(err) = disk.ack(record.seq)
        {
            tracing::error!(exporter = %id, error = %err, "persistent queue: cannot record delivery; the request may be sent again after a restart");
        }
        self.release(record.size, obs);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn disk(&self) -> Option<Arc<DiskQueue>> {
        self.persistent
            .as_ref()
            .and_then(|p| p.disk.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    /// Gives back capacity taken by an item that left the queue.
    fn release(&self, size: u64, obs: &ExporterObs) {
        let mut st = self.lock();
        st.size = st.size.saturating_sub(size);
        obs.queue_size.set(st.size);
        drop(st);
        self.not_full.notify_one();
    }
}

fn measure(sizer: Sizer, p: &Payload) -> u64 {
    match sizer {
        Sizer::Requests => 1,
        Sizer::Items => p.items() as u64,
        Sizer::Bytes => p
            .as_encoded()
            .map(|b| b.len() as u64)
            .unwrap_or_else(|| p.to_proto().len() as u64),
    }
}

/// An exporter built from a [`Sender`] and the standard settings.
pub struct QueuedExporter {
    id: ComponentId,
    sender: Arc<dyn Sender>,
    retry: RetrySettings,
    timeout: Duration,
    obs: ExporterObs,
    queue: Option<Arc<Queue>>,
    block_on_overflow: bool,
    num_consumers: usize,
    workers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Set at shutdown: retries stop backing off and give up after one more attempt.
    stopping: Arc<tokio::sync::watch::Sender<bool>>,
}

impl QueuedExporter {
    /// Builds the exporter. With `queue.storage`, the storage extension is looked up now (a
    /// missing one fails the build) and the queue's files are opened at `start`.
    pub fn new(
        ctx: &CreateContext,
        sender: Arc<dyn Sender>,
        queue: &QueueSettings,
        retry: RetrySettings,
        timeout: Duration,
    ) -> Result<Self, ComponentError> {
        let obs = ExporterObs::new(&ctx.telemetry, &ctx.id.to_string());
        let batching = queue
            .batching()
            .map_err(|e| ComponentError::new(e.to_string()))?;
        if queue.batch.is_some() && !queue.enabled {
            tracing::warn!(exporter = %ctx.id, "sending_queue::batch is ignored: the sending queue is disabled (batching happens after the queue)");
        }
        let persistent = match (&queue.storage, queue.enabled) {
            (Some(storage), true) => {
                let s = ctx.extension_capability::<Arc<dyn QueueStorage>>(
                    storage,
                    "storage for a persistent sending queue",
                )?;
                let id = ctx.id.to_string();
                Some(Persistent {
                    options: s.queue_options(&ctx.id)?,
                    disk: Mutex::new(None),
                    corrupt: ctx.telemetry.counter(
                        "ferrotel_exporter_queue_corruptions",
                        "Persistent queue segments quarantined and records skipped as corrupt at recovery.",
                        &[("exporter", id.as_str())],
                    ),
                })
            }
            _ => None,
        };
        let q = queue.enabled.then(|| {
            obs.queue_capacity.set(queue.queue_size);
            Arc::new(Queue {
                state: Mutex::new(QueueState {
                    items: VecDeque::new(),
                    batched: 0,
                    size: 0,
                    closed: false,
                }),
                capacity: queue.queue_size,
                sizer: queue.sizer(),
                batching,
                not_empty: Notify::new(),
                not_full: Notify::new(),
                persistent,
            })
        });
        Ok(QueuedExporter {
            id: ctx.id.clone(),
            sender,
            retry,
            timeout,
            obs,
            queue: q,
            block_on_overflow: queue.block_on_overflow,
            num_consumers: queue.num_consumers,
            workers: Mutex::new(Vec::new()),
            stopping: Arc::new(tokio::sync::watch::channel(false).0),
        })
    }

    fn worker_ctx(&self) -> Worker {
        Worker {
            id: self.id.clone(),
            sender: self.sender.clone(),
            retry: self.retry.clone(),
            timeout: self.timeout,
            obs: self.obs.clone(),
            stopping: self.stopping.subscribe(),
        }
    }

    /// Opens the persistent queue and puts what it recovered at the head of the queue, so
    /// requests from before a restart are sent first.
    async fn open_persistent(&self, queue: &Queue) -> Result<(), ComponentError> {
        let Some(p) = &queue.persistent else {
            return Ok(());
        };
        if p.disk.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
            return Ok(());
        }
        let (options, corrupt) = (p.options.clone(), p.corrupt.clone());
        let dir = options.directory.clone();
        let (disk, recovered, _report) =
            tokio::task::spawn_blocking(move || DiskQueue::open(options, corrupt))
                .await
                .map_err(|e| ComponentError::new(format!("persistent queue: {e}")))?
                .map_err(|e| {
                    ComponentError::new(format!("persistent queue in {}: {e}", dir.display()))
                })?;
        let mut st = queue.lock();
        let n = recovered.len();
        let mut items = 0;
        for (i, r) in recovered.into_iter().enumerate() {
            let size = queue.size_of(&r.payload);
            items += r.payload.items();
            st.size += size;
            let record = Arc::new(Record {
                seq: r.seq,
                size,
                parts: AtomicUsize::new(1),
                kept: AtomicBool::new(false),
            });
            let e = queue.entry(r.payload, Context::default(), size, Some(record));
            st.batched += e.bsize;
            st.items.insert(i, e);
        }
        self.obs.queue_size.set(st.size);
        drop(st);
        if n > 0 {
            tracing::info!(exporter = %self.id, requests = n, items, directory = %dir.display(), "persistent queue: replaying requests from before the restart");
        }
        *p.disk.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(disk));
        Ok(())
    }
}

/// How sending one request ended.
enum Outcome {
    Sent,
    /// Given up on: counted in `send_failed` and logged.
    Dropped(SendFailure),
    /// Interrupted by shutdown while a persistent queue holds it: it stays on disk and is sent
    /// after the restart.
    Kept,
}

#[derive(Clone)]
struct Worker {
    id: ComponentId,
    sender: Arc<dyn Sender>,
    retry: RetrySettings,
    timeout: Duration,
    obs: ExporterObs,
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl Worker {
    /// Sends with retries. Counts sent/failed items. With `keep`, a retry cut short by
    /// shutdown is not a drop: the caller keeps the request.
    async fn send_with_retry(&mut self, payload: Payload, ctx: Context, keep: bool) -> Outcome {
        let signal = payload.signal();
        let items = payload.items();
        let started = tokio::time::Instant::now();
        let mut interval = self.retry.initial_interval;
        loop {
            let attempt =
                tokio::time::timeout(self.timeout, self.sender.send(payload.clone(), ctx.clone()))
                    .await;
            let failure = match attempt {
                Ok(Ok(())) => {
                    self.obs.sent(signal, items);
                    return Outcome::Sent;
                }
                Ok(Err(f)) => f,
                Err(_) => {
                    SendFailure::retryable(format!("request timed out after {:?}", self.timeout))
                }
            };
            let give_up = |reason: &str, f: SendFailure, obs: &ExporterObs, id: &ComponentId| {
                obs.send_failed(signal, items);
                tracing::error!(exporter = %id, items, signal = %signal, error = %f.message, "dropping data: {reason}");
                Outcome::Dropped(f)
            };
            if !failure.retryable {
                return give_up("permanent error", failure, &self.obs, &self.id);
            }
            if !self.retry.enabled {
                return give_up("retry_on_failure is disabled", failure, &self.obs, &self.id);
            }
            if *self.stopping.borrow() {
                if keep {
                    tracing::info!(exporter = %self.id, items, signal = %signal, "shutting down: request stays in the persistent queue");
                    return Outcome::Kept;
                }
                return give_up("shutting down", failure, &self.obs, &self.id);
            }
            let jitter = if self.retry.randomization_factor > 0.0 {
                1.0 + self.retry.randomization_factor * (2.0 * rand::random::<f64>() - 1.0)
            } else {
                1.0
            };
            let backoff = interval.mul_f64(jitter);
            let wait = failure.retry_after.map_or(backoff, |ra| ra.max(backoff));
            let elapsed = started.elapsed();
            if !self.retry.max_elapsed_time.is_zero()
                && elapsed + wait > self.retry.max_elapsed_time
            {
                return give_up(
                    "retry_on_failure::max_elapsed_time exceeded",
                    failure,
                    &self.obs,
                    &self.id,
                );
            }
            tracing::warn!(exporter = %self.id, error = %failure.message, retry_in = ?wait, "export failed; will retry");
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.stopping.changed() => {}
            }
            if keep && *self.stopping.borrow() {
                return Outcome::Kept;
            }
            interval = interval
                .mul_f64(self.retry.multiplier)
                .min(self.retry.max_interval);
        }
    }
}

impl Consumer for QueuedExporter {
    fn consume(&self, payload: Payload, ctx: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let Some(queue) = &self.queue else {
                // No queue: the caller waits for the result, errors travel back upstream.
                let mut w = self.worker_ctx();
                return match w.send_with_retry(payload, ctx, false).await {
                    Outcome::Sent => Ok(()),
                    Outcome::Dropped(f) if f.retryable => {
                        Err(ConsumeError::retryable(f.message, f.retry_after))
                    }
                    Outcome::Dropped(f) => Err(ConsumeError::permanent(f.message)),
                    Outcome::Kept => Err(ConsumeError::retryable(
                        format!("exporter \"{}\" is shutting down", self.id),
                        None,
                    )),
                };
            };
            let size = queue.size_of(&payload);
            loop {
                let notified = queue.not_full.notified();
                // Decided under the lock, acted on after it: the guard must not live across an
                // await.
                let reserved = {
                    let mut st = queue.lock();
                    if st.closed {
                        return Err(ConsumeError::retryable(
                            format!("exporter \"{}\" is shutting down", self.id),
                            None,
                        ));
                    }
                    // A single request larger than the whole queue is still accepted into an
                    // empty queue.
                    let fits = st.size + size <= queue.capacity || st.size == 0;
                    if fits {
                        st.size += size;
                        self.obs.queue_size.set(st.size);
                        if queue.persistent.is_none() {
                            // Pushed under the same lock that saw the queue open, so a
                            // draining shutdown cannot miss it.
                            let e = queue.entry(payload, ctx, size, None);
                            st.batched += e.bsize;
                            st.items.push_back(e);
                            drop(st);
                            queue.not_empty.notify_one();
                            return Ok(());
                        }
                    }
                    fits
                };
                if reserved {
                    return self.persist(queue, payload, ctx, size).await;
                }
                if !self.block_on_overflow {
                    self.obs.enqueue_failed(payload.signal(), payload.items());
                    tracing::warn!(exporter = %self.id, items = payload.items(), "sending queue is full; refusing data");
                    return Err(ConsumeError::retryable(
                        format!("sending queue of exporter \"{}\" is full", self.id),
                        None,
                    ));
                }
                notified.await;
            }
        })
    }
}

impl QueuedExporter {
    /// Writes a request whose capacity is reserved to the disk queue; accepted only once it is
    /// durably written.
    async fn persist(
        &self,
        queue: &Queue,
        payload: Payload,
        ctx: Context,
        size: u64,
    ) -> Result<(), ConsumeError> {
        let Some(disk) = queue.disk() else {
            queue.release(size, &self.obs);
            return Err(ConsumeError::retryable(
                format!("exporter \"{}\" is not started", self.id),
                None,
            ));
        };
        match disk.append(&payload).await {
            Ok(seq) => {
                let record = Arc::new(Record {
                    seq,
                    size,
                    parts: AtomicUsize::new(1),
                    kept: AtomicBool::new(false),
                });
                let e = queue.entry(payload, ctx, size, Some(record));
                let mut st = queue.lock();
                st.batched += e.bsize;
                st.items.push_back(e);
                drop(st);
                queue.not_empty.notify_one();
                Ok(())
            }
            Err(e) => {
                queue.release(size, &self.obs);
                self.obs.enqueue_failed(payload.signal(), payload.items());
                Err(ConsumeError::retryable(
                    format!(
                        "exporter \"{}\": cannot write to the persistent queue: {e}",
                        self.id
                    ),
                    None,
                ))
            }
        }
    }
}

impl Lifecycle for QueuedExporter {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let Some(queue) = &self.queue else {
                return Ok(());
            };
            self.open_persistent(queue).await?;
            let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
            if !workers.is_empty() {
                return Ok(());
            }
            for _ in 0..self.num_consumers {
                let queue = queue.clone();
                let mut w = self.worker_ctx();
                workers.push(tokio::spawn(async move {
                    loop {
                        let notified = queue.not_empty.notified();
                        let entries = match queue.take(&w.obs) {
                            Take::Stop => return,
                            Take::Wait(deadline) => {
                                match deadline {
                                    Some(d) => tokio::select! {
                                        _ = tokio::time::sleep_until(d) => {}
                                        _ = notified => {}
                                    },
                                    None => notified.await,
                                }
                                continue;
                            }
                            Take::Entries(entries) => entries,
                        };
                        queue.send(&mut w, entries).await;
                    }
                }));
            }
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            if let Some(queue) = &self.queue {
                queue.lock().closed = true;
                if queue.persistent.is_some() {
                    // Nothing needs draining: stop retrying now, the disk keeps the rest.
                    let _ = self.stopping.send(true);
                }
                queue.not_empty.notify_waiters();
                queue.not_full.notify_waiters();
                let workers: Vec<_> =
                    std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
                for w in workers {
                    let _ = w.await;
                }
                if let Some(disk) = queue.disk() {
                    let _ = tokio::task::spawn_blocking(move || disk.close()).await;
                }
            }
            let _ = self.stopping.send(true);
            self.sender.close().await
        })
    }
}

impl Exporter for QueuedExporter {}

impl Drop for QueuedExporter {
    fn drop(&mut self) {
        if let Some(q) = &self.queue
            && q.persistent.is_none()
        {
            let st = q.lock();
            if !st.items.is_empty() {
                tracing::error!(exporter = %self.id, requests = st.items.len(), "exporter dropped with data still queued");
            }
        }
    }
}

#[cfg(test)]
mod persistent_tests;

#[cfg(test)]
mod batch_tests;
