//! The `prometheus` receiver: scrapes Prometheus targets (text 0.0.4 and OpenMetrics) into OTLP
//! metrics, configured with the Go Collector's embedded Prometheus `config:`.
//!
//! - `config`: the YAML model and its validation;
//! - `parse`: the exposition parser (zero-copy, line-numbered errors);
//! - `relabel`: Prometheus relabeling;
//! - `target`: static/file_sd groups → targets;
//! - `convert`: samples → OTLP with start-time, reset and staleness tracking;
//! - `resources`: job/instance → resource attributes, a resource per job/instance pair;
//! - `fast`: its fast path, encoding OTLP bytes from a per-target cache keyed by the series text;
//! - `scraper`: the HTTP client, scrape loops and per-job discovery.

pub mod config;
pub mod convert;
mod fast;
#[cfg(test)]
mod fast_tests;
pub mod parse;
#[cfg(test)]
mod receiver_tests;
pub mod relabel;
mod resources;
pub mod scraper;
pub mod target;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};

use ferrotel_pdata::Signal;
use ferrotel_runtime::*;
use tokio::task::JoinHandle;

pub use config::PrometheusReceiverConfig;
pub use fast::FastScrape;
pub use parse::{Exposition, Format, ParseError, parse};

use config::DEFAULT_BODY_SIZE_LIMIT;
use scraper::{Auth, Job};
use target::JobDefaults;

/// Factory of the `prometheus` receiver.
pub struct PrometheusReceiverFactory;

impl ReceiverFactory for PrometheusReceiverFactory {
    type Config = PrometheusReceiverConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "prometheus",
            "scrapes Prometheus targets (text 0.0.4, OpenMetrics) into OTLP metrics",
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
            .ok_or_else(|| ComponentError::new("the prometheus receiver produces only metrics"))?;
        let jobs = build_jobs(&config, next).map_err(ComponentError::new)?;
        Ok(Arc::new(PrometheusReceiver {
            id: ctx.id.to_string(),
            jobs,
            running: Mutex::new(Vec::new()),
        }))
    }
}

/// Compiles the config into one [`Job`] per scrape config.
pub fn build_jobs(
    config: &PrometheusReceiverConfig,
    next: ConsumerRef,
) -> Result<Vec<Arc<Job>>, String> {
    let global = &config.config.global;
    let mut jobs = Vec::new();
    for (i, sc) in config.config.scrape_configs.iter().enumerate() {
        let at = format!("config::scrape_configs[{i}] ({sc})");
        let compile = |rules: &[relabel::RelabelConfig], field: &str| {
            rules
                .iter()
                .enumerate()
                .map(|(j, r)| {
                    r.compile()
                        .map_err(|(f, m)| format!("{at}::{field}[{j}]::{f}: {m}"))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let (interval, timeout) = sc.interval_timeout(global);
        let defaults = JobDefaults {
            job_name: sc.job_name.clone(),
            scheme: sc.scheme.clone(),
            metrics_path: sc.metrics_path.clone(),
            params: sc
                .params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            interval,
            timeout,
            relabel: compile(&sc.relabel_configs, "relabel_configs")?,
        };
        let client = scraper::http_client(&sc.tls_config, &sc.scheme, timeout)
            .map_err(|e| format!("{at}::tls_config: {e}"))?;
        let auth = match (&sc.basic_auth, &sc.authorization) {
            (Some(b), _) => Auth::Basic(b.clone()),
            (None, Some(a)) => Auth::Authorization(a.clone()),
            (None, None) => Auth::None,
        };
        jobs.push(Arc::new(Job {
            defaults,
            static_groups: sc.static_configs.clone(),
            file_sd: sc
                .file_sd_configs
                .iter()
                .map(|f| {
                    (
                        f.files.clone(),
                        f.refresh_interval
                            .map_or(config::DEFAULT_FILE_SD_REFRESH, |d| d.0),
                    )
                })
                .collect(),
            client,
            auth,
            body_limit: match sc.body_size_limit {
                Some(b) if b.0 > 0 => b.0,
                _ => DEFAULT_BODY_SIZE_LIMIT,
            },
            honor_labels: sc.honor_labels,
            honor_timestamps: sc.honor_timestamps,
            trim_metric_suffixes: config.trim_metric_suffixes,
            sample_limit: sc.sample_limit,
            metric_relabel: compile(&sc.metric_relabel_configs, "metric_relabel_configs")?,
            next: next.clone(),
        }));
    }
    Ok(jobs)
}

struct PrometheusReceiver {
    id: String,
    jobs: Vec<Arc<Job>>,
    running: Mutex<Vec<JoinHandle<()>>>,
}

impl Lifecycle for PrometheusReceiver {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            for job in &self.jobs {
                running.push(tokio::spawn(scraper::run_job(job.clone())));
            }
            tracing::info!(receiver = %self.id, jobs = self.jobs.len(), "prometheus scraping");
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            // Aborting a job's task drops its target tasks' handles, which aborts them too.
            let handles: Vec<_> = self
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .drain(..)
                .collect();
            for h in handles {
                h.abort();
                let _ = h.await;
            }
            Ok(())
        })
    }
}

impl Receiver for PrometheusReceiver {}
