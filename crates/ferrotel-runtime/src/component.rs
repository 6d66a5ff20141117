//! What a component is: one trait per kind, one factory trait per kind, and the errors they
//! return.
//!
//! Contracts (as the Go Collector writes them down, enforced by `tests/lifecycle.rs`):
//! - `shutdown` is safe without `start` and safe to call twice;
//! - a consumer owns the `Payload` it is given; it may modify it (copy-on-write keeps other
//!   fan-out branches unaffected);
//! - `consume` returns only after the data is accepted by the next stage (or queued durably by
//!   an exporter), so a receiver acknowledges only data the pipeline holds;
//! - errors say whether retrying can help ([`ConsumeError::is_retryable`]).

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ferrotel_pdata::{Payload, Signal};
use serde::de::DeserializeOwned;

use crate::config::{ComponentId, ConfigError};
use crate::telemetry::Telemetry;

/// A boxed, `Send` future: component traits are used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The five kinds of component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Receiver,
    Processor,
    Exporter,
    Connector,
    Extension,
}

impl Kind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Receiver => "receiver",
            Kind::Processor => "processor",
            Kind::Exporter => "exporter",
            Kind::Connector => "connector",
            Kind::Extension => "extension",
        }
    }

    /// The config section of this kind (`receivers`).
    pub const fn section(self) -> &'static str {
        match self {
            Kind::Receiver => "receivers",
            Kind::Processor => "processors",
            Kind::Exporter => "exporters",
            Kind::Connector => "connectors",
            Kind::Extension => "extensions",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far along a component is, per signal, as the Go Collector labels them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stability {
    Development,
    Alpha,
    Beta,
    Stable,
    Deprecated,
}

impl Stability {
    pub const fn as_str(self) -> &'static str {
        match self {
            Stability::Development => "development",
            Stability::Alpha => "alpha",
            Stability::Beta => "beta",
            Stability::Stable => "stable",
            Stability::Deprecated => "deprecated",
        }
    }
}

/// Request-scoped information that travels with a payload: who sent it (for `include_metadata`,
/// `batch::metadata_keys` and auth-aware exporters).
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub client: Option<Arc<ClientInfo>>,
}

/// The sender of a request, as a receiver saw it.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub addr: Option<std::net::SocketAddr>,
    /// Request headers/gRPC metadata, lower-cased keys (only with `include_metadata`).
    pub metadata: Vec<(String, String)>,
    /// The authenticated subject, when an auth extension accepted the request.
    pub auth_subject: Option<String>,
}

impl ClientInfo {
    /// All values of a metadata key (case-insensitive).
    pub fn metadata_values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.metadata
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a consumer did not accept data.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumeError {
    pub kind: ConsumeErrorKind,
    pub message: String,
}

/// Whether the sender should retry.
#[derive(Debug, Clone, PartialEq)]
pub enum ConsumeErrorKind {
    /// The data is bad or can never be accepted: do not retry.
    Permanent,
    /// Temporary refusal (memory pressure, full queue, shutting down): retry, after
    /// `retry_after` if given. Receivers answer 503/Unavailable with Retry-After.
    Retryable { retry_after: Option<Duration> },
}

impl ConsumeError {
    pub fn permanent(message: impl Into<String>) -> Self {
        ConsumeError {
            kind: ConsumeErrorKind::Permanent,
            message: message.into(),
        }
    }

    pub fn retryable(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        ConsumeError {
            kind: ConsumeErrorKind::Retryable { retry_after },
            message: message.into(),
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ConsumeErrorKind::Retryable { .. })
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self.kind {
            ConsumeErrorKind::Retryable { retry_after } => retry_after,
            ConsumeErrorKind::Permanent => None,
        }
    }
}

impl fmt::Display for ConsumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConsumeError {}

/// A component failed to start, stop or be built.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ComponentError(pub String);

impl ComponentError {
    pub fn new(message: impl Into<String>) -> Self {
        ComponentError(message.into())
    }
}

/// Takes payloads: the next stage of a pipeline.
pub trait Consumer: Send + Sync + 'static {
    fn consume(&self, payload: Payload, ctx: Context) -> BoxFuture<'_, Result<(), ConsumeError>>;

    /// Asked by receivers before they read a request body: may data of `signal` come in now?
    /// A `memory_limiter` answers no above its limit, so refusing costs no allocation. Stages
    /// that only pass data on (fan-out, guards) forward the question; the default is yes.
    fn admit(&self, signal: Signal) -> Result<(), ConsumeError> {
        let _ = signal;
        Ok(())
    }
}

/// A shared handle on the next stage.
pub type ConsumerRef = Arc<dyn Consumer>;

/// Start and shutdown, common to every component.
pub trait Lifecycle: Send + Sync + 'static {
    /// Acquires resources (binds ports, opens files, spawns tasks). Must not block.
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async { Ok(()) })
    }

    /// Releases resources, delivering what it holds: receivers stop accepting and answer
    /// in-flight requests, processors flush, exporters send or persist their queue. Safe
    /// without `start` and safe twice.
    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Brings data into the collector and hands it to its pipelines.
pub trait Receiver: Lifecycle {}

/// Transforms data in one pipeline and passes it on.
pub trait Processor: Lifecycle + Consumer {}

/// Sends data out of the collector.
pub trait Exporter: Lifecycle + Consumer {}

/// The exporter of one pipeline and the receiver of another.
pub trait Connector: Lifecycle + Consumer {}

/// Capabilities other components use: auth, storage, health.
pub trait Extension: Lifecycle {
    /// Capability objects this extension offers (e.g. `Arc<dyn ServerAuth>`), each boxed as
    /// `Any`; components ask for them by type with [`capability`].
    fn capabilities(&self) -> Vec<Box<dyn Any + Send + Sync>> {
        Vec::new()
    }

    /// Told when every pipeline is running, and when draining starts (health checks).
    fn on_ready(&self, ready: bool) {
        let _ = ready;
    }

    /// Told once, after every component is built, what the service runs (zpages).
    fn on_service(&self, info: &Arc<ServiceInfo>) {
        let _ = info;
    }
}

/// What a service runs, for extensions that describe it.
#[derive(Debug, Clone, Default)]
pub struct ServiceInfo {
    /// `pipelines::<id>` with its receivers, processors and exporters, in config order.
    pub pipelines: Vec<PipelineInfo>,
    /// Enabled extensions, in `service::extensions` order.
    pub extensions: Vec<String>,
    /// Every configured component as `(kind, id)`, kinds in the config's section order.
    pub components: Vec<(Kind, String)>,
}

/// One pipeline as [`ServiceInfo`] lists it.
#[derive(Debug, Clone, Default)]
pub struct PipelineInfo {
    pub id: String,
    pub receivers: Vec<String>,
    pub processors: Vec<String>,
    pub exporters: Vec<String>,
}

/// The capability of type `T` an extension offers, if any.
pub fn capability<T: Clone + 'static>(ext: &dyn Extension) -> Option<T> {
    ext.capabilities().into_iter().find_map(|b| {
        let any: Box<dyn Any> = b;
        any.downcast::<T>().ok().map(|b| *b)
    })
}

/// A component's typed configuration.
pub trait ComponentConfig: DeserializeOwned + Default + fmt::Debug + Send + Sync + 'static {
    /// Checks values serde cannot (ranges, combinations). Paths are relative to the component.
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }

    /// The addresses this component will listen on, so validation can report port conflicts.
    fn listen_addresses(&self) -> Vec<String> {
        Vec::new()
    }
}

/// What every factory tells about its component type.
#[derive(Debug, Clone)]
pub struct FactoryInfo {
    /// The config type name (`otlp`, `batch`).
    pub type_name: &'static str,
    /// Other type names accepted for the same component (`otlphttp` for `otlp_http`).
    pub aliases: &'static [&'static str],
    /// Supported signals with their stability (for connectors: the `from` signal).
    pub signals: Vec<(Signal, Stability)>,
    /// For connectors: supported (from, to) signal pairs.
    pub connects: Vec<(Signal, Signal)>,
    /// One line for `ferrotel components`.
    pub description: &'static str,
    /// Stability of components without signals (extensions).
    pub stability: Stability,
}

impl FactoryInfo {
    pub fn new(type_name: &'static str, description: &'static str) -> Self {
        FactoryInfo {
            type_name,
            aliases: &[],
            signals: Vec::new(),
            connects: Vec::new(),
            description,
            stability: Stability::Alpha,
        }
    }

    pub fn signal(mut self, signal: Signal, stability: Stability) -> Self {
        self.signals.push((signal, stability));
        self
    }

    /// Every signal at one stability.
    pub fn all_signals(mut self, stability: Stability) -> Self {
        self.signals = Signal::ALL.iter().map(|s| (*s, stability)).collect();
        self
    }

    /// The stability of a component without signals (extensions).
    pub fn stability(mut self, stability: Stability) -> Self {
        self.stability = stability;
        self
    }

    pub fn aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    pub fn connects(mut self, from: Signal, to: Signal) -> Self {
        self.connects.push((from, to));
        if !self.signals.iter().any(|(s, _)| *s == from) {
            self.signals.push((from, Stability::Alpha));
        }
        self
    }

    pub fn supports(&self, signal: Signal) -> bool {
        self.signals.iter().any(|(s, _)| *s == signal)
    }
}

/// What a factory gets when it builds a component.
#[derive(Clone)]
pub struct CreateContext {
    pub id: ComponentId,
    pub kind: Kind,
    /// The pipeline a processor is built for (processors are built once per pipeline).
    pub pipeline: Option<crate::config::PipelineId>,
    pub telemetry: Telemetry,
    /// Extensions by id, already built (components look up auth/storage here).
    pub extensions: Arc<Vec<(ComponentId, Arc<dyn Extension>)>>,
}

impl CreateContext {
    /// The extension with `id`, or an error that names it.
    pub fn extension(&self, id: &ComponentId) -> Result<&Arc<dyn Extension>, ComponentError> {
        self.extensions
            .iter()
            .find(|(eid, _)| eid == id)
            .map(|(_, e)| e)
            .ok_or_else(|| {
                ComponentError::new(format!(
                    "extension {id:?} is not configured or not enabled in service::extensions",
                    id = id.to_string()
                ))
            })
    }

    /// The capability `T` of extension `id`, with a clear error if it does not offer it.
    pub fn extension_capability<T: Clone + 'static>(
        &self,
        id: &ComponentId,
        what: &str,
    ) -> Result<T, ComponentError> {
        let ext = self.extension(id)?;
        capability::<T>(ext.as_ref()).ok_or_else(|| {
            ComponentError::new(format!("extension \"{id}\" does not provide {what}"))
        })
    }
}

/// Receivers feed, per signal, the fan-out to every pipeline that lists them.
pub type SignalOutputs = Vec<(Signal, ConsumerRef)>;

/// The output of a receiver that serves one signal only (`kind` is its type, for the error).
pub fn single_signal_output(
    outputs: SignalOutputs,
    signal: Signal,
    kind: &str,
) -> Result<ConsumerRef, ComponentError> {
    outputs
        .into_iter()
        .find(|(s, _)| *s == signal)
        .map(|(_, c)| c)
        .ok_or_else(|| {
            ComponentError::new(format!("the {kind} receiver feeds {signal} pipelines only"))
        })
}

/// Builds receivers of one type. One instance serves every pipeline and signal that lists the id.
pub trait ReceiverFactory: Send + Sync + 'static {
    type Config: ComponentConfig;
    fn info(&self) -> FactoryInfo;
    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        outputs: SignalOutputs,
    ) -> Result<Arc<dyn Receiver>, ComponentError>;
}

/// Builds processors of one type: one instance per pipeline.
pub trait ProcessorFactory: Send + Sync + 'static {
    type Config: ComponentConfig;
    fn info(&self) -> FactoryInfo;
    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        signal: Signal,
        next: ConsumerRef,
    ) -> Result<Arc<dyn Processor>, ComponentError>;
}

/// Builds exporters of one type: one instance per id, shared by the signals that use it.
pub trait ExporterFactory: Send + Sync + 'static {
    type Config: ComponentConfig;
    fn info(&self) -> FactoryInfo;
    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        signals: &[Signal],
    ) -> Result<Arc<dyn Exporter>, ComponentError>;
}

/// Builds connectors: one instance per id, upstream pipeline and (from, to) signal pair.
pub trait ConnectorFactory: Send + Sync + 'static {
    type Config: ComponentConfig;
    fn info(&self) -> FactoryInfo;
    /// Builds the connector feeding `next`: every pipeline of signal `to` that receives from it.
    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        from: Signal,
        to: Signal,
        next: ConsumerRef,
    ) -> Result<Arc<dyn Connector>, ComponentError>;

    /// Builds the connector with its downstream pipelines by id, for connectors that choose
    /// among them (`routing`, `failover`). The graph builder calls this; the default joins the
    /// pipelines in one fan-out and calls [`ConnectorFactory::create`].
    fn create_routed(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        from: Signal,
        to: Signal,
        routes: Vec<(crate::config::PipelineId, ConsumerRef)>,
    ) -> Result<Arc<dyn Connector>, ComponentError> {
        let next = crate::fanout::Fanout::of(routes.into_iter().map(|(_, c)| c).collect());
        self.create(ctx, config, from, to, next)
    }
}

/// Builds extensions: one instance per id.
pub trait ExtensionFactory: Send + Sync + 'static {
    type Config: ComponentConfig;
    fn info(&self) -> FactoryInfo;
    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
    ) -> Result<Arc<dyn Extension>, ComponentError>;
}
