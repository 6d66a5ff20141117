//! `forward` connector: passes data from the pipelines that export to it into the pipelines
//! that receive from it, unchanged (same signal).

use std::sync::Arc;

use ferrotel_pdata::{Payload, Signal};
use ferrotel_runtime::*;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ForwardConfig {}

impl ComponentConfig for ForwardConfig {}

/// Factory of the `forward` connector.
pub struct ForwardConnectorFactory;

impl ConnectorFactory for ForwardConnectorFactory {
    type Config = ForwardConfig;

    fn info(&self) -> FactoryInfo {
        let mut info = FactoryInfo::new("forward", "Joins pipelines of the same signal");
        for s in Signal::ALL {
            info = info.connects(s, s);
        }
        info
    }

    fn create(
        &self,
        _ctx: CreateContext,
        _config: Self::Config,
        _from: Signal,
        _to: Signal,
        next: ConsumerRef,
    ) -> Result<Arc<dyn Connector>, ComponentError> {
        Ok(Arc::new(Forward { next }))
    }
}

struct Forward {
    next: ConsumerRef,
}

impl Consumer for Forward {
    fn consume(&self, payload: Payload, ctx: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        self.next.consume(payload, ctx)
    }

    fn admit(&self, signal: Signal) -> Result<(), ConsumeError> {
        self.next.admit(signal)
    }
}

impl Lifecycle for Forward {}
impl Connector for Forward {}
