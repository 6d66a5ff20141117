//! What every exporter needs around its "send one request" function: a bounded sending queue
//! with consumers, retry with exponential backoff honouring server hints, a per-attempt
//! timeout, and the `otelcol_exporter_*` metrics. Configured with the Go Collector's keys
//! (`sending_queue`, `retry_on_failure`, `timeout`).
//!
//! Unlike the Go Collector, a drop is never silent: every item given up on is counted in
//! `otelcol_exporter_send_failed_*` or `otelcol_exporter_enqueue_failed_*` and logged with
//! the reason.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use ferrotel_pdata::Payload;
use serde::Deserialize;
use tokio::sync::Notify;

use crate::component::*;
use crate::config::{ComponentId, ConfigError, duration};
use crate::telemetry::obs::ExporterObs;

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

/// What the queue measures its size in (`sending_queue::sizer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Sizer {
    #[default]
    Requests,
    Items,
    Bytes,
}

/// `sending_queue`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueSettings {
    pub enabled: bool,
    pub num_consumers: usize,
    pub queue_size: u64,
    pub sizer: Sizer,
    /// Wait for room instead of refusing when full: back-pressure reaches the receiver.
    pub block_on_overflow: bool,
    /// A storage extension id for a persistent queue (e.g. `file_storage`).
    pub storage: Option<ComponentId>,
    /// Accepted for compatibility: the caller waits for the export result.
    pub wait_for_result: bool,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            enabled: true,
            num_consumers: 10,
            queue_size: 1000,
            sizer: Sizer::Requests,
            block_on_overflow: false,
            storage: None,
            wait_for_result: false,
        }
    }
}

impl QueueSettings {
    /// A queue that is off (exporters like `file` and `debug` default to this).
    pub fn disabled() -> Self {
        QueueSettings {
            enabled: false,
            ..Default::default()
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.enabled && self.num_consumers == 0 {
            return Err(ConfigError::field(
                "sending_queue::num_consumers",
                "must be at least 1",
            ));
        }
        if self.enabled && self.queue_size == 0 {
            return Err(ConfigError::field(
                "sending_queue::queue_size",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// `retry_on_failure`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrySettings {
    pub enabled: bool,
    #[serde(deserialize_with = "duration::deserialize")]
    pub initial_interval: Duration,
    pub randomization_factor: f64,
    pub multiplier: f64,
    #[serde(deserialize_with = "duration::deserialize")]
    pub max_interval: Duration,
    /// 0 means retry forever.
    #[serde(deserialize_with = "duration::deserialize")]
    pub max_elapsed_time: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            enabled: true,
            initial_interval: Duration::from_secs(5),
            randomization_factor: 0.5,
            multiplier: 1.5,
            max_interval: Duration::from_secs(30),
            max_elapsed_time: Duration::from_secs(300),
        }
    }
}

impl RetrySettings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(0.0..=1.0).contains(&self.randomization_factor) {
            return Err(ConfigError::field(
                "retry_on_failure::randomization_factor",
                "must be between 0 and 1",
            ));
        }
        if self.multiplier < 1.0 {
            return Err(ConfigError::field(
                "retry_on_failure::multiplier",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

struct QueueState {
    items: VecDeque<(Payload, Context, u64)>,
    size: u64,
    closed: bool,
}

/// The in-memory sending queue.
struct MemoryQueue {
    state: Mutex<QueueState>,
    capacity: u64,
    sizer: Sizer,
    /// Wakes consumers when an item arrives or the queue closes.
    not_empty: Notify,
    /// Wakes blocked producers when room frees up.
    not_full: Notify,
}

impl MemoryQueue {
    fn size_of(&self, p: &Payload) -> u64 {
        match self.sizer {
            Sizer::Requests => 1,
            Sizer::Items => p.items() as u64,
            Sizer::Bytes => p
                .as_encoded()
                .map(|b| b.len() as u64)
                .unwrap_or_else(|| p.to_proto().len() as u64),
        }
    }
}

/// An exporter built from a [`Sender`] and the standard settings.
pub struct QueuedExporter {
    id: ComponentId,
    sender: Arc<dyn Sender>,
    retry: RetrySettings,
    timeout: Duration,
    obs: ExporterObs,
    queue: Option<Arc<MemoryQueue>>,
    block_on_overflow: bool,
    num_consumers: usize,
    workers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Set at shutdown: retries stop backing off and give up after one more attempt.
    stopping: Arc<tokio::sync::watch::Sender<bool>>,
}

impl QueuedExporter {
    pub fn new(
        ctx: &CreateContext,
        sender: Arc<dyn Sender>,
        queue: &QueueSettings,
        retry: RetrySettings,
        timeout: Duration,
    ) -> Result<Self, ComponentError> {
        if queue.enabled && queue.storage.is_some() {
            return Err(ComponentError::new(
                "sending_queue::storage (persistent queue) is not supported yet in this build",
            ));
        }
        let obs = ExporterObs::new(&ctx.telemetry, &ctx.id.to_string());
        let q = queue.enabled.then(|| {
            obs.queue_capacity.set(queue.queue_size);
            Arc::new(MemoryQueue {
                state: Mutex::new(QueueState {
                    items: VecDeque::new(),
                    size: 0,
                    closed: false,
                }),
                capacity: queue.queue_size,
                sizer: queue.sizer,
                not_empty: Notify::new(),
                not_full: Notify::new(),
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
    /// Sends with retries; returns the final error if it gave up. Counts sent/failed items.
    async fn send_with_retry(&mut self, payload: Payload, ctx: Context) -> Result<(), SendFailure> {
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
                    return Ok(());
                }
                Ok(Err(f)) => f,
                Err(_) => {
                    SendFailure::retryable(format!("request timed out after {:?}", self.timeout))
                }
            };
            let give_up = |reason: &str, f: SendFailure, obs: &ExporterObs, id: &ComponentId| {
                obs.send_failed(signal, items);
                tracing::error!(exporter = %id, items, signal = %signal, error = %f.message, "dropping data: {reason}");
                Err(f)
            };
            if !failure.retryable {
                return give_up("permanent error", failure, &self.obs, &self.id);
            }
            if !self.retry.enabled {
                return give_up("retry_on_failure is disabled", failure, &self.obs, &self.id);
            }
            if *self.stopping.borrow() {
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
                return w.send_with_retry(payload, ctx).await.map_err(|f| {
                    if f.retryable {
                        ConsumeError::retryable(f.message, f.retry_after)
                    } else {
                        ConsumeError::permanent(f.message)
                    }
                });
            };
            let size = queue.size_of(&payload);
            loop {
                let notified = queue.not_full.notified();
                {
                    let mut st = queue.state.lock().unwrap_or_else(|e| e.into_inner());
                    if st.closed {
                        return Err(ConsumeError::retryable(
                            format!("exporter \"{}\" is shutting down", self.id),
                            None,
                        ));
                    }
                    // A single request larger than the whole queue is still accepted into an empty queue.
                    if st.size + size <= queue.capacity || st.items.is_empty() {
                        st.size += size;
                        st.items.push_back((payload, ctx, size));
                        self.obs.queue_size.set(st.size);
                        drop(st);
                        queue.not_empty.notify_one();
                        return Ok(());
                    }
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

impl Lifecycle for QueuedExporter {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let Some(queue) = &self.queue else {
                return Ok(());
            };
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
                        let next = {
                            let mut st = queue.state.lock().unwrap_or_else(|e| e.into_inner());
                            match st.items.pop_front() {
                                Some((p, c, size)) => {
                                    st.size -= size;
                                    w.obs.queue_size.set(st.size);
                                    Some((p, c))
                                }
                                None if st.closed => return,
                                None => None,
                            }
                        };
                        match next {
                            Some((p, c)) => {
                                queue.not_full.notify_one();
                                let _ = w.send_with_retry(p, c).await;
                            }
                            None => notified.await,
                        }
                    }
                }));
            }
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            if let Some(queue) = &self.queue {
                queue.state.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
                queue.not_empty.notify_waiters();
                queue.not_full.notify_waiters();
                let workers: Vec<_> =
                    std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
                for w in workers {
                    let _ = w.await;
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
        if let Some(q) = &self.queue {
            let st = q.state.lock().unwrap_or_else(|e| e.into_inner());
            if !st.items.is_empty() {
                tracing::error!(exporter = %self.id, requests = st.items.len(), "exporter dropped with data still queued");
            }
        }
    }
}
