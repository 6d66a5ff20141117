//! The `hostmetrics` receiver (issue 22): the Go Collector's host scrapers — cpu, memory,
//! disk, filesystem, network, load, paging, processes, process, system — with its metric
//! names, units, attributes and gopsutil's arithmetic, read from /proc, /sys and /etc under
//! `root_path` (so a container can watch its host).
//!
//! - `config`: the YAML model (`scrapers:` blocks, `metrics:` toggles, filters);
//! - `procfs`: reading files into a reused buffer and the few text formats parsed;
//! - `emit`: metric tables and the OTLP builder;
//! - `scrapers`: one file per scraper.

pub mod config;
pub mod emit;
pub mod procfs;
pub mod scrapers;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};

use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::*;
use tokio::task::JoinHandle;

pub use config::HostMetricsConfig;
use procfs::Host;
use scrapers::{ScrapeContext, Scraper};

/// Factory of the `hostmetrics` receiver.
pub struct HostMetricsReceiverFactory;

impl ReceiverFactory for HostMetricsReceiverFactory {
    type Config = HostMetricsConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "hostmetrics",
            "host metrics (cpu, memory, disk, filesystem, network, load, paging, processes) from /proc and /sys",
        )
        .signal(Signal::Metrics, Stability::Beta)
    }

    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        outputs: SignalOutputs,
    ) -> Result<Arc<dyn Receiver>, ComponentError> {
        let next = outputs
            .into_iter()
            .find(|(s, _)| *s == Signal::Metrics)
            .map(|(_, c)| c)
            .ok_or_else(|| ComponentError::new("the hostmetrics receiver produces only metrics"))?;
        let collector = Collector::new(&config).map_err(|e| ComponentError::new(e.to_string()))?;
        Ok(Arc::new(HostMetricsReceiver {
            id: ctx.id.to_string(),
            interval: config.collection_interval,
            initial_delay: config.initial_delay,
            collector: Mutex::new(Some(collector)),
            next,
            task: Mutex::new(None),
        }))
    }
}

/// All configured scrapers and what they share; one [`Collector::collect`] is one collection.
pub struct Collector {
    host: Host,
    scrapers: Vec<Box<dyn Scraper>>,
    buf: String,
    boot_ns: Option<u64>,
}

impl Collector {
    pub fn new(config: &HostMetricsConfig) -> Result<Self, ferrotel_runtime::config::ConfigError> {
        let root = if config.root_path.is_empty() {
            "/"
        } else {
            &config.root_path
        };
        Ok(Collector {
            host: Host::new(root),
            scrapers: scrapers::build_all(config)?,
            buf: String::with_capacity(16 * 1024),
            boot_ns: None,
        })
    }

    /// Runs every scraper once. Returns the metrics and the errors of scrapers that failed
    /// entirely or in part (what could be read is still returned).
    pub fn collect(&mut self) -> (ExportMetricsServiceRequest, Vec<String>) {
        let mut errors = Vec::new();
        // Boot time is read once: it is the start time of every host counter.
        let boot_ns = match self.boot_ns {
            Some(b) => b,
            None => match procfs::boot_time(&self.host, &mut self.buf) {
                Ok(s) => *self.boot_ns.insert(s * 1_000_000_000),
                Err(e) => {
                    errors.push(e);
                    0
                }
            },
        };
        let mut cx = ScrapeContext {
            host: &self.host,
            buf: &mut self.buf,
            now_ns: procfs::now_ns(),
            boot_ns,
        };
        let mut resource_metrics = Vec::with_capacity(self.scrapers.len());
        for s in &mut self.scrapers {
            if let Err(e) = s.scrape(&mut cx, &mut resource_metrics) {
                errors.push(format!("{} scraper: {e}", s.name()));
            }
        }
        (ExportMetricsServiceRequest { resource_metrics }, errors)
    }
}

struct HostMetricsReceiver {
    id: String,
    interval: std::time::Duration,
    initial_delay: std::time::Duration,
    /// Moved into the collection task on start.
    collector: Mutex<Option<Collector>>,
    next: ConsumerRef,
    task: Mutex<Option<JoinHandle<()>>>,
}

async fn run(
    id: String,
    mut collector: Collector,
    next: ConsumerRef,
    interval: std::time::Duration,
    initial_delay: std::time::Duration,
) {
    tokio::time::sleep(initial_delay).await;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        // File reads block: run them off the async workers, then take the collector back.
        let Ok((c, (request, errors))) = tokio::task::spawn_blocking(move || {
            let out = collector.collect();
            (collector, out)
        })
        .await
        else {
            tracing::error!(receiver = %id, "hostmetrics collection panicked; stopping");
            return;
        };
        collector = c;
        for e in &errors {
            tracing::warn!(receiver = %id, error = %e, "hostmetrics scrape error");
        }
        if request.resource_metrics.is_empty() {
            continue;
        }
        let payload = Payload::from_request(Request::Metrics(request));
        if let Err(e) = next.consume(payload, Context::default()).await {
            tracing::warn!(receiver = %id, error = %e, "hostmetrics: the pipeline refused a collection");
        }
    }
}

impl Lifecycle for HostMetricsReceiver {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let Some(collector) = self
                .collector
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
            else {
                return Err(ComponentError::new("hostmetrics receiver started twice"));
            };
            let handle = tokio::spawn(run(
                self.id.clone(),
                collector,
                self.next.clone(),
                self.interval,
                self.initial_delay,
            ));
            *self.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let handle = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(h) = handle {
                h.abort();
                let _ = h.await;
            }
            Ok(())
        })
    }
}

impl Receiver for HostMetricsReceiver {}
