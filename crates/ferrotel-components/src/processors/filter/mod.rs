//! `filter` processor: drops spans, span events, metrics, data points and log records for
//! which any configured OTTL condition is true — the Go Collector's `filterprocessor`. The
//! legacy `include`/`exclude` form (`spans`, `metrics`, `logs`) is in [`legacy`].
//!
//! Conditions are compiled once when the processor is built. A metric whose data points are
//! all dropped is dropped; resources and scopes left without items are removed. Dropped items
//! are counted in the processor's `dropped` counter; a payload left empty is not passed on.
//! Span and log record conditions that read only what an item's encoding gives run on the
//! encoded request, which is not decoded ([`wire`]).

pub mod config;
pub mod expr;
pub mod legacy;
pub mod wire;

use std::sync::Arc;

use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::telemetry::obs::ProcessorObs;
use ferrotel_runtime::*;

use config::CompiledGroup;
pub use config::{ErrorMode, FilterConfig};
use legacy::Legacy;
use wire::WireFilter;

/// Factory of the `filter` processor.
pub struct FilterProcessorFactory;

impl ProcessorFactory for FilterProcessorFactory {
    type Config = FilterConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("filter", "Drops telemetry matching OTTL conditions")
            .signal(Signal::Traces, Stability::Alpha)
            .signal(Signal::Metrics, Stability::Alpha)
            .signal(Signal::Logs, Stability::Alpha)
    }

    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        signal: Signal,
        next: ConsumerRef,
    ) -> Result<Arc<dyn Processor>, ComponentError> {
        Ok(Arc::new(FilterProcessor::build(
            &ctx, config, signal, next,
        )?))
    }
}

/// The `filter` processor of one pipeline.
pub struct FilterProcessor {
    /// Outermost context first.
    groups: Vec<CompiledGroup>,
    /// The legacy `include`/`exclude` of this signal (never together with `groups`).
    legacy: Option<Legacy>,
    /// `groups` on the encoded request, when all of them can run there.
    wire: Option<WireFilter>,
    next: ConsumerRef,
    obs: ProcessorObs,
    id: String,
}

impl FilterProcessor {
    /// Compiles the conditions of `signal`.
    pub fn build(
        ctx: &CreateContext,
        config: FilterConfig,
        signal: Signal,
        next: ConsumerRef,
    ) -> Result<Self, ComponentError> {
        let groups = config
            .compile(signal)
            .map_err(|e| ComponentError::new(e.to_string()))?;
        let legacy = Legacy::build(&config, signal).map_err(ComponentError::new)?;
        let wire = if legacy.is_none() {
            WireFilter::compile(signal, &groups)
        } else {
            None
        };
        let pipeline = ctx
            .pipeline
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default();
        let id = ctx.id.to_string();
        Ok(FilterProcessor {
            groups,
            legacy,
            wire,
            next,
            obs: ProcessorObs::new(&ctx.telemetry, &id, &pipeline, signal),
            id,
        })
    }

    /// Drops the matching items of a request. With `error_mode: propagate` the first
    /// evaluation error is returned.
    pub fn apply(&self, request: &mut Request) -> Result<(), String> {
        if let Some(legacy) = &self.legacy {
            legacy.apply(request)?;
        }
        for g in &self.groups {
            let mode = g.error_mode;
            // Resources and scopes are dropped with everything in them; items leave their
            // scope (and resource) behind only when it is left empty.
            ferrotel_ottl::walk(request, g.ctx, true, &mut |t| {
                for c in &g.conditions {
                    match c.eval(t) {
                        Ok(true) => return Ok(false),
                        Ok(false) => {}
                        Err(e) => match mode {
                            ErrorMode::Propagate => {
                                return Err(format!("failed to eval condition: {}, {e}", c.text()));
                            }
                            ErrorMode::Ignore => tracing::warn!(
                                processor = %self.id,
                                condition = c.text(),
                                error = %e,
                                "failed to eval condition"
                            ),
                            ErrorMode::Silent => {}
                        },
                    }
                }
                Ok(true)
            })?;
        }
        Ok(())
    }
}

impl Consumer for FilterProcessor {
    fn consume(
        &self,
        mut payload: Payload,
        ctx: Context,
    ) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let n = payload.items() as u64;
            self.obs.incoming.add(n);
            let on_wire = n > 0 && self.wire.as_ref().is_some_and(|w| w.apply(&mut payload));
            if (!self.groups.is_empty() || self.legacy.is_some()) && n > 0 && !on_wire {
                payload
                    .modify(|req| self.apply(req))
                    .map_err(|e| ConsumeError::permanent(format!("filter: {e}")))?
                    .map_err(|e| ConsumeError::permanent(format!("filter: {e}")))?;
            }
            let left = payload.items() as u64;
            self.obs.dropped.add(n.saturating_sub(left));
            if left == 0 && n > 0 {
                return Ok(());
            }
            self.next.consume(payload, ctx).await?;
            self.obs.outgoing.add(left);
            Ok(())
        })
    }

    /// Passes the question on: a `memory_limiter` may come after this processor.
    fn admit(&self, signal: Signal) -> Result<(), ConsumeError> {
        self.next.admit(signal)
    }
}

impl Lifecycle for FilterProcessor {}
impl Processor for FilterProcessor {}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod wire_tests;
