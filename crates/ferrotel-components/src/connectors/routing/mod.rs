//! `routing` connector: sends each resource (or item, or whole request) to the pipelines of the
//! first route in `table` whose condition matches, and what no route takes to
//! `default_pipelines` (dropped when there are none) — the Go Collector's `routingconnector`.
//! It needs its downstream pipelines by id ([`ConnectorFactory::create_routed`]).

pub mod config;

use std::sync::Arc;

use ferrotel_ottl::{Condition, Ctx};
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::config::PipelineId;
use ferrotel_runtime::fanout::Fanout;
use ferrotel_runtime::*;

pub use config::RoutingConfig;
use config::{ErrorMode, RequestCondition, RouteContext};

/// Factory of the `routing` connector.
pub struct RoutingConnectorFactory;

impl ConnectorFactory for RoutingConnectorFactory {
    type Config = RoutingConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("routing", "Routes data to pipelines by OTTL conditions")
            .connects(Signal::Traces, Signal::Traces)
            .connects(Signal::Metrics, Signal::Metrics)
            .connects(Signal::Logs, Signal::Logs)
    }

    /// Without pipeline ids every route leads to `next`.
    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        from: Signal,
        _to: Signal,
        next: ConsumerRef,
    ) -> Result<Arc<dyn Connector>, ComponentError> {
        Ok(Arc::new(Routing::build(&ctx, &config, from, &|_| {
            Some(next.clone())
        })?))
    }

    fn create_routed(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        from: Signal,
        _to: Signal,
        routes: Vec<(PipelineId, ConsumerRef)>,
    ) -> Result<Arc<dyn Connector>, ComponentError> {
        Ok(Arc::new(Routing::build(&ctx, &config, from, &|id| {
            routes.iter().find(|(p, _)| p == id).map(|(_, c)| c.clone())
        })?))
    }
}

enum Matcher {
    Ottl(Ctx, Condition),
    Request(RequestCondition),
}

struct Route {
    matcher: Matcher,
    next: ConsumerRef,
}

pub struct Routing {
    id: String,
    routes: Vec<Route>,
    default: Option<ConsumerRef>,
    error_mode: ErrorMode,
}

/// The contexts an OTTL route may use with `signal`.
fn fits(ctx: Ctx, signal: Signal) -> bool {
    match ctx {
        Ctx::Resource => true,
        Ctx::Span => signal == Signal::Traces,
        Ctx::Metric | Ctx::DataPoint => signal == Signal::Metrics,
        Ctx::Log => signal == Signal::Logs,
        _ => false,
    }
}

impl Routing {
    /// `lookup` gives the consumer of a pipeline this instance feeds; pipelines of other
    /// signals belong to the connector's other instances.
    fn build(
        ctx: &CreateContext,
        config: &RoutingConfig,
        signal: Signal,
        lookup: &dyn Fn(&PipelineId) -> Option<ConsumerRef>,
    ) -> Result<Self, ComponentError> {
        let id = ctx.id.to_string();
        let resolve = |path: &str, ids: &[String]| -> Result<Option<ConsumerRef>, ComponentError> {
            let mut out = Vec::new();
            for (i, p) in ids.iter().enumerate() {
                let pid: PipelineId = p
                    .parse()
                    .map_err(|e| ComponentError::new(format!("{path}[{i}]: {e}")))?;
                if pid.signal != signal {
                    continue;
                }
                match lookup(&pid) {
                    Some(c) => out.push(c),
                    None => {
                        return Err(ComponentError::new(format!(
                            "{path}[{i}]: pipeline \"{pid}\" does not receive from connector \"{id}\""
                        )));
                    }
                }
            }
            Ok((!out.is_empty()).then(|| Fanout::of(out)))
        };
        let default = resolve("default_pipelines", &config.default_pipelines)?;
        let mut routes = Vec::new();
        for (i, r) in config.table.iter().enumerate() {
            let path = format!("table[{i}]");
            let Some(next) = resolve(&format!("{path}::pipelines"), &r.pipelines)? else {
                continue;
            };
            let text = r
                .condition_text()
                .map_err(|e| ComponentError::new(format!("{path}: {e}")))?;
            let matcher = match r
                .route_context()
                .map_err(|e| ComponentError::new(format!("{path}::context: {e}")))?
            {
                RouteContext::Request => Matcher::Request(
                    RequestCondition::parse(&text)
                        .map_err(|e| ComponentError::new(format!("{path}: {e}")))?,
                ),
                RouteContext::Ottl(c) => {
                    if !fits(c, signal) {
                        return Err(ComponentError::new(format!(
                            "{path}::context: context \"{}\" cannot route {signal}",
                            c.as_str()
                        )));
                    }
                    let cond = ferrotel_ottl::compile_condition(&text, c).map_err(|e| {
                        ComponentError::new(format!("{path}: col {}: {}", e.col, e.message))
                    })?;
                    Matcher::Ottl(c, cond)
                }
            };
            routes.push(Route { matcher, next });
        }
        Ok(Routing {
            id,
            routes,
            default,
            error_mode: config.error_mode,
        })
    }

    /// Splits `req` into (consumer, part) by the first matching route; the rest goes to the
    /// default pipelines (or is dropped).
    fn split(
        &self,
        mut req: Request,
        ctx: &Context,
    ) -> Result<Vec<(ConsumerRef, Request)>, String> {
        let mut out = Vec::new();
        for route in &self.routes {
            if req.item_count() == 0 {
                break;
            }
            match &route.matcher {
                Matcher::Request(rc) => {
                    let values: Vec<&str> = ctx
                        .client
                        .as_ref()
                        .map(|c| c.metadata_values(&rc.key).collect())
                        .unwrap_or_default();
                    let hit = values.contains(&rc.value.as_str());
                    if hit == rc.equal {
                        let signal = req.signal();
                        let all = std::mem::replace(&mut req, Request::empty(signal));
                        out.push((route.next.clone(), all));
                    }
                }
                Matcher::Ottl(c, cond) => {
                    let mut first_err: Option<String> = None;
                    let mut eval = |t: &mut ferrotel_ottl::TCtx<'_>| match cond.eval(t) {
                        Ok(m) => m,
                        Err(e) => {
                            first_err.get_or_insert(format!(
                                "failed to eval condition {}: {e}",
                                cond.text()
                            ));
                            false
                        }
                    };
                    // Matching is a pure function of the item, so the two walks agree.
                    let mut matched = req.clone();
                    ferrotel_ottl::walk(&mut matched, *c, true, &mut |t| Ok(eval(t)))?;
                    ferrotel_ottl::walk(&mut req, *c, true, &mut |t| Ok(!eval(t)))?;
                    if let Some(e) = first_err {
                        match self.error_mode {
                            ErrorMode::Propagate => return Err(e),
                            ErrorMode::Ignore => {
                                tracing::warn!(connector = %self.id, error = %e, "routing condition failed; the item goes to the default pipelines")
                            }
                            ErrorMode::Silent => {}
                        }
                    }
                    if matched.item_count() > 0 {
                        out.push((route.next.clone(), matched));
                    }
                }
            }
        }
        if req.item_count() > 0
            && let Some(d) = &self.default
        {
            out.push((d.clone(), req));
        }
        Ok(out)
    }
}

impl Consumer for Routing {
    fn consume(&self, payload: Payload, ctx: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            if payload.is_empty() {
                return Ok(());
            }
            let req = payload
                .into_request()
                .map_err(|e| ConsumeError::permanent(format!("routing: {e}")))?;
            let parts = self
                .split(req, &ctx)
                .map_err(|e| ConsumeError::permanent(format!("routing: {e}")))?;
            let ctx = &ctx;
            let sends = parts.into_iter().map(|(next, r)| async move {
                next.consume(Payload::from_request(r), ctx.clone()).await
            });
            let mut first_err: Option<ConsumeError> = None;
            for r in futures::future::join_all(sends).await {
                if let Err(e) = r
                    && first_err
                        .as_ref()
                        .is_none_or(|p| !p.is_retryable() && e.is_retryable())
                {
                    first_err = Some(e);
                }
            }
            first_err.map_or(Ok(()), Err)
        })
    }
}

impl Lifecycle for Routing {}
impl Connector for Routing {}

#[cfg(test)]
mod tests;
