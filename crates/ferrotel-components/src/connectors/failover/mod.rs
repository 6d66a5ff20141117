//! `failover` connector: sends data to the highest-priority level of pipelines that works, as
//! the Go Collector's `failoverconnector`. A level fails when any of its pipelines refuses the
//! data; the data is then sent to the next level at once. Every `retry_interval` the levels
//! above the one in use are tried again, one per `retry_gap`; a level whose retry fails
//! `max_retries` times is not tried again.

pub mod config;

use std::sync::{Arc, Mutex};

use ferrotel_pdata::{Payload, Signal};
use ferrotel_runtime::config::PipelineId;
use ferrotel_runtime::fanout::Fanout;
use ferrotel_runtime::*;
use tokio::sync::Notify;

pub use config::FailoverConfig;

/// Factory of the `failover` connector.
pub struct FailoverConnectorFactory;

impl ConnectorFactory for FailoverConnectorFactory {
    type Config = FailoverConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "failover",
            "Sends data to the first healthy level of pipelines",
        )
        .connects(Signal::Traces, Signal::Traces)
        .connects(Signal::Metrics, Signal::Metrics)
        .connects(Signal::Logs, Signal::Logs)
    }

    /// Without pipeline ids every level is `next`.
    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        from: Signal,
        _to: Signal,
        next: ConsumerRef,
    ) -> Result<Arc<dyn Connector>, ComponentError> {
        Failover::build(&ctx, &config, from, &|_| Some(next.clone())).map(|f| Arc::new(f) as _)
    }

    fn create_routed(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        from: Signal,
        _to: Signal,
        routes: Vec<(PipelineId, ConsumerRef)>,
    ) -> Result<Arc<dyn Connector>, ComponentError> {
        Failover::build(&ctx, &config, from, &|id| {
            routes.iter().find(|(p, _)| p == id).map(|(_, c)| c.clone())
        })
        .map(|f| Arc::new(f) as _)
    }
}

/// Which level is in use (`current`), which is known to work (`stable`), and failed retries.
#[derive(Debug)]
pub struct Selector {
    pub current: usize,
    pub stable: usize,
    pub retries: Vec<i64>,
    max_retries: i64,
}

impl Selector {
    fn exhausted(&self, idx: usize) -> bool {
        idx < self.retries.len() && self.retries[idx] >= self.max_retries
    }

    /// Level `idx` refused data: the stable level gives way to the next one (skipping levels
    /// out of retries); a level under retry sends traffic back to the stable one.
    fn failed(&mut self, idx: usize) {
        if idx == self.stable {
            let mut next = idx + 1;
            while self.exhausted(next) {
                next += 1;
            }
            self.stable = next;
        } else if idx < self.retries.len() {
            self.retries[idx] += 1;
        }
        self.current = self.stable;
    }

    /// Level `idx` took data: a retried level becomes the stable one.
    fn succeeded(&mut self, idx: usize) {
        if idx != self.stable {
            self.stable = idx;
            self.retries[idx] = 0;
        }
    }
}

pub struct Failover {
    id: String,
    levels: Vec<ConsumerRef>,
    inner: Arc<Shared>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

struct Shared {
    selector: Mutex<Selector>,
    stop: Notify,
    retry_interval: std::time::Duration,
    retry_gap: std::time::Duration,
}

impl Failover {
    fn build(
        ctx: &CreateContext,
        config: &FailoverConfig,
        signal: Signal,
        lookup: &dyn Fn(&PipelineId) -> Option<ConsumerRef>,
    ) -> Result<Self, ComponentError> {
        let id = ctx.id.to_string();
        let mut levels = Vec::new();
        for (i, level) in config.priority_levels.iter().enumerate() {
            let mut consumers = Vec::new();
            for (j, p) in level.iter().enumerate() {
                let path = format!("priority_levels[{i}][{j}]");
                let pid: PipelineId = p
                    .parse()
                    .map_err(|e| ComponentError::new(format!("{path}: {e}")))?;
                if pid.signal != signal {
                    continue;
                }
                consumers.push(lookup(&pid).ok_or_else(|| {
                    ComponentError::new(format!(
                        "{path}: pipeline \"{pid}\" does not receive from connector \"{id}\""
                    ))
                })?);
            }
            // Levels with only other signals' pipelines belong to the other instances.
            if !consumers.is_empty() {
                levels.push(Fanout::of(consumers));
            }
        }
        let n = levels.len();
        Ok(Failover {
            id,
            levels,
            inner: Arc::new(Shared {
                selector: Mutex::new(Selector {
                    current: 0,
                    stable: 0,
                    retries: vec![0; n],
                    max_retries: config.max_retries,
                }),
                stop: Notify::new(),
                retry_interval: config.retry_interval,
                retry_gap: config.retry_gap,
            }),
            task: Mutex::new(None),
        })
    }

    /// (current, stable) levels, for tests and debugging.
    pub fn levels_in_use(&self) -> (usize, usize) {
        let s = self.inner.selector.lock().expect("not poisoned");
        (s.current, s.stable)
    }
}

impl Shared {
    /// One retry round: each level above the stable one (not out of retries) gets the traffic,
    /// one every `retry_gap`, until a level takes over.
    async fn retry_round(&self) -> bool {
        let stable = self.selector.lock().expect("not poisoned").stable;
        for i in 0..stable {
            {
                let s = self.selector.lock().expect("not poisoned");
                if s.stable < stable {
                    return true; // a higher level took over meanwhile
                }
                if s.exhausted(i) {
                    continue;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.retry_gap) => {}
                _ = self.stop.notified() => return false,
            }
            self.selector.lock().expect("not poisoned").current = i;
        }
        true
    }
}

impl Consumer for Failover {
    fn consume(&self, payload: Payload, ctx: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let mut last_err: Option<ConsumeError> = None;
            // Each failure moves the stable level down or the current one back to it, so this
            // ends; the bound is a guard.
            for _ in 0..=2 * self.levels.len() {
                let idx = self.inner.selector.lock().expect("not poisoned").current;
                let Some(level) = self.levels.get(idx) else {
                    break;
                };
                match level.consume(payload.clone(), ctx.clone()).await {
                    Ok(()) => {
                        self.inner
                            .selector
                            .lock()
                            .expect("not poisoned")
                            .succeeded(idx);
                        return Ok(());
                    }
                    Err(e) => {
                        tracing::debug!(connector = %self.id, level = idx, error = %e, "priority level failed");
                        self.inner
                            .selector
                            .lock()
                            .expect("not poisoned")
                            .failed(idx);
                        last_err = Some(e);
                    }
                }
            }
            Err(match last_err {
                Some(e) => ConsumeError {
                    message: format!(
                        "failover: All provided pipelines return errors: {}",
                        e.message
                    ),
                    kind: e.kind,
                },
                None => {
                    ConsumeError::retryable("failover: All provided pipelines return errors", None)
                }
            })
        })
    }
}

impl Lifecycle for Failover {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let mut task = self.task.lock().expect("not poisoned");
            if task.is_some() {
                return Ok(());
            }
            let inner = self.inner.clone();
            *task = Some(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(inner.retry_interval) => {}
                        _ = inner.stop.notified() => return,
                    }
                    if !inner.retry_round().await {
                        return;
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
            }
            Ok(())
        })
    }
}

impl Connector for Failover {}

#[cfg(test)]
mod tests;
