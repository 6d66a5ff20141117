//! `memory_limiter` processor: refuses data while the process uses too much memory, so the
//! collector sheds load (senders retry later) instead of being killed.
//!
//! A background task measures memory every `check_interval` (the resident set, see
//! [`memory`]). Above the soft limit (`limit − spike`) the processor refuses new data with a
//! retryable error, which receivers answer with 503/Unavailable and Retry-After. It also
//! answers [`Consumer::admit`], which receivers ask *before* reading a request body: under
//! pressure a request is refused without its body ever being allocated, where the Go Collector
//! reads and decodes the body first and refuses afterwards. Above the hard limit the allocator
//! is also asked to return free memory to the OS. Back below the soft limit, data is accepted
//! again.
//!
//! Refusals are counted in `otelcol_processor_refused_{spans,metric_points,log_records,profiles}`
//! (items refused in `consume`) and `otelcol_processor_refused_requests` (requests refused by
//! `admit`, whose items were never read).

pub mod config;
pub mod memory;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrotel_pdata::{Payload, Signal};
use ferrotel_runtime::telemetry::Counter;
use ferrotel_runtime::telemetry::obs::ProcessorObs;
use ferrotel_runtime::*;

pub use config::{Limits, MemoryLimiterConfig};
use memory::MemoryUsage;

const MIB: u64 = 1024 * 1024;

/// The refusal message, as the Go Collector words it.
pub const REFUSED: &str = "data refused due to high memory usage";

/// Factory of the `memory_limiter` processor.
pub struct MemoryLimiterFactory;

impl ProcessorFactory for MemoryLimiterFactory {
    type Config = MemoryLimiterConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "memory_limiter",
            "Refuses data while memory use is above a limit",
        )
        .signal(Signal::Traces, Stability::Beta)
        .signal(Signal::Metrics, Stability::Beta)
        .signal(Signal::Logs, Stability::Beta)
        .signal(Signal::Profiles, Stability::Development)
    }

    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        signal: Signal,
        next: ConsumerRef,
    ) -> Result<Arc<dyn Processor>, ComponentError> {
        let limits = config
            .limits(memory::available_memory)
            .map_err(ComponentError::new)?;
        Ok(Arc::new(MemoryLimiter::new(
            &ctx,
            &config,
            limits,
            signal,
            next,
            Box::new(memory::ProcessRss::new()),
            Box::new(memory::release_free_memory),
        )))
    }
}

/// State shared with the background task.
struct Shared {
    id: String,
    usage: Box<dyn MemoryUsage>,
    release: Box<dyn Fn() + Send + Sync>,
    limits: Limits,
    min_release_soft: Duration,
    min_release_hard: Duration,
    last_release: Mutex<Option<Instant>>,
    /// Whether new data is refused: read on every request, written by the checks.
    refusing: AtomicBool,
    /// The last measurement, in bytes.
    last_used: AtomicU64,
}

impl Shared {
    /// Measures memory and updates the refusing state; asks the allocator to return memory
    /// when above a limit (at most once per `min_gc_interval_when_*`).
    fn check(&self) {
        let Some(mut used) = self.usage.used_bytes() else {
            tracing::warn!(processor = %self.id, "memory_limiter: cannot measure memory usage; keeping the current state");
            return;
        };
        if used > self.limits.soft {
            let min_interval = if used > self.limits.hard {
                self.min_release_hard
            } else {
                self.min_release_soft
            };
            let due = {
                let mut last = self.last_release.lock().unwrap_or_else(|e| e.into_inner());
                let due = last.is_none_or(|t| t.elapsed() >= min_interval);
                if due {
                    *last = Some(Instant::now());
                }
                due
            };
            if due {
                (self.release)();
                // Decide on what is left after the release, as the Go Collector does after
                // its forced GC.
                used = self.usage.used_bytes().unwrap_or(used);
            }
        }
        self.last_used.store(used, Ordering::Relaxed);
        let refuse = used > self.limits.soft;
        let was = self.refusing.swap(refuse, Ordering::Relaxed);
        if refuse && !was {
            tracing::warn!(
                processor = %self.id,
                used_mib = used / MIB,
                soft_limit_mib = self.limits.soft / MIB,
                hard_limit_mib = self.limits.hard / MIB,
                "memory usage is above the soft limit: refusing data"
            );
        } else if !refuse && was {
            tracing::info!(
                processor = %self.id,
                used_mib = used / MIB,
                soft_limit_mib = self.limits.soft / MIB,
                "memory usage is back below the soft limit: accepting data"
            );
        }
    }
}

/// The `memory_limiter` processor of one pipeline.
pub struct MemoryLimiter {
    shared: Arc<Shared>,
    check_interval: Duration,
    retry_after: Duration,
    next: ConsumerRef,
    obs: ProcessorObs,
    refused_items: Counter,
    refused_requests: Counter,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl MemoryLimiter {
    /// Builds a limiter reading memory from `usage` and releasing memory with `release`.
    pub fn new(
        ctx: &CreateContext,
        config: &MemoryLimiterConfig,
        limits: Limits,
        signal: Signal,
        next: ConsumerRef,
        usage: Box<dyn MemoryUsage>,
        release: Box<dyn Fn() + Send + Sync>,
    ) -> Self {
        let id = ctx.id.to_string();
        let pipeline = ctx
            .pipeline
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default();
        let labels = &[
            ("processor", id.as_str()),
            ("pipeline", pipeline.as_str()),
            ("otel_signal", signal.as_str()),
        ];
        let refused_items = ctx.telemetry.counter(
            match signal {
                Signal::Traces => "otelcol_processor_refused_spans",
                Signal::Metrics => "otelcol_processor_refused_metric_points",
                Signal::Logs => "otelcol_processor_refused_log_records",
                Signal::Profiles => "otelcol_processor_refused_profiles",
            },
            "Items refused by the processor (memory_limiter: memory above the soft limit).",
            labels,
        );
        let refused_requests = ctx.telemetry.counter(
            "otelcol_processor_refused_requests",
            "Requests refused before their body was read (memory_limiter admission).",
            labels,
        );
        MemoryLimiter {
            shared: Arc::new(Shared {
                id: id.clone(),
                usage,
                release,
                limits,
                min_release_soft: config.min_gc_interval_when_soft_limited,
                min_release_hard: config.min_gc_interval_when_hard_limited,
                last_release: Mutex::new(None),
                refusing: AtomicBool::new(false),
                last_used: AtomicU64::new(0),
            }),
            check_interval: config.check_interval,
            // Retry-After is in whole seconds; the state is re-evaluated every check_interval.
            retry_after: config.check_interval.max(Duration::from_secs(1)),
            next,
            obs: ProcessorObs::new(&ctx.telemetry, &id, &pipeline, signal),
            refused_items,
            refused_requests,
            task: Mutex::new(None),
        }
    }

    /// Measures memory now and updates the state (the background task does this every
    /// `check_interval`).
    pub fn check(&self) {
        self.shared.check();
    }

    /// Whether new data is being refused.
    pub fn is_refusing(&self) -> bool {
        self.shared.refusing.load(Ordering::Relaxed)
    }

    /// The last measured usage, in bytes.
    pub fn last_used(&self) -> u64 {
        self.shared.last_used.load(Ordering::Relaxed)
    }

    pub fn limits(&self) -> Limits {
        self.shared.limits
    }

    fn refusal(&self) -> ConsumeError {
        ConsumeError::retryable(REFUSED, Some(self.retry_after))
    }
}

impl Consumer for MemoryLimiter {
    fn consume(&self, payload: Payload, ctx: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let n = payload.items() as u64;
            self.obs.incoming.add(n);
            if self.is_refusing() {
                self.refused_items.add(n);
                return Err(self.refusal());
            }
            self.next.consume(payload, ctx).await?;
            self.obs.outgoing.add(n);
            Ok(())
        })
    }

    /// Refuses before the receiver reads the body: under memory pressure, a refused request
    /// costs no allocation.
    fn admit(&self, signal: Signal) -> Result<(), ConsumeError> {
        if self.is_refusing() {
            self.refused_requests.add(1);
            return Err(self.refusal());
        }
        self.next.admit(signal)
    }
}

impl Lifecycle for MemoryLimiter {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let mut task = self.task.lock().unwrap_or_else(|e| e.into_inner());
            if task.is_some() {
                return Ok(());
            }
            // A first measurement now, so a process that starts above the limit refuses at once.
            self.shared.check();
            let shared = self.shared.clone();
            let every = self.check_interval;
            *task = Some(tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await; // the first tick is immediate: measured above
                loop {
                    tick.tick().await;
                    shared.check();
                }
            }));
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(t) = task {
                t.abort();
                let _ = t.await;
            }
            Ok(())
        })
    }
}

impl Processor for MemoryLimiter {}

#[cfg(test)]
mod tests;
