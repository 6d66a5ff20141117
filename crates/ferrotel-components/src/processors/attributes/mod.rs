//! `attributes` processor: inserts, updates, deletes, hashes, extracts and converts the
//! attributes of spans, log records and metric data points, optionally only for items selected
//! by `include`/`exclude` — the Go Collector's `attributesprocessor`.
//!
//! Actions and filters are compiled when the processor is built (regexes, configured values,
//! context keys); per item the work is a scan of its attribute list and the edit itself.
//!
//! A payload still in its received protobuf form is edited on the wire
//! ([`ferrotel_pdata::wire::edit_attributes`]): only the attribute lists are parsed and the rest
//! of the request is copied, which costs a fraction of a decode and re-encode. With
//! `include`/`exclude` (which read span names, kinds, resources…) or an already decoded payload,
//! the decoded request is edited with [`Payload::modify`], which copies only when another
//! fan-out branch shares the data.

pub mod actions;
pub mod config;
pub mod matcher;

use std::sync::Arc;

use ferrotel_pdata::proto::metrics::v1::metric::Data;
use ferrotel_pdata::wire::AttrTarget;
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::telemetry::obs::ProcessorObs;
use ferrotel_runtime::*;

pub use actions::{ActionKeyValue, AttrActions};
pub use config::AttributesConfig;
use matcher::Filter;

/// Factory of the `attributes` processor.
pub struct AttributesProcessorFactory;

impl ProcessorFactory for AttributesProcessorFactory {
    type Config = AttributesConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "attributes",
            "Modifies span, log and metric data point attributes",
        )
        .signal(Signal::Traces, Stability::Beta)
        .signal(Signal::Metrics, Stability::Beta)
        .signal(Signal::Logs, Stability::Beta)
    }

    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        signal: Signal,
        next: ConsumerRef,
    ) -> Result<Arc<dyn Processor>, ComponentError> {
        Ok(Arc::new(AttributesProcessor::build(
            &ctx, config, signal, next,
        )?))
    }
}

/// The `attributes` processor of one pipeline.
pub struct AttributesProcessor {
    actions: AttrActions,
    filter: Filter,
    next: ConsumerRef,
    obs: ProcessorObs,
}

impl AttributesProcessor {
    /// Compiles the config for `signal` (what the factory does, typed for benches and tests).
    pub fn build(
        ctx: &CreateContext,
        config: AttributesConfig,
        signal: Signal,
        next: ConsumerRef,
    ) -> Result<Self, ComponentError> {
        let actions = AttrActions::new(&config.actions).map_err(ComponentError::new)?;
        let filter = Filter::new(config.include.as_ref(), config.exclude.as_ref(), signal)
            .map_err(ComponentError::new)?;
        let pipeline = ctx
            .pipeline
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default();
        Ok(AttributesProcessor {
            actions,
            filter,
            next,
            obs: ProcessorObs::new(&ctx.telemetry, &ctx.id.to_string(), &pipeline, signal),
        })
    }

    /// Applies the actions to every selected item of a request.
    pub fn apply(&self, request: &mut Request, ctx: &Context) {
        let bound = self.actions.bind(ctx);
        let filter = &self.filter;
        match request {
            Request::Traces(r) => {
                for rs in &mut r.resource_spans {
                    let resource = rs.resource.as_ref().map_or(&[][..], |r| &r.attributes);
                    for ss in &mut rs.scope_spans {
                        let scope = ss.scope.as_ref();
                        for span in &mut ss.spans {
                            if filter.is_empty()
                                || filter.keep(|m| m.matches_span(resource, scope, span))
                            {
                                bound.apply(&mut span.attributes);
                            }
                        }
                    }
                }
            }
            Request::Logs(r) => {
                for rl in &mut r.resource_logs {
                    let resource = rl.resource.as_ref().map_or(&[][..], |r| &r.attributes);
                    for sl in &mut rl.scope_logs {
                        let scope = sl.scope.as_ref();
                        for log in &mut sl.log_records {
                            if filter.is_empty()
                                || filter.keep(|m| m.matches_log(resource, scope, log))
                            {
                                bound.apply(&mut log.attributes);
                            }
                        }
                    }
                }
            }
            Request::Metrics(r) => {
                for rm in &mut r.resource_metrics {
                    let resource = rm.resource.as_ref().map_or(&[][..], |r| &r.attributes);
                    for sm in &mut rm.scope_metrics {
                        for metric in &mut sm.metrics {
                            if !(filter.is_empty()
                                || filter.keep(|m| m.matches_metric(resource, &metric.name)))
                            {
                                continue;
                            }
                            match &mut metric.data {
                                Some(Data::Gauge(g)) => g
                                    .data_points
                                    .iter_mut()
                                    .for_each(|p| bound.apply(&mut p.attributes)),
                                Some(Data::Sum(s)) => s
                                    .data_points
                                    .iter_mut()
                                    .for_each(|p| bound.apply(&mut p.attributes)),
                                Some(Data::Histogram(h)) => h
                                    .data_points
                                    .iter_mut()
                                    .for_each(|p| bound.apply(&mut p.attributes)),
                                Some(Data::ExponentialHistogram(h)) => h
                                    .data_points
                                    .iter_mut()
                                    .for_each(|p| bound.apply(&mut p.attributes)),
                                Some(Data::Summary(s)) => s
                                    .data_points
                                    .iter_mut()
                                    .for_each(|p| bound.apply(&mut p.attributes)),
                                None => {}
                            }
                        }
                    }
                }
            }
            // Not a signal of this processor (the factory does not offer it).
            Request::Profiles(_) => {}
        }
    }
}

impl AttributesProcessor {
    /// Applies the actions on the encoded bytes, when the payload is still encoded and no
    /// `include`/`exclude` needs the item's other fields; false if the caller must decode.
    pub fn apply_encoded(&self, payload: &mut Payload, ctx: &Context) -> bool {
        if !self.filter.is_empty() {
            return false;
        }
        self.actions.apply_encoded(payload, AttrTarget::Items, ctx)
    }
}

impl Consumer for AttributesProcessor {
    fn consume(
        &self,
        mut payload: Payload,
        ctx: Context,
    ) -> BoxFuture<'_, Result<(), ConsumeError>> {
        let done_on_wire = self.apply_encoded(&mut payload, &ctx);
        Box::pin(ferrotel_runtime::processor_helper::edit_then_forward(
            "attributes",
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

impl Lifecycle for AttributesProcessor {}
impl Processor for AttributesProcessor {}

#[cfg(test)]
mod tests;
