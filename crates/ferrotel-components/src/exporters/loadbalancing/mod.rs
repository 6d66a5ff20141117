//! `loadbalancing` exporter (alias `load_balancing`, the Go Collector's new name): sends each
//! trace (or service, resource, metric, stream) to one backend chosen on the Go exporter's
//! consistent hash ring, through one `otlp_grpc` exporter per backend.
//!
//! Backends come from a resolver: `static` (a fixed list) or `dns` (re-resolved every
//! `interval`). Each backend has its own sending queue and retry, from `protocol::otlp`.
//!
//! A backend that goes down but stays in the resolver's answer keeps its share: its queue and
//! retry hold the data, as in Go. When the resolver drops it, the ring is rebuilt and every
//! request still in its queue (or retrying) is routed again over the new ring — to the new
//! owners of its keys — instead of being sent to the gone backend; Go instead drains the old
//! exporter towards the old address and loses what cannot be delivered.

pub mod config;
pub mod resolver;
pub mod ring;
pub mod routing;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

use ferrotel_pdata::{Payload, Signal};
use ferrotel_runtime::exporter_helper::{QueuedExporter, SendFailure, Sender};
use ferrotel_runtime::telemetry::{Counter, Gauge};
use ferrotel_runtime::*;

pub use config::{LoadBalancingConfig, RoutingKey};
use resolver::Resolver;
use ring::HashRing;

use crate::exporters::otlp::{OtlpGrpcConfig, grpc_sender};

/// Factory of `loadbalancing`.
pub struct LoadBalancingExporterFactory;

impl ExporterFactory for LoadBalancingExporterFactory {
    type Config = LoadBalancingConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "loadbalancing",
            "Sends each trace, service or metric stream to one backend of a consistent hash ring",
        )
        .aliases(&["load_balancing"])
        .signal(Signal::Traces, Stability::Beta)
        .signal(Signal::Metrics, Stability::Development)
        .signal(Signal::Logs, Stability::Beta)
    }

    fn create(
        &self,
        ctx: CreateContext,
        c: Self::Config,
        signals: &[Signal],
    ) -> Result<Arc<dyn Exporter>, ComponentError> {
        Ok(LoadBalancer::build(ctx, c, signals)?)
    }
}

impl LoadBalancer {
    fn build(
        ctx: CreateContext,
        c: LoadBalancingConfig,
        signals: &[Signal],
    ) -> Result<Arc<LoadBalancer>, ComponentError> {
        let key = RoutingKey::parse(&c.routing_key);
        let traces_key = key.unwrap_or(RoutingKey::TraceId);
        let metrics_key = key.unwrap_or(RoutingKey::Service);
        if signals.contains(&Signal::Traces)
            && !matches!(traces_key, RoutingKey::TraceId | RoutingKey::Service)
        {
            return Err(ComponentError::new(format!(
                "unsupported routing_key {:?} for traces (traceID or service)",
                c.routing_key
            )));
        }
        if signals.contains(&Signal::Metrics) && metrics_key == RoutingKey::TraceId {
            return Err(ComponentError::new(
                "unsupported routing_key \"traceID\" for metrics (service, resource, metric or streamID)",
            ));
        }
        let resolver = Resolver::from_config(&c.resolver)
            .map_err(|e| ComponentError::new(format!("resolver: {e}")))?;
        let telemetry = Telemetry::new(&ctx);
        Ok(Arc::new_cyclic(|me| LoadBalancer {
            me: me.clone(),
            ctx,
            template: c.protocol.otlp,
            traces_key,
            metrics_key,
            resolver,
            state: RwLock::new(Arc::new(Snapshot::default())),
            update: tokio::sync::Mutex::new(()),
            resolver_task: Mutex::new(None),
            retired: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
            fallback: AtomicU64::new(0),
            telemetry,
        }))
    }
}

struct Telemetry {
    backends: Gauge,
    resolutions_ok: Counter,
    resolutions_failed: Counter,
    backend_updates: Counter,
}

impl Telemetry {
    fn new(ctx: &CreateContext) -> Self {
        let id = ctx.id.to_string();
        let t = &ctx.telemetry;
        let resolutions = |success| {
            t.counter(
                "ferrotel_loadbalancer_num_resolutions",
                "Resolutions performed by the resolver, by outcome.",
                &[("exporter", &id), ("success", success)],
            )
        };
        Telemetry {
            backends: t.gauge(
                "ferrotel_loadbalancer_num_backends",
                "Backends currently in the ring.",
                &[("exporter", &id)],
            ),
            resolutions_ok: resolutions("true"),
            resolutions_failed: resolutions("false"),
            backend_updates: t.counter(
                "ferrotel_loadbalancer_num_backend_updates",
                "Resolutions that changed the list of backends (ring rebuilds).",
                &[("exporter", &id)],
            ),
        }
    }
}

/// The ring and, aligned with its endpoint list, the backend exporters.
#[derive(Default)]
struct Snapshot {
    ring: HashRing,
    backends: Vec<Arc<Backend>>,
}

struct Backend {
    endpoint: String,
    exporter: Arc<QueuedExporter>,
    /// Set when the resolver dropped this backend: what its queue still holds is re-routed.
    removed: Arc<AtomicBool>,
}

pub struct LoadBalancer {
    me: Weak<LoadBalancer>,
    ctx: CreateContext,
    template: OtlpGrpcConfig,
    traces_key: RoutingKey,
    metrics_key: RoutingKey,
    resolver: Resolver,
    state: RwLock<Arc<Snapshot>>,
    /// Serializes ring updates (resolver ticks, shutdown).
    update: tokio::sync::Mutex<()>,
    resolver_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Shutdowns of removed backends still draining (re-routing) their queues.
    retired: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    stopped: AtomicBool,
    /// Keys for log records without a trace id, one per request (Go picks a random backend).
    fallback: AtomicU64,
    telemetry: Telemetry,
}

impl LoadBalancer {
    fn snapshot(&self) -> Arc<Snapshot> {
        self.state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The endpoints of the current ring, sorted.
    pub fn endpoints(&self) -> Vec<String> {
        self.snapshot().ring.endpoints().to_vec()
    }

    /// Splits `payload` by routing key and hands each part to its backend's queue.
    async fn route(&self, payload: Payload, ctx: Context) -> Result<(), ConsumeError> {
        let snap = self.snapshot();
        if snap.ring.is_empty() {
            return Err(ConsumeError::retryable(
                format!("exporter \"{}\": no backends available", self.ctx.id),
                None,
            ));
        }
        let key = match payload.signal() {
            Signal::Metrics => self.metrics_key,
            Signal::Traces => self.traces_key,
            _ => RoutingKey::TraceId,
        };
        let mut fallback = || self.fallback.fetch_add(1, Ordering::Relaxed);
        let parts = routing::route(payload, key, &snap.ring, &mut fallback)?;
        let sends = parts.into_iter().map(|(idx, part)| {
            let backend = snap.backends[idx].clone();
            let ctx = ctx.clone();
            async move {
                backend.exporter.consume(part, ctx).await.map_err(|e| {
                    tracing::debug!(exporter = %self.ctx.id, endpoint = %backend.endpoint, error = %e, "backend refused data");
                    e
                })
            }
        });
        let results = futures::future::join_all(sends).await;
        // Any retryable refusal makes the whole request retryable (the sender resends it all,
        // as with Go's combined error).
        let mut first_err: Option<ConsumeError> = None;
        for r in results {
            if let Err(e) = r {
                match &first_err {
                    Some(f) if f.is_retryable() => {}
                    _ => first_err = Some(e),
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Replaces the backends with `endpoints`: new ones are built and started, the ring is
    /// swapped, removed ones are shut down in the background — their queues re-route.
    pub async fn set_endpoints(&self, endpoints: Vec<String>) -> Result<(), ComponentError> {
        let _guard = self.update.lock().await;
        if self.stopped.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut endpoints = endpoints;
        endpoints.sort();
        endpoints.dedup();
        let old = self.snapshot();
        if old.ring.endpoints() == endpoints.as_slice() {
            return Ok(());
        }
        let mut backends = Vec::with_capacity(endpoints.len());
        for ep in &endpoints {
            let existing = old.backends.iter().find(|b| &b.endpoint == ep);
            backends.push(match existing {
                Some(b) => b.clone(),
                None => {
                    let b = self.new_backend(ep)?;
                    b.exporter.start().await?;
                    b
                }
            });
        }
        let new = Arc::new(Snapshot {
            ring: HashRing::new(&endpoints),
            backends,
        });
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = new.clone();
        self.telemetry.backends.set(endpoints.len() as u64);
        self.telemetry.backend_updates.add(1);
        tracing::info!(exporter = %self.ctx.id, backends = ?endpoints, "loadbalancing: backends updated");
        for b in old.backends.iter() {
            if new.backends.iter().any(|n| Arc::ptr_eq(n, b)) {
                continue;
            }
            b.removed.store(true, Ordering::SeqCst);
            let b = b.clone();
            let handle = tokio::spawn(async move {
                if let Err(e) = b.exporter.shutdown().await {
                    tracing::warn!(endpoint = %b.endpoint, error = %e, "loadbalancing: removed backend's shutdown failed");
                }
            });
            self.retired
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(handle);
        }
        Ok(())
    }

    fn new_backend(&self, endpoint: &str) -> Result<Arc<Backend>, ComponentError> {
        let name = match self.ctx.id.name() {
            Some(n) => format!("{n}_{endpoint}"),
            None => endpoint.to_string(),
        };
        let id: ferrotel_runtime::config::ComponentId =
            format!("{}/{name}", self.ctx.id.type_name())
                .parse()
                .map_err(ComponentError::new)?;
        let mut ctx = self.ctx.clone();
        ctx.id = id;
        let mut cfg = self.template.clone();
        cfg.endpoint = endpoint.to_string();
        let removed = Arc::new(AtomicBool::new(false));
        let sender = Arc::new(BackendSender {
            inner: grpc_sender(&ctx, &cfg)?,
            balancer: self.me.clone(),
            removed: removed.clone(),
        });
        let exporter = Arc::new(QueuedExporter::new(
            &ctx,
            sender,
            &cfg.sending_queue,
            cfg.retry_on_failure.clone(),
            cfg.timeout,
        )?);
        Ok(Arc::new(Backend {
            endpoint: endpoint.to_string(),
            exporter,
            removed,
        }))
    }

    /// One resolution: a failure keeps the current backends (as Go).
    async fn resolve_once(&self) {
        match self.resolver.resolve().await {
            Ok(endpoints) => {
                self.telemetry.resolutions_ok.add(1);
                if let Err(e) = self.set_endpoints(endpoints).await {
                    tracing::error!(exporter = %self.ctx.id, error = %e, "loadbalancing: cannot build a backend");
                }
            }
            Err(e) => {
                self.telemetry.resolutions_failed.add(1);
                tracing::warn!(exporter = %self.ctx.id, error = %e, "loadbalancing: resolution failed; keeping the current backends");
            }
        }
    }
}

/// A backend's OTLP client, or — once the backend has left the ring — the load balancer.
struct BackendSender {
    inner: Arc<dyn Sender>,
    balancer: Weak<LoadBalancer>,
    removed: Arc<AtomicBool>,
}

impl Sender for BackendSender {
    fn send(&self, payload: Payload, ctx: Context) -> BoxFuture<'_, Result<(), SendFailure>> {
        Box::pin(async move {
            if self.removed.load(Ordering::SeqCst)
                && let Some(lb) = self.balancer.upgrade()
            {
                return lb.route(payload, ctx).await.map_err(|e| SendFailure {
                    retryable: e.is_retryable(),
                    retry_after: e.retry_after(),
                    message: format!("re-routing a removed backend's data: {e}"),
                });
            }
            self.inner.send(payload, ctx).await
        })
    }

    fn close(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        self.inner.close()
    }
}

impl Consumer for LoadBalancer {
    fn consume(&self, payload: Payload, ctx: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(self.route(payload, ctx))
    }
}

impl Lifecycle for LoadBalancer {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            self.resolve_once().await;
            if let Some(interval) = self.resolver.interval() {
                let me = self.me.clone();
                let task = tokio::spawn(async move {
                    let mut tick = tokio::time::interval(interval);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    tick.tick().await;
                    loop {
                        tick.tick().await;
                        let Some(lb) = me.upgrade() else { return };
                        lb.resolve_once().await;
                    }
                });
                *self.resolver_task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
            }
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            if let Some(t) = self
                .resolver_task
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
            {
                t.abort();
            }
            let _guard = self.update.lock().await;
            self.stopped.store(true, Ordering::SeqCst);
            // Removed backends first: they re-route what they hold into the current ones.
            let retired: Vec<_> =
                std::mem::take(&mut *self.retired.lock().unwrap_or_else(|e| e.into_inner()));
            for h in retired {
                let _ = h.await;
            }
            let snap = self.snapshot();
            let results =
                futures::future::join_all(snap.backends.iter().map(|b| b.exporter.shutdown()))
                    .await;
            results.into_iter().collect::<Result<Vec<()>, _>>()?;
            Ok(())
        })
    }
}

impl Exporter for LoadBalancer {}
