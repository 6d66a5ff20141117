//! `transform` processor: runs OTTL statements over traces, metrics and logs — the Go
//! Collector's `transformprocessor`.
//!
//! Statements are compiled once when the processor is built; per item only the compiled
//! getters and editors run. Groups run in config order, each over every item of its context.
//! The metric context adds `convert_sum_to_gauge`, `convert_gauge_to_sum`, `extract_sum_metric`
//! and `extract_count_metric` (derived metrics are appended to the scope).
//!
//! Traces statements that only set span or resource attributes to literals or delete them by
//! key run on the encoded request, as keyed attribute edits ([`wire`]); the rest decodes.

pub mod config;
pub mod wire;

use std::sync::Arc;

use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::telemetry::obs::ProcessorObs;
use ferrotel_runtime::*;
use wire::WireTransform;

pub use config::{Compiled, ErrorMode, StatementGroup, StatementsEntry, TransformConfig};

/// Factory of the `transform` processor.
pub struct TransformProcessorFactory;

impl ProcessorFactory for TransformProcessorFactory {
    type Config = TransformConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("transform", "Modifies telemetry with OTTL statements")
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
        Ok(Arc::new(TransformProcessor::build(
            &ctx, config, signal, next,
        )?))
    }
}

/// The `transform` processor of one pipeline.
pub struct TransformProcessor {
    groups: Vec<Compiled>,
    /// `groups` on the encoded request, when all of them can run there.
    wire: Option<WireTransform>,
    next: ConsumerRef,
    obs: ProcessorObs,
    id: String,
}

impl TransformProcessor {
    /// Compiles the statements of `signal`.
    pub fn build(
        ctx: &CreateContext,
        config: TransformConfig,
        signal: Signal,
        next: ConsumerRef,
    ) -> Result<Self, ComponentError> {
        let (section, entries) = match signal {
            Signal::Traces => ("trace_statements", &config.trace_statements),
            Signal::Metrics => ("metric_statements", &config.metric_statements),
            _ => ("log_statements", &config.log_statements),
        };
        let groups =
            config::compile(section, entries, config.error_mode).map_err(ComponentError::new)?;
        let pipeline = ctx
            .pipeline
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default();
        let id = ctx.id.to_string();
        let wire = WireTransform::compile(signal, &groups);
        Ok(TransformProcessor {
            groups,
            wire,
            next,
            obs: ProcessorObs::new(&ctx.telemetry, &id, &pipeline, signal),
            id,
        })
    }

    fn handle(&self, mode: ErrorMode, what: &str, text: &str, e: String) -> Result<(), String> {
        match mode {
            ErrorMode::Propagate => Err(format!("failed to execute {what}: {text}, {e}")),
            ErrorMode::Ignore => {
                tracing::warn!(processor = %self.id, statement = text, error = %e, "failed to execute {what}");
                Ok(())
            }
            ErrorMode::Silent => Ok(()),
        }
    }

    /// Runs every group over a request. With `error_mode: propagate` the first error is
    /// returned (the request is then refused).
    pub fn apply(&self, request: &mut Request) -> Result<(), String> {
        for g in &self.groups {
            ferrotel_ottl::walk(request, g.ctx, false, &mut |t| {
                if !g.conditions.is_empty() {
                    let mut any = false;
                    for c in &g.conditions {
                        match c.eval(t) {
                            Ok(true) => {
                                any = true;
                                break;
                            }
                            Ok(false) => {}
                            Err(e) => self.handle(g.error_mode, "condition", c.text(), e)?,
                        }
                    }
                    if !any {
                        return Ok(true);
                    }
                }
                for s in &g.statements {
                    if let Err(e) = s.execute(t) {
                        self.handle(g.error_mode, "statement", s.text(), e)?;
                    }
                }
                Ok(true)
            })?;
        }
        Ok(())
    }
}

impl Consumer for TransformProcessor {
    fn consume(
        &self,
        mut payload: Payload,
        ctx: Context,
    ) -> BoxFuture<'_, Result<(), ConsumeError>> {
        let on_wire = self.wire.as_ref().is_some_and(|w| w.apply(&mut payload));
        Box::pin(ferrotel_runtime::processor_helper::edit_then_forward(
            "transform",
            &self.obs,
            self.next.as_ref(),
            payload,
            ctx,
            !self.groups.is_empty() && !on_wire,
            |req, _| self.apply(req),
        ))
    }

    /// Passes the question on: a `memory_limiter` may come after this processor.
    fn admit(&self, signal: Signal) -> Result<(), ConsumeError> {
        self.next.admit(signal)
    }
}

impl Lifecycle for TransformProcessor {}
impl Processor for TransformProcessor {}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod wire_tests;
