//! The registry: the explicit list of component types a ferrotel binary contains.
//!
//! Factories are typed (each has its `Config`); the registry stores them behind small erased
//! traits so the graph builder can look a type up by name, decode its config from the YAML
//! node and create it.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferrotel_pdata::Signal;

use crate::component::*;
use crate::config::{ConfigError, Node, PipelineId, decode};

fn load_config<C: ComponentConfig>(node: &Node) -> Result<C, ConfigError> {
    let config: C = decode(node)?;
    config.validate().map_err(|e| {
        let loc = e.location.clone().or_else(|| node.location.clone());
        e.with_location(loc)
    })?;
    Ok(config)
}

/// Type-erased view of any factory: its info and config checking.
pub trait DynFactory: Send + Sync {
    fn info(&self) -> FactoryInfo;
    /// Decodes and validates a config node (used by `ferrotel validate`).
    fn check_config(&self, node: &Node) -> Result<(), ConfigError>;
    /// Addresses the configured component listens on (for port-conflict checks).
    fn listen_addresses(&self, node: &Node) -> Vec<String>;
}

/// Erased receiver factory.
pub trait DynReceiverFactory: DynFactory {
    fn create(
        &self,
        ctx: CreateContext,
        node: &Node,
        outputs: SignalOutputs,
    ) -> Result<Arc<dyn Receiver>, ComponentError>;
}
/// Erased processor factory.
pub trait DynProcessorFactory: DynFactory {
    fn create(
        &self,
        ctx: CreateContext,
        node: &Node,
        signal: Signal,
        next: ConsumerRef,
    ) -> Result<Arc<dyn Processor>, ComponentError>;
}
/// Erased exporter factory.
pub trait DynExporterFactory: DynFactory {
    fn create(
        &self,
        ctx: CreateContext,
        node: &Node,
        signals: &[Signal],
    ) -> Result<Arc<dyn Exporter>, ComponentError>;
}
/// Erased connector factory.
pub trait DynConnectorFactory: DynFactory {
    fn create(
        &self,
        ctx: CreateContext,
        node: &Node,
        from: Signal,
        to: Signal,
        next: ConsumerRef,
    ) -> Result<Arc<dyn Connector>, ComponentError>;
    /// [`ConnectorFactory::create_routed`]: the downstream pipelines by id.
    fn create_routed(
        &self,
        ctx: CreateContext,
        node: &Node,
        from: Signal,
        to: Signal,
        routes: Vec<(PipelineId, ConsumerRef)>,
    ) -> Result<Arc<dyn Connector>, ComponentError>;
}
/// Erased extension factory.
pub trait DynExtensionFactory: DynFactory {
    fn create(&self, ctx: CreateContext, node: &Node)
    -> Result<Arc<dyn Extension>, ComponentError>;
}

fn cfg_err(e: ConfigError) -> ComponentError {
    ComponentError::new(e.to_string())
}

macro_rules! erase_info {
    ($typed:ident) => {
        impl<F: $typed> DynFactory for Wrap<F, { Kinds::$typed as u8 }> {
            fn info(&self) -> FactoryInfo {
                self.0.info()
            }
            fn check_config(&self, node: &Node) -> Result<(), ConfigError> {
                load_config::<F::Config>(node).map(|_| ())
            }
            fn listen_addresses(&self, node: &Node) -> Vec<String> {
                load_config::<F::Config>(node)
                    .map(|c| c.listen_addresses())
                    .unwrap_or_default()
            }
        }
    };
}

macro_rules! erase {
    ($typed:ident, $dyn:ident, ($($arg:ident: $ty:ty),*) -> $out:ty) => {
        erase_info!($typed);
        impl<F: $typed> $dyn for Wrap<F, { Kinds::$typed as u8 }> {
            fn create(&self, ctx: CreateContext, node: &Node, $($arg: $ty),*) -> Result<$out, ComponentError> {
                let config = load_config::<F::Config>(node).map_err(cfg_err)?;
                self.0.create(ctx, config, $($arg),*)
            }
        }
    };
}

/// Wraps a typed factory; the const parameter keeps the five blanket impls apart.
struct Wrap<F, const K: u8>(F);

#[allow(clippy::enum_variant_names)]
enum Kinds {
    ReceiverFactory,
    ProcessorFactory,
    ExporterFactory,
    ConnectorFactory,
    ExtensionFactory,
}

erase!(ReceiverFactory, DynReceiverFactory, (outputs: SignalOutputs) -> Arc<dyn Receiver>);
erase!(ProcessorFactory, DynProcessorFactory, (signal: Signal, next: ConsumerRef) -> Arc<dyn Processor>);
erase!(ExporterFactory, DynExporterFactory, (signals: &[Signal]) -> Arc<dyn Exporter>);
erase_info!(ConnectorFactory);
impl<F: ConnectorFactory> DynConnectorFactory for Wrap<F, { Kinds::ConnectorFactory as u8 }> {
    fn create(
        &self,
        ctx: CreateContext,
        node: &Node,
        from: Signal,
        to: Signal,
        next: ConsumerRef,
    ) -> Result<Arc<dyn Connector>, ComponentError> {
        let config = load_config::<F::Config>(node).map_err(cfg_err)?;
        self.0.create(ctx, config, from, to, next)
    }
    fn create_routed(
        &self,
        ctx: CreateContext,
        node: &Node,
        from: Signal,
        to: Signal,
        routes: Vec<(PipelineId, ConsumerRef)>,
    ) -> Result<Arc<dyn Connector>, ComponentError> {
        let config = load_config::<F::Config>(node).map_err(cfg_err)?;
        self.0.create_routed(ctx, config, from, to, routes)
    }
}
erase!(ExtensionFactory, DynExtensionFactory, () -> Arc<dyn Extension>);

/// Every component type a binary knows, by kind and type name.
#[derive(Default, Clone)]
pub struct Registry {
    pub receivers: BTreeMap<&'static str, Arc<dyn DynReceiverFactory>>,
    pub processors: BTreeMap<&'static str, Arc<dyn DynProcessorFactory>>,
    pub exporters: BTreeMap<&'static str, Arc<dyn DynExporterFactory>>,
    pub connectors: BTreeMap<&'static str, Arc<dyn DynConnectorFactory>>,
    pub extensions: BTreeMap<&'static str, Arc<dyn DynExtensionFactory>>,
}

fn insert<T: ?Sized + DynFactory>(map: &mut BTreeMap<&'static str, Arc<T>>, f: Arc<T>) {
    let info = f.info();
    for name in std::iter::once(info.type_name).chain(info.aliases.iter().copied()) {
        assert!(
            map.insert(name, f.clone()).is_none(),
            "component type {name:?} registered twice"
        );
    }
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    pub fn receiver<F: ReceiverFactory>(&mut self, f: F) -> &mut Self {
        insert(
            &mut self.receivers,
            Arc::new(Wrap::<F, { Kinds::ReceiverFactory as u8 }>(f)) as Arc<dyn DynReceiverFactory>,
        );
        self
    }

    pub fn processor<F: ProcessorFactory>(&mut self, f: F) -> &mut Self {
        insert(
            &mut self.processors,
            Arc::new(Wrap::<F, { Kinds::ProcessorFactory as u8 }>(f))
                as Arc<dyn DynProcessorFactory>,
        );
        self
    }

    pub fn exporter<F: ExporterFactory>(&mut self, f: F) -> &mut Self {
        insert(
            &mut self.exporters,
            Arc::new(Wrap::<F, { Kinds::ExporterFactory as u8 }>(f)) as Arc<dyn DynExporterFactory>,
        );
        self
    }

    pub fn connector<F: ConnectorFactory>(&mut self, f: F) -> &mut Self {
        insert(
            &mut self.connectors,
            Arc::new(Wrap::<F, { Kinds::ConnectorFactory as u8 }>(f))
                as Arc<dyn DynConnectorFactory>,
        );
        self
    }

    pub fn extension<F: ExtensionFactory>(&mut self, f: F) -> &mut Self {
        insert(
            &mut self.extensions,
            Arc::new(Wrap::<F, { Kinds::ExtensionFactory as u8 }>(f))
                as Arc<dyn DynExtensionFactory>,
        );
        self
    }

    /// The factory info of a type of `kind`, if registered.
    pub fn info(&self, kind: Kind, type_name: &str) -> Option<FactoryInfo> {
        match kind {
            Kind::Receiver => self.receivers.get(type_name).map(|f| f.info()),
            Kind::Processor => self.processors.get(type_name).map(|f| f.info()),
            Kind::Exporter => self.exporters.get(type_name).map(|f| f.info()),
            Kind::Connector => self.connectors.get(type_name).map(|f| f.info()),
            Kind::Extension => self.extensions.get(type_name).map(|f| f.info()),
        }
    }

    /// Checks a component config node with the factory of its type.
    pub fn check_config(
        &self,
        kind: Kind,
        type_name: &str,
        node: &Node,
    ) -> Option<Result<(), ConfigError>> {
        Some(self.factory(kind, type_name)?.check_config(node))
    }

    /// The erased factory of a type, for info and config checks.
    pub fn factory(&self, kind: Kind, type_name: &str) -> Option<Arc<dyn DynFactory>> {
        Some(match kind {
            Kind::Receiver => self.receivers.get(type_name)?.clone() as Arc<dyn DynFactory>,
            Kind::Processor => self.processors.get(type_name)?.clone() as Arc<dyn DynFactory>,
            Kind::Exporter => self.exporters.get(type_name)?.clone() as Arc<dyn DynFactory>,
            Kind::Connector => self.connectors.get(type_name)?.clone() as Arc<dyn DynFactory>,
            Kind::Extension => self.extensions.get(type_name)?.clone() as Arc<dyn DynFactory>,
        })
    }

    /// Every registered type of `kind` (aliases listed once, under the main name).
    pub fn list(&self, kind: Kind) -> Vec<FactoryInfo> {
        let infos: Vec<FactoryInfo> = match kind {
            Kind::Receiver => self.receivers.values().map(|f| f.info()).collect(),
            Kind::Processor => self.processors.values().map(|f| f.info()).collect(),
            Kind::Exporter => self.exporters.values().map(|f| f.info()).collect(),
            Kind::Connector => self.connectors.values().map(|f| f.info()).collect(),
            Kind::Extension => self.extensions.values().map(|f| f.info()).collect(),
        };
        let mut seen = std::collections::BTreeSet::new();
        infos
            .into_iter()
            .filter(|i| seen.insert(i.type_name))
            .collect()
    }
}
