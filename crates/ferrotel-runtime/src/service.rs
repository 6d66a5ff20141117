//! Builds the running collector from a validated config and drives its lifecycle.
//!
//! Build order follows the data backwards: extensions, exporters, then each pipeline from its
//! fan-out back to its first processor (downstream pipelines first, so connectors can feed
//! them), then receivers. Start runs extensions → exporters → connectors → processors →
//! receivers; shutdown runs the reverse, so every stage drains into a stage that still runs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ferrotel_pdata::Signal;

use crate::component::*;
use crate::config::telemetry::PeriodicReader;
use crate::config::{ComponentId, Config, ConfigError, ConfigErrors, Node, PipelineId};
use crate::fanout::{Fanout, PanicGuard};
use crate::graph::{self, Plan};
use crate::registry::Registry;
use crate::telemetry::Telemetry;
use crate::telemetry::export::{OwnResource, PeriodicPusher, SenderFactory};
use crate::telemetry::server::MetricsServer;

/// The processors of one pipeline, first to last.
type PipelineProcessors = (PipelineId, Vec<(ComponentId, Arc<dyn Processor>)>);

/// A built collector, ready to start.
pub struct Service {
    extensions: Vec<(ComponentId, Arc<dyn Extension>)>,
    exporters: Vec<(ComponentId, Arc<dyn Exporter>)>,
    connectors: Vec<(ComponentId, Arc<dyn Connector>)>,
    /// Per pipeline in upstream-first order, processors first to last.
    processors: Vec<PipelineProcessors>,
    receivers: Vec<(ComponentId, Arc<dyn Receiver>)>,
    telemetry: Telemetry,
    /// Prometheus endpoints (`pull` readers).
    metrics_addrs: Vec<std::net::SocketAddr>,
    metrics_servers: tokio::sync::Mutex<Vec<MetricsServer>>,
    /// `periodic` readers, and how to send what they push (set by the binary).
    periodic: Vec<PeriodicReader>,
    push: Option<(SenderFactory, Arc<OwnResource>)>,
    pushers: tokio::sync::Mutex<Vec<PeriodicPusher>>,
    pub shutdown_timeout: Duration,
    pub warnings: Vec<ConfigError>,
}

fn node_of<'a>(section: &'a [(ComponentId, Node)], id: &ComponentId) -> &'a Node {
    section
        .iter()
        .find(|(i, _)| i == id)
        .map(|(_, n)| n)
        .expect("validated: component is defined")
}

/// What `config` runs, as extensions see it.
fn service_info(config: &Config) -> ServiceInfo {
    let names = |refs: &[crate::config::service::ComponentRef]| {
        refs.iter().map(|r| r.id.to_string()).collect()
    };
    ServiceInfo {
        pipelines: config
            .service
            .pipelines
            .iter()
            .map(|(id, p)| PipelineInfo {
                id: id.to_string(),
                receivers: names(&p.receivers),
                processors: names(&p.processors),
                exporters: names(&p.exporters),
            })
            .collect(),
        extensions: names(&config.service.extensions),
        components: [
            (Kind::Receiver, &config.receivers),
            (Kind::Processor, &config.processors),
            (Kind::Exporter, &config.exporters),
            (Kind::Connector, &config.connectors),
            (Kind::Extension, &config.extensions),
        ]
        .into_iter()
        .flat_map(|(k, list)| list.iter().map(move |(id, _)| (k, id.to_string())))
        .collect(),
    }
}

fn build_err(kind: Kind, id: &ComponentId, e: ComponentError) -> ConfigErrors {
    ConfigError::new(
        format!("{}::{id}", kind.section()),
        format!("cannot build: {e}"),
    )
    .into()
}

impl Service {
    /// Validates `config` and builds every component. Errors list every problem found.
    pub fn build(
        config: &Config,
        registry: &Registry,
        telemetry: Telemetry,
    ) -> Result<Service, ConfigErrors> {
        let Plan { order, warnings } = graph::validate(config, registry)?;
        let ctx =
            |id: &ComponentId,
             kind: Kind,
             extensions: &Arc<Vec<(ComponentId, Arc<dyn Extension>)>>| CreateContext {
                id: id.clone(),
                kind,
                pipeline: None,
                telemetry: telemetry.clone(),
                extensions: extensions.clone(),
            };

        // Extensions, in service::extensions order.
        let mut extensions = Vec::new();
        let no_exts = Arc::new(Vec::new());
        for r in &config.service.extensions {
            let f = &registry.extensions[r.id.type_name()];
            let ext = f
                .create(
                    ctx(&r.id, Kind::Extension, &no_exts),
                    node_of(&config.extensions, &r.id),
                )
                .map_err(|e| build_err(Kind::Extension, &r.id, e))?;
            extensions.push((r.id.clone(), ext));
        }
        let extensions = Arc::new(extensions);
        let info = Arc::new(service_info(config));
        for (_, e) in extensions.iter() {
            e.on_service(&info);
        }

        // Exporters: one per id, with every signal of the pipelines that use it.
        let mut exporter_signals: BTreeMap<ComponentId, Vec<Signal>> = BTreeMap::new();
        for (pid, p) in &config.service.pipelines {
            for r in &p.exporters {
                if config.exporters.iter().any(|(i, _)| *i == r.id) {
                    let s = exporter_signals.entry(r.id.clone()).or_default();
                    if !s.contains(&pid.signal) {
                        s.push(pid.signal);
                    }
                }
            }
        }
        let mut exporters: Vec<(ComponentId, Arc<dyn Exporter>)> = Vec::new();
        for (id, signals) in &exporter_signals {
            let f = &registry.exporters[id.type_name()];
            let e = f
                .create(
                    ctx(id, Kind::Exporter, &extensions),
                    node_of(&config.exporters, id),
                    signals,
                )
                .map_err(|e| build_err(Kind::Exporter, id, e))?;
            exporters.push((id.clone(), e));
        }

        // Pipelines, downstream first.
        let pipelines: BTreeMap<&PipelineId, &crate::config::PipelineConfig> = config
            .service
            .pipelines
            .iter()
            .map(|(k, v)| (k, v))
            .collect();
        let mut entries: BTreeMap<PipelineId, ConsumerRef> = BTreeMap::new();
        let mut connectors: Vec<(ComponentId, Arc<dyn Connector>)> = Vec::new();
        let mut processors = Vec::new();
        for pid in &order {
            let p = pipelines[pid];
            let mut outputs: Vec<ConsumerRef> = Vec::new();
            for r in &p.exporters {
                if let Some((_, e)) = exporters.iter().find(|(i, _)| *i == r.id) {
                    outputs.push(PanicGuard::wrap(
                        format!("exporter \"{}\"", r.id),
                        e.clone() as ConsumerRef,
                    ));
                    continue;
                }
                // A connector: feed every pipeline that receives from it, grouped by signal.
                let info = registry
                    .info(Kind::Connector, r.id.type_name())
                    .expect("validated");
                let mut by_signal: BTreeMap<Signal, Vec<(PipelineId, ConsumerRef)>> =
                    BTreeMap::new();
                for (down_id, down) in &config.service.pipelines {
                    if down.receivers.iter().any(|x| x.id == r.id)
                        && info.connects.contains(&(pid.signal, down_id.signal))
                    {
                        by_signal
                            .entry(down_id.signal)
                            .or_default()
                            .push((down_id.clone(), entries[down_id].clone()));
                    }
                }
                for (to, routes) in by_signal {
                    let f = &registry.connectors[r.id.type_name()];
                    let c = f
                        .create_routed(
                            ctx(&r.id, Kind::Connector, &extensions),
                            node_of(&config.connectors, &r.id),
                            pid.signal,
                            to,
                            routes,
                        )
                        .map_err(|e| build_err(Kind::Connector, &r.id, e))?;
                    outputs.push(PanicGuard::wrap(
                        format!("connector \"{}\"", r.id),
                        c.clone() as ConsumerRef,
                    ));
                    connectors.push((r.id.clone(), c));
                }
            }
            let mut next = Fanout::of(outputs);
            let mut built = Vec::new();
            for r in p.processors.iter().rev() {
                let f = &registry.processors[r.id.type_name()];
                let mut c = ctx(&r.id, Kind::Processor, &extensions);
                c.pipeline = Some(pid.clone());
                let proc = f
                    .create(c, node_of(&config.processors, &r.id), pid.signal, next)
                    .map_err(|e| build_err(Kind::Processor, &r.id, e))?;
                next = PanicGuard::wrap(
                    format!("processor \"{}\" in pipeline \"{pid}\"", r.id),
                    proc.clone() as ConsumerRef,
                );
                built.push((r.id.clone(), proc));
            }
            built.reverse();
            processors.push((pid.clone(), built));
            entries.insert(pid.clone(), next);
        }
        // Shutdown drains upstream pipelines first.
        processors.reverse();

        // Receivers: one per id, each signal feeding every pipeline that lists it.
        let mut receivers = Vec::new();
        for (id, node) in &config.receivers {
            let mut outputs: BTreeMap<Signal, Vec<ConsumerRef>> = BTreeMap::new();
            for (pid, p) in &config.service.pipelines {
                if p.receivers.iter().any(|r| r.id == *id) {
                    outputs
                        .entry(pid.signal)
                        .or_default()
                        .push(entries[pid].clone());
                }
            }
            if outputs.is_empty() {
                continue;
            }
            let outputs = outputs
                .into_iter()
                .map(|(s, c)| (s, Fanout::of(c)))
                .collect();
            let f = &registry.receivers[id.type_name()];
            let r = f
                .create(ctx(id, Kind::Receiver, &extensions), node, outputs)
                .map_err(|e| build_err(Kind::Receiver, id, e))?;
            receivers.push((id.clone(), r));
        }

        Ok(Service {
            extensions: Arc::try_unwrap(extensions).unwrap_or_else(|a| (*a).clone()),
            exporters,
            connectors,
            processors,
            receivers,
            telemetry,
            metrics_addrs: config.service.telemetry.metrics.pull.clone(),
            metrics_servers: tokio::sync::Mutex::new(Vec::new()),
            periodic: config.service.telemetry.metrics.periodic.clone(),
            push: None,
            pushers: tokio::sync::Mutex::new(Vec::new()),
            shutdown_timeout: config.service.shutdown_timeout,
            warnings,
        })
    }

    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// How periodic readers send (OTLP clients live in the binary, not in the runtime) and
    /// the resource they report. Without it, a config with a periodic reader fails to start.
    pub fn set_telemetry_push(&mut self, factory: SenderFactory, resource: Arc<OwnResource>) {
        self.push = Some((factory, resource));
    }

    /// The addresses of the own-metrics endpoints once started.
    pub async fn metrics_addresses(&self) -> Vec<std::net::SocketAddr> {
        self.metrics_servers
            .lock()
            .await
            .iter()
            .map(|s| s.local_addr)
            .collect()
    }

    /// Starts everything, downstream first. On failure, stops what was started and returns the
    /// error naming the component.
    pub async fn start(&self) -> Result<(), ComponentError> {
        let result = async {
            for addr in &self.metrics_addrs {
                let server = MetricsServer::start(*addr, self.telemetry.clone())
                    .await
                    .map_err(|e| ComponentError::new(e.to_string()))?;
                self.metrics_servers.lock().await.push(server);
            }
            for (i, reader) in self.periodic.iter().enumerate() {
                let (factory, resource) = self.push.as_ref().ok_or_else(|| {
                    ComponentError::new(format!(
                        "service::telemetry::metrics::readers: periodic reader {i}: this build cannot push telemetry"
                    ))
                })?;
                let sender = factory(&reader.exporter, ferrotel_pdata::Signal::Metrics)
                    .map_err(|e| {
                        ComponentError::new(format!(
                            "service::telemetry::metrics::readers: periodic reader {i}: {e}"
                        ))
                    })?;
                let pusher = PeriodicPusher::start(
                    i,
                    reader,
                    sender,
                    self.telemetry.clone(),
                    resource.clone(),
                );
                self.pushers.lock().await.push(pusher);
            }
            for (id, e) in &self.extensions {
                e.start()
                    .await
                    .map_err(|e| ComponentError::new(format!("extensions::{id}: {e}")))?;
            }
            for (id, e) in &self.exporters {
                e.start()
                    .await
                    .map_err(|e| ComponentError::new(format!("exporters::{id}: {e}")))?;
            }
            for (id, c) in &self.connectors {
                c.start()
                    .await
                    .map_err(|e| ComponentError::new(format!("connectors::{id}: {e}")))?;
            }
            for (pid, procs) in self.processors.iter().rev() {
                for (id, p) in procs.iter().rev() {
                    p.start().await.map_err(|e| {
                        ComponentError::new(format!("processors::{id} (pipeline {pid}): {e}"))
                    })?;
                }
            }
            for (id, r) in &self.receivers {
                r.start()
                    .await
                    .map_err(|e| ComponentError::new(format!("receivers::{id}: {e}")))?;
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => {
                for (_, e) in &self.extensions {
                    e.on_ready(true);
                }
                Ok(())
            }
            Err(e) => {
                self.shutdown().await;
                Err(e)
            }
        }
    }

    /// Drains and stops everything, upstream first, within `shutdown_timeout` in total.
    /// Components that fail or time out are logged; the rest still shut down.
    pub async fn shutdown(&self) {
        for (_, e) in &self.extensions {
            e.on_ready(false);
        }
        let deadline = tokio::time::Instant::now() + self.shutdown_timeout;
        async fn stop(
            what: String,
            fut: BoxFuture<'_, Result<(), ComponentError>>,
            deadline: tokio::time::Instant,
        ) {
            match tokio::time::timeout_at(deadline, fut).await {
                Ok(Ok(())) => tracing::debug!(component = %what, "stopped"),
                Ok(Err(e)) => tracing::error!(component = %what, error = %e, "shutdown failed"),
                Err(_) => {
                    tracing::error!(component = %what, "shutdown timed out (service::shutdown_timeout); data it held may be lost")
                }
            }
        }
        for (id, r) in &self.receivers {
            stop(format!("receivers::{id}"), r.shutdown(), deadline).await;
        }
        for (pid, procs) in &self.processors {
            for (id, p) in procs {
                stop(
                    format!("processors::{id} (pipeline {pid})"),
                    p.shutdown(),
                    deadline,
                )
                .await;
            }
        }
        for (id, c) in &self.connectors {
            stop(format!("connectors::{id}"), c.shutdown(), deadline).await;
        }
        for (id, e) in &self.exporters {
            stop(format!("exporters::{id}"), e.shutdown(), deadline).await;
        }
        for (id, e) in self.extensions.iter().rev() {
            stop(format!("extensions::{id}"), e.shutdown(), deadline).await;
        }
        // Own metrics last, so the final push counts the whole drain.
        for pusher in std::mem::take(&mut *self.pushers.lock().await) {
            pusher.shutdown().await;
        }
        for server in std::mem::take(&mut *self.metrics_servers.lock().await) {
            server.shutdown().await;
        }
    }

    /// Runs until SIGINT or SIGTERM, then drains.
    pub async fn run_until_signal(&self) {
        self.run_until(catch_signals()).await;
    }

    /// Runs until `signal` completes (from [`catch_signals`], installed before the service
    /// started), then shuts down.
    pub async fn run_until(&self, signal: impl Future<Output = ()>) {
        signal.await;
        tracing::info!(timeout = ?self.shutdown_timeout, "shutdown signal received; draining");
        self.shutdown().await;
        tracing::info!("shutdown complete");
    }
}

/// Installs the SIGINT and SIGTERM handlers now and returns a future that completes on the
/// first of them. Installed before startup (as the Go Collector does), a signal that arrives
/// while components start, or just after the ready line, is a clean shutdown rather than the
/// default action (killed, exit status none, nothing flushed). Needs the tokio runtime.
pub fn catch_signals() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
        async move {
            tokio::select! {
                _ = int.recv() => {},
                _ = term.recv() => {},
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Waits for SIGINT or SIGTERM (handlers installed on the first poll: prefer
/// [`catch_signals`] before startup).
pub async fn wait_for_signal() {
    catch_signals().await;
}
