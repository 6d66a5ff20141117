//! `resource` processor: the `attributes` processor's actions (insert, update, upsert, delete,
//! hash, extract, convert) applied to resource attributes, for every signal — the Go
//! Collector's `resourceprocessor`. The action engine is shared with
//! [`attributes`](crate::processors::attributes); like there, an encoded payload is edited on
//! the wire (only resource attributes are parsed).

pub mod config;

use std::sync::Arc;

use ferrotel_pdata::proto::common::v1::KeyValue;
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::wire::AttrTarget;
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::telemetry::obs::ProcessorObs;
use ferrotel_runtime::*;

use crate::processors::attributes::AttrActions;
pub use config::ResourceConfig;

/// Factory of the `resource` processor.
pub struct ResourceProcessorFactory;

impl ProcessorFactory for ResourceProcessorFactory {
    type Config = ResourceConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("resource", "Modifies resource attributes")
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
        Ok(Arc::new(ResourceProcessor::build(
            &ctx, config, signal, next,
        )?))
    }
}

/// The `resource` processor of one pipeline.
pub struct ResourceProcessor {
    actions: AttrActions,
    next: ConsumerRef,
    obs: ProcessorObs,
}

/// The attribute list of a resource, creating the resource if the request had none (an absent
/// and an empty resource mean the same in OTLP, so inserts have somewhere to go).
fn attrs(resource: &mut Option<Resource>) -> &mut Vec<KeyValue> {
    &mut resource.get_or_insert_with(Default::default).attributes
}

impl ResourceProcessor {
    /// Compiles the config (what the factory does, typed for benches and tests).
    pub fn build(
        ctx: &CreateContext,
        config: ResourceConfig,
        signal: Signal,
        next: ConsumerRef,
    ) -> Result<Self, ComponentError> {
        let actions = AttrActions::new(&config.attributes).map_err(ComponentError::new)?;
        let pipeline = ctx
            .pipeline
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default();
        Ok(ResourceProcessor {
            actions,
            next,
            obs: ProcessorObs::new(&ctx.telemetry, &ctx.id.to_string(), &pipeline, signal),
        })
    }

    /// Applies the actions to every resource of a request.
    pub fn apply(&self, request: &mut Request, ctx: &Context) {
        let bound = self.actions.bind(ctx);
        resource_attrs(request, |a| bound.apply(a));
    }
}

/// Calls `edit` with the attribute list of every resource of a request, of any signal (shared
/// with `resource_detection`).
pub(crate) fn resource_attrs(request: &mut Request, mut edit: impl FnMut(&mut Vec<KeyValue>)) {
    match request {
        Request::Traces(r) => r
            .resource_spans
            .iter_mut()
            .for_each(|rs| edit(attrs(&mut rs.resource))),
        Request::Metrics(r) => r
            .resource_metrics
            .iter_mut()
            .for_each(|rm| edit(attrs(&mut rm.resource))),
        Request::Logs(r) => r
            .resource_logs
            .iter_mut()
            .for_each(|rl| edit(attrs(&mut rl.resource))),
        Request::Profiles(r) => r
            .resource_profiles
            .iter_mut()
            .for_each(|rp| edit(attrs(&mut rp.resource))),
    }
}

impl ResourceProcessor {
    /// Applies the actions on the encoded bytes when the payload is still encoded (only the
    /// resource attributes are parsed, everything else is copied); false if the caller must
    /// decode (a decoded payload, profiles).
    pub fn apply_encoded(&self, payload: &mut Payload, ctx: &Context) -> bool {
        self.actions
            .apply_encoded(payload, AttrTarget::Resources, ctx)
    }
}

impl Consumer for ResourceProcessor {
    fn consume(
        &self,
        mut payload: Payload,
        ctx: Context,
    ) -> BoxFuture<'_, Result<(), ConsumeError>> {
        let done_on_wire = self.apply_encoded(&mut payload, &ctx);
        Box::pin(ferrotel_runtime::processor_helper::edit_then_forward(
            "resource",
            &self.obs,
            self.next.as_ref(),
            payload,
            ctx,
            !done_on_wire,
            |req, ctx| {
                self.apply(req, ctx);
                Ok(())
            },
        ))
    }

    /// Passes the question on: a `memory_limiter` may come after this processor.
    fn admit(&self, signal: Signal) -> Result<(), ConsumeError> {
        self.next.admit(signal)
    }
}

impl Lifecycle for ResourceProcessor {}
impl Processor for ResourceProcessor {}

#[cfg(test)]
mod tests;
