//! The batch span processor: spans are handed to a dedicated thread through a lock-free queue
//! and exported from there in batches.
//!
//! - The application never blocks: `on_end` is a counter increment and a channel push; past
//!   `max_queue_size` spans are dropped and counted ([`BatchStats::dropped`]).
//! - No runtime needed: the worker is a plain thread, so it works with or without tokio (the
//!   OTLP exporter runs its own small runtime on its own thread).
//! - The worker sleeps until a full batch is queued (the thread that queues the
//!   `max_export_batch_size`-th span wakes it) or `schedule_delay` passes; it never exports a
//!   partial batch early. Sending to a sleeping channel receiver would wake it on every span,
//!   which is why the worker parks instead of blocking in `recv`.
//! - `force_flush` and `shutdown` export everything queued before them, giving up at their
//!   timeout.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crate::SdkError;
use crate::env::{self, Lookup};
use crate::export::SpanExporter;
use crate::processor::SpanProcessor;
use crate::resource::Resource;
use crate::span::SpanData;

/// The batch processor's settings (`OTEL_BSP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// `OTEL_BSP_SCHEDULE_DELAY` (ms), default 5000: the longest a span waits for export.
    pub schedule_delay: Duration,
    /// `OTEL_BSP_MAX_QUEUE_SIZE`, default 2048: spans held at most (queued or being exported).
    pub max_queue_size: usize,
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, default 512 (at most the queue size).
    pub max_export_batch_size: usize,
    /// `OTEL_BSP_EXPORT_TIMEOUT` (ms), default 30000: one export, retries included.
    pub export_timeout: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            schedule_delay: Duration::from_millis(5000),
            max_queue_size: 2048,
            max_export_batch_size: 512,
            export_timeout: Duration::from_millis(30000),
        }
    }
}

impl BatchConfig {
    pub fn from_env() -> Self {
        BatchConfig::from_lookup(&env::process_env)
    }

    pub fn from_lookup(lookup: Lookup<'_>) -> Self {
        let d = BatchConfig::default();
        BatchConfig {
            schedule_delay: env::get_millis(lookup, "OTEL_BSP_SCHEDULE_DELAY")
                .unwrap_or(d.schedule_delay),
            max_queue_size: env::get_u64(lookup, "OTEL_BSP_MAX_QUEUE_SIZE")
                .map(|n| n as usize)
                .unwrap_or(d.max_queue_size),
            max_export_batch_size: env::get_u64(lookup, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE")
                .map(|n| n as usize)
                .unwrap_or(d.max_export_batch_size),
            export_timeout: env::get_millis(lookup, "OTEL_BSP_EXPORT_TIMEOUT")
                .unwrap_or(d.export_timeout),
        }
        .normalized()
    }

    /// Sizes of at least 1, the batch no larger than the queue (the spec's constraint).
    fn normalized(mut self) -> Self {
        self.max_queue_size = self.max_queue_size.max(1);
        self.max_export_batch_size = self.max_export_batch_size.clamp(1, self.max_queue_size);
        self
    }
}

/// Counters of a batch processor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Spans refused because the queue was full (or the processor shut down mid-flight).
    pub dropped: u64,
    /// Spans exported successfully.
    pub exported: u64,
    /// Spans in batches whose export failed.
    pub export_failed: u64,
    /// Spans held now.
    pub queued: usize,
}

#[derive(Default)]
struct Shared {
    queued: AtomicUsize,
    dropped: AtomicU64,
    exported: AtomicU64,
    export_failed: AtomicU64,
    shutdown: AtomicBool,
}

/// Reads a batch processor's counters after the processor moved into a provider.
#[derive(Clone)]
pub struct BatchStatsHandle(Arc<Shared>);

impl BatchStatsHandle {
    pub fn get(&self) -> BatchStats {
        let s = &self.0;
        BatchStats {
            dropped: s.dropped.load(Ordering::Relaxed),
            exported: s.exported.load(Ordering::Relaxed),
            export_failed: s.export_failed.load(Ordering::Relaxed),
            queued: s.queued.load(Ordering::Relaxed),
        }
    }
}

enum Msg {
    Span(Box<SpanData>),
    Resource(Box<Resource>),
    Flush(Instant, mpsc::SyncSender<Result<(), SdkError>>),
    Shutdown(Instant, mpsc::SyncSender<Result<(), SdkError>>),
}

/// See the module documentation.
pub struct BatchSpanProcessor {
    tx: mpsc::Sender<Msg>,
    worker: Thread,
    shared: Arc<Shared>,
    config: BatchConfig,
}

/// Builds a [`BatchSpanProcessor`]; settings not given come from `OTEL_BSP_*`.
pub struct BatchSpanProcessorBuilder<E> {
    exporter: E,
    config: Option<BatchConfig>,
}

impl<E: SpanExporter> BatchSpanProcessorBuilder<E> {
    pub fn with_config(mut self, config: BatchConfig) -> Self {
        self.config = Some(config);
        self
    }

    pub fn build(self) -> BatchSpanProcessor {
        let config = self
            .config
            .unwrap_or_else(BatchConfig::from_env)
            .normalized();
        BatchSpanProcessor::start(Box::new(self.exporter), config)
    }
}

impl BatchSpanProcessor {
    pub fn builder<E: SpanExporter>(exporter: E) -> BatchSpanProcessorBuilder<E> {
        BatchSpanProcessorBuilder {
            exporter,
            config: None,
        }
    }

    fn start(exporter: Box<dyn SpanExporter>, config: BatchConfig) -> BatchSpanProcessor {
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared::default());
        let worker_shared = shared.clone();
        let spawned = thread::Builder::new()
            .name("ferrotel-bsp".into())
            .spawn(move || Worker::new(exporter, rx, worker_shared, config).run());
        let worker = match spawned {
            Ok(h) => h.thread().clone(),
            Err(e) => {
                // No thread, no export: every span is counted as dropped rather than the
                // application failing.
                tracing::error!(error = %e, "cannot start the batch span processor's thread");
                shared.shutdown.store(true, Ordering::Relaxed);
                thread::current()
            }
        };
        BatchSpanProcessor {
            tx,
            worker,
            shared,
            config,
        }
    }

    /// The counters (keep the handle before moving the processor into a provider).
    pub fn stats_handle(&self) -> BatchStatsHandle {
        BatchStatsHandle(self.shared.clone())
    }

    pub fn config(&self) -> BatchConfig {
        self.config
    }

    fn drop_one(&self) {
        self.shared.dropped.fetch_add(1, Ordering::Relaxed);
    }

    fn control(
        &self,
        timeout: Duration,
        make: impl FnOnce(Instant, mpsc::SyncSender<Result<(), SdkError>>) -> Msg,
    ) -> Result<(), SdkError> {
        let deadline = Instant::now() + timeout;
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        self.tx
            .send(make(deadline, reply_tx))
            .map_err(|_| SdkError::AlreadyShutdown)?;
        self.worker.unpark();
        match reply_rx.recv_timeout(timeout) {
            Ok(r) => r,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(SdkError::Timeout(timeout)),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(SdkError::AlreadyShutdown),
        }
    }
}

impl SpanProcessor for BatchSpanProcessor {
    #[inline]
    fn on_end(&self, span: Box<SpanData>) {
        if !span.span_context.is_sampled() {
            return;
        }
        let s = &*self.shared;
        if s.shutdown.load(Ordering::Relaxed) {
            self.drop_one();
            return;
        }
        let held = s.queued.fetch_add(1, Ordering::Relaxed);
        if held >= self.config.max_queue_size {
            s.queued.fetch_sub(1, Ordering::Relaxed);
            self.drop_one();
            return;
        }
        if self.tx.send(Msg::Span(span)).is_err() {
            s.queued.fetch_sub(1, Ordering::Relaxed);
            self.drop_one();
            return;
        }
        // Wake the worker once a full batch waits (unpark is an atomic swap unless the worker
        // sleeps).
        if held + 1 >= self.config.max_export_batch_size {
            self.worker.unpark();
        }
    }

    fn force_flush(&self, timeout: Duration) -> Result<(), SdkError> {
        self.control(timeout, Msg::Flush)
    }

    fn shutdown(&self, timeout: Duration) -> Result<(), SdkError> {
        if self.shared.shutdown.swap(true, Ordering::AcqRel) {
            return Err(SdkError::AlreadyShutdown);
        }
        self.control(timeout, Msg::Shutdown)
    }

    fn set_resource(&mut self, resource: &Resource) {
        let _ = self.tx.send(Msg::Resource(Box::new(resource.clone())));
    }
}

struct Worker {
    exporter: Box<dyn SpanExporter>,
    rx: mpsc::Receiver<Msg>,
    shared: Arc<Shared>,
    config: BatchConfig,
    buf: Vec<Box<SpanData>>,
}

impl Worker {
    fn new(
        exporter: Box<dyn SpanExporter>,
        rx: mpsc::Receiver<Msg>,
        shared: Arc<Shared>,
        config: BatchConfig,
    ) -> Self {
        Worker {
            exporter,
            rx,
            shared,
            config,
            buf: Vec::with_capacity(config.max_export_batch_size),
        }
    }

    fn run(mut self) {
        let mut next_export = Instant::now() + self.config.schedule_delay;
        loop {
            loop {
                match self.rx.try_recv() {
                    Ok(Msg::Span(s)) => {
                        self.buf.push(s);
                        if self.buf.len() >= self.config.max_export_batch_size {
                            // Failures are counted and logged by `export`.
                            let _ = self.export(Instant::now() + self.config.export_timeout);
                            next_export = Instant::now() + self.config.schedule_delay;
                        }
                    }
                    Ok(Msg::Resource(r)) => self.exporter.set_resource(&r),
                    Ok(Msg::Flush(deadline, reply)) => {
                        let r = self.flush(deadline);
                        let _ = reply.send(r);
                    }
                    Ok(Msg::Shutdown(deadline, reply)) => {
                        let r = self.flush(deadline);
                        self.exporter.shutdown();
                        let _ = reply.send(r);
                        self.drain_as_dropped();
                        return;
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        let _ = self.flush(Instant::now() + self.config.export_timeout);
                        self.exporter.shutdown();
                        return;
                    }
                }
            }
            let now = Instant::now();
            if now >= next_export {
                if !self.buf.is_empty() {
                    let _ = self.export(now + self.config.export_timeout);
                }
                next_export = Instant::now() + self.config.schedule_delay;
            }
            thread::park_timeout(next_export.saturating_duration_since(Instant::now()));
        }
    }

    /// Exports the buffer and everything queued now, in batches, until `deadline`.
    fn flush(&mut self, deadline: Instant) -> Result<(), SdkError> {
        let mut result = Ok(());
        loop {
            while self.buf.len() < self.config.max_export_batch_size {
                match self.rx.try_recv() {
                    Ok(Msg::Span(s)) => self.buf.push(s),
                    Ok(Msg::Resource(r)) => self.exporter.set_resource(&r),
                    // Another flush queued behind this one is answered by this one.
                    Ok(Msg::Flush(_, reply)) => {
                        let _ = reply.send(Ok(()));
                    }
                    Ok(Msg::Shutdown(_, reply)) => {
                        let _ = reply.send(Ok(()));
                    }
                    Err(_) => break,
                }
            }
            if self.buf.is_empty() {
                return result;
            }
            if Instant::now() >= deadline {
                let n = self.buf.len();
                self.discard(n);
                return Err(SdkError::Timeout(Duration::ZERO));
            }
            let export_deadline = deadline.min(Instant::now() + self.config.export_timeout);
            if let Err(e) = self.export(export_deadline) {
                result = Err(e);
            }
        }
    }

    fn export(&mut self, deadline: Instant) -> Result<(), SdkError> {
        let mut batch = std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(self.config.max_export_batch_size),
        );
        crate::export::prepare_batch(&*self.exporter, &mut batch);
        let n = batch.len();
        // A panicking exporter must not take the worker (and so every later span) down.
        let r =
            std::panic::catch_unwind(AssertUnwindSafe(|| self.exporter.export(batch, deadline)))
                .unwrap_or_else(|_| Err(SdkError::Export("exporter panicked".into())));
        self.shared.queued.fetch_sub(n, Ordering::Relaxed);
        match &r {
            Ok(()) => {
                self.shared.exported.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) => {
                self.shared
                    .export_failed
                    .fetch_add(n as u64, Ordering::Relaxed);
                tracing::warn!(error = %e, spans = n, "span export failed");
            }
        }
        r
    }

    fn discard(&mut self, n: usize) {
        self.buf.clear();
        self.shared.queued.fetch_sub(n, Ordering::Relaxed);
        self.shared.dropped.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// After shutdown: whatever raced in is counted as dropped.
    fn drain_as_dropped(&mut self) {
        while let Ok(m) = self.rx.try_recv() {
            if let Msg::Span(_) = m {
                self.shared.queued.fetch_sub(1, Ordering::Relaxed);
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
