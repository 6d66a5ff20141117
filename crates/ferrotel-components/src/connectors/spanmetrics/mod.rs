//! `spanmetrics` connector (traces → metrics): Request, Error and Duration metrics from spans,
//! as the Go Collector's `spanmetricsconnector` — `<namespace>.calls` (a monotonic sum),
//! `<namespace>.duration` (an explicit or exponential histogram) and, when enabled,
//! `<namespace>.events`, per resource and per set of dimensions, emitted every
//! `metrics_flush_interval`. The namespace defaults to `traces.span.metrics`.
//!
//! Unlike Go, what is held is also flushed at shutdown, so a delta interval is not lost.

pub mod aggregate;
pub mod config;
pub mod exphist;

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::*;
use tokio::sync::Notify;

pub use aggregate::Aggregator;
pub use config::SpanMetricsConfig;

/// Factory of the `spanmetrics` connector.
pub struct SpanMetricsConnectorFactory;

impl ConnectorFactory for SpanMetricsConnectorFactory {
    type Config = SpanMetricsConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "spanmetrics",
            "Computes request, error and duration metrics from spans",
        )
        .connects(Signal::Traces, Signal::Metrics)
    }

    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        _from: Signal,
        _to: Signal,
        next: ConsumerRef,
    ) -> Result<Arc<dyn Connector>, ComponentError> {
        Ok(Arc::new(SpanMetrics::new(&ctx, config, next)))
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The connector: spans in, metrics out on a timer.
pub struct SpanMetrics {
    inner: Arc<Inner>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

struct Inner {
    id: String,
    aggregator: Mutex<Aggregator>,
    next: ConsumerRef,
    stop: Notify,
    interval: std::time::Duration,
}

impl Inner {
    async fn flush(&self, now: u64) {
        let out = self.aggregator.lock().expect("not poisoned").flush(now);
        if let Some(req) = out {
            let payload = Payload::from_request(Request::Metrics(req));
            if let Err(e) = self.next.consume(payload, Context::default()).await {
                tracing::warn!(connector = %self.id, error = %e, "failed to send span metrics");
            }
        }
    }
}

impl SpanMetrics {
    pub fn new(ctx: &CreateContext, config: SpanMetricsConfig, next: ConsumerRef) -> Self {
        if config.dimensions_cache_size != 1000 {
            tracing::warn!(
                connector = %ctx.id,
                "dimensions_cache_size is deprecated (as in the Go Collector) and has no effect; use aggregation_cardinality_limit"
            );
        }
        let interval = config.metrics_flush_interval;
        SpanMetrics {
            inner: Arc::new(Inner {
                id: ctx.id.to_string(),
                aggregator: Mutex::new(Aggregator::new(config, now_nanos())),
                next,
                stop: Notify::new(),
                interval,
            }),
            task: Mutex::new(None),
        }
    }

    /// Emits what is held now (tests, shutdown).
    pub async fn flush(&self) {
        self.inner.flush(now_nanos()).await;
    }
}

impl Consumer for SpanMetrics {
    fn consume(&self, payload: Payload, _ctx: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            if payload.is_empty() {
                return Ok(());
            }
            let req = payload
                .into_request()
                .map_err(|e| ConsumeError::permanent(format!("spanmetrics: {e}")))?;
            if let Request::Traces(t) = &req {
                self.inner
                    .aggregator
                    .lock()
                    .expect("not poisoned")
                    .add(t, now_nanos());
            }
            Ok(())
        })
    }
}

impl Lifecycle for SpanMetrics {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let mut task = self.task.lock().expect("not poisoned");
            if task.is_some() {
                return Ok(());
            }
            let inner = self.inner.clone();
            *task = Some(tokio::spawn(async move {
                let mut tick = tokio::time::interval(inner.interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await; // the first tick is immediate
                loop {
                    tokio::select! {
                        _ = tick.tick() => inner.flush(now_nanos()).await,
                        _ = inner.stop.notified() => break,
                    }
                }
            }));
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let task = self.task.lock().expect("not poisoned").take();
            if let Some(task) = task {
                self.inner.stop.notify_one();
                let _ = task.await;
                self.flush().await;
            }
            Ok(())
        })
    }
}

impl Connector for SpanMetrics {}

#[cfg(test)]
mod tests;
