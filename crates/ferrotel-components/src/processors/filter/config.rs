//! `processors::filter` configuration, as the Go Collector's `filterprocessor` writes it: OTTL
//! conditions per context (`traces.span`, `metrics.datapoint`, ...), OTTL conditions with the
//! context inferred from their paths (`trace_conditions`, `metric_conditions`,
//! `log_conditions`, collector-contrib v0.146+), or the legacy match form
//! (`spans.include|exclude`, `metrics.include|exclude`, `logs.include|exclude`) with
//! `match_type: strict|regexp`. The two forms cannot be mixed for one signal, as in Go; the
//! metric `match_type: expr` of the Go Collector is refused (use OTTL conditions instead).

use ferrotel_ottl::Ctx;
use ferrotel_pdata::Signal;
use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::ConfigError;
use serde::Deserialize;

use super::expr::MetricExprs;

use crate::processors::attributes::matcher::{
    AttributeMatch, MatchProperties, Matcher, SeverityNumberMatch,
};

/// What happens when a condition or statement fails to evaluate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorMode {
    /// Log the error and go on as if the condition were false (the statement not run).
    Ignore,
    /// Go on without logging.
    Silent,
    /// Refuse the whole payload with the error.
    #[default]
    Propagate,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TracesConditions {
    pub span: Vec<String>,
    pub spanevent: Vec<String>,
}

/// `metrics`: OTTL conditions, or the legacy `include`/`exclude`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConditions {
    pub metric: Vec<String>,
    pub datapoint: Vec<String>,
    /// Only metrics matching this are kept (checked before `exclude`).
    pub include: Option<MetricMatchProperties>,
    /// Metrics matching this are dropped.
    pub exclude: Option<MetricMatchProperties>,
    /// Options of the Go regexp filter set: accepted for compatibility, not needed here.
    pub regexp: Option<serde_json::Value>,
}

/// `logs`: OTTL conditions, or the legacy `include`/`exclude`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogsConditions {
    pub log_record: Vec<String>,
    /// Only log records matching this are kept (checked before `exclude`).
    pub include: Option<LogMatchProperties>,
    /// Log records matching this are dropped.
    pub exclude: Option<LogMatchProperties>,
}

/// `spans`: the legacy span filter, with the keys of the attributes processor's
/// `include`/`exclude` (`services`, `span_names`, `span_kinds`, `attributes`, `resources`,
/// `libraries`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpansMatch {
    /// Only spans matching this are kept (checked before `exclude`).
    pub include: Option<MatchProperties>,
    /// Spans matching this are dropped.
    pub exclude: Option<MatchProperties>,
}

/// One legacy `metrics.include` or `metrics.exclude`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricMatchProperties {
    /// `strict`, `regexp` or `expr`.
    pub match_type: String,
    pub regexp: Option<serde_json::Value>,
    /// Metric names (any may match).
    pub metric_names: Vec<String>,
    /// Expressions of the `expr` match type (any may match, on any data point).
    pub expressions: Vec<String>,
    /// Resource attributes (all must match); matched per resource, as in Go: an `exclude`
    /// with only these drops whole resources.
    pub resource_attributes: Vec<AttributeMatch>,
}

/// One legacy `logs.include` or `logs.exclude`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogMatchProperties {
    /// `strict` or `regexp`; may be left out when only `severity_number` is set.
    pub match_type: String,
    pub resource_attributes: Vec<AttributeMatch>,
    pub record_attributes: Vec<AttributeMatch>,
    pub severity_texts: Vec<String>,
    pub severity_number: Option<SeverityNumberMatch>,
    /// Matched against the body rendered as a string.
    pub bodies: Vec<String>,
}

impl LogMatchProperties {
    /// Go ignores an `include`/`exclude` that sets nothing.
    pub fn is_empty(&self) -> bool {
        self.resource_attributes.is_empty()
            && self.record_attributes.is_empty()
            && self.severity_texts.is_empty()
            && self.bodies.is_empty()
            && self.severity_number.is_none()
    }

    /// The same match in the attributes processor's terms.
    pub fn match_properties(&self) -> MatchProperties {
        let only_severity = self.resource_attributes.is_empty()
            && self.record_attributes.is_empty()
            && self.severity_texts.is_empty()
            && self.bodies.is_empty();
        MatchProperties {
            // A match type is only needed (and checked, as in Go) for lists of names/values.
            match_type: if self.match_type.is_empty() && only_severity {
                "strict".into()
            } else {
                self.match_type.clone()
            },
            resources: self.resource_attributes.clone(),
            attributes: self.record_attributes.clone(),
            log_severity_texts: self.severity_texts.clone(),
            log_severity_number: self.severity_number.clone(),
            log_bodies: self.bodies.clone(),
            ..Default::default()
        }
    }
}

impl MetricMatchProperties {
    fn check_type(&self) -> Result<(), String> {
        if self.match_type == "expr" {
            // No expressions is valid, as in Go: the matcher matches nothing.
            if !self.metric_names.is_empty() {
                return Err(
                    "\"metric_names\" cannot be used with match_type \"expr\" (use \"expressions\")"
                        .into(),
                );
            }
        } else if !self.expressions.is_empty() {
            return Err(format!(
                "\"expressions\" need match_type \"expr\", not {:?}",
                self.match_type
            ));
        }
        Ok(())
    }

    /// The resource part, if `resource_attributes` is set.
    pub fn resource_match(&self) -> Result<Option<MatchProperties>, String> {
        self.check_type()?;
        Ok(
            (!self.resource_attributes.is_empty()).then(|| MatchProperties {
                match_type: self.match_type.clone(),
                resources: self.resource_attributes.clone(),
                ..Default::default()
            }),
        )
    }

    /// The metric name part, if `metric_names` is set.
    pub fn name_match(&self) -> Result<Option<MatchProperties>, String> {
        self.check_type()?;
        Ok((!self.metric_names.is_empty()).then(|| MatchProperties {
            match_type: self.match_type.clone(),
            metric_names: self.metric_names.clone(),
            ..Default::default()
        }))
    }

    /// The `expressions` of `match_type: expr`, compiled.
    pub fn expr_match(&self) -> Result<Option<MetricExprs>, String> {
        self.check_type()?;
        if self.match_type != "expr" {
            return Ok(None);
        }
        MetricExprs::compile(&self.expressions).map(Some)
    }
}

/// One entry of `trace_conditions`/`metric_conditions`/`log_conditions`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ConditionsEntry {
    /// A condition whose context is inferred (`span.name == "ping"`).
    Flat(String),
    /// Conditions of one context with their own options.
    Group(ConditionGroup),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConditionGroup {
    /// `resource`, `scope`, `span`, `spanevent`, `metric`, `datapoint` or `log`; inferred from
    /// the conditions' paths when empty.
    pub context: String,
    pub conditions: Vec<String>,
    /// Overrides the processor's `error_mode` for these conditions.
    pub error_mode: Option<ErrorMode>,
}

/// Conditions of one context, compiled, with the error mode they run under.
#[derive(Debug)]
pub struct CompiledGroup {
    pub ctx: Ctx,
    pub conditions: Vec<ferrotel_ottl::Condition>,
    pub error_mode: ErrorMode,
}

/// The contexts a `trace_*`, `metric_*` or `log_*` list (`filter`'s conditions, `transform`'s
/// statements) may use, from the outermost.
pub(crate) fn allowed(section: &str) -> &'static [Ctx] {
    if section.starts_with("trace_") {
        &[Ctx::Resource, Ctx::Scope, Ctx::Span, Ctx::SpanEvent]
    } else if section.starts_with("metric_") {
        &[Ctx::Resource, Ctx::Scope, Ctx::Metric, Ctx::DataPoint]
    } else {
        &[Ctx::Resource, Ctx::Scope, Ctx::Log]
    }
}

/// The `context:` of a condition or statement group: one of `allowed`, by its OTTL name.
pub(crate) fn group_context(context: &str, allowed: &[Ctx]) -> Result<Ctx, String> {
    Ctx::parse(context)
        // Aliases the path parser knows but a group's `context` does not take.
        .filter(|c| {
            allowed.contains(c) && context != "instrumentation_scope" && context != "log_record"
        })
        .ok_or_else(|| {
            format!(
                "unknown context \"{context}\" (here: {})",
                allowed
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// Compiles one `*_conditions` list. Consecutive flat conditions of one context share a group.
pub fn compile_conditions(
    section: &str,
    entries: &[ConditionsEntry],
    default_mode: ErrorMode,
) -> Result<Vec<CompiledGroup>, String> {
    let allowed = allowed(section);
    let mut out: Vec<CompiledGroup> = Vec::new();
    let mut last_flat = false;
    for (i, entry) in entries.iter().enumerate() {
        let at = |e: String| format!("{section}[{i}]: {e}");
        match entry {
            ConditionsEntry::Flat(c) => {
                let ctx = ferrotel_ottl::infer_condition_context(c, allowed)
                    .map_err(|e| at(format!("condition 1, col {}: {}", e.col, e.message)))?;
                let compiled = ferrotel_ottl::parse_conditions(std::slice::from_ref(c), ctx)
                    .map_err(at)?
                    .pop()
                    .expect("one condition");
                match out.last_mut() {
                    Some(g) if last_flat && g.ctx == ctx => g.conditions.push(compiled),
                    _ => out.push(CompiledGroup {
                        ctx,
                        conditions: vec![compiled],
                        error_mode: default_mode,
                    }),
                }
                last_flat = true;
            }
            ConditionsEntry::Group(g) => {
                last_flat = false;
                let ctx = if g.context.is_empty() {
                    let mut best = None;
                    for c in &g.conditions {
                        let ctx = ferrotel_ottl::infer_condition_context(c, allowed)
                            .map_err(|e| at(format!("{c}: {}", e.message)))?;
                        best = best.max(Some(ctx));
                    }
                    best.ok_or_else(|| at("no conditions to infer a context from".into()))?
                } else {
                    group_context(&g.context, allowed).map_err(at)?
                };
                out.push(CompiledGroup {
                    ctx,
                    conditions: ferrotel_ottl::parse_conditions(&g.conditions, ctx).map_err(at)?,
                    error_mode: g.error_mode.unwrap_or(default_mode),
                });
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterConfig {
    pub error_mode: ErrorMode,
    /// Conditions with inferred contexts, per signal.
    pub trace_conditions: Vec<ConditionsEntry>,
    pub metric_conditions: Vec<ConditionsEntry>,
    pub log_conditions: Vec<ConditionsEntry>,
    /// The legacy span filter.
    pub spans: SpansMatch,
    pub traces: TracesConditions,
    pub metrics: MetricsConditions,
    pub logs: LogsConditions,
}

/// Compiles one legacy `include`/`exclude` for `signal`, checking it as Go does.
pub(crate) fn compile_match(p: &MatchProperties, signal: Signal) -> Result<Matcher, String> {
    p.validate_for(signal)?;
    Matcher::new(p)
}

impl FilterConfig {
    /// The condition lists of every context, with their config paths, in evaluation order.
    pub fn sections(&self) -> [(&'static str, Ctx, &[String]); 5] {
        [
            ("traces::span", Ctx::Span, &self.traces.span),
            ("traces::spanevent", Ctx::SpanEvent, &self.traces.spanevent),
            ("metrics::metric", Ctx::Metric, &self.metrics.metric),
            (
                "metrics::datapoint",
                Ctx::DataPoint,
                &self.metrics.datapoint,
            ),
            ("logs::log_record", Ctx::Log, &self.logs.log_record),
        ]
    }

    /// The `*_conditions` lists with their signals.
    pub fn inferred_sections(&self) -> [(&'static str, Signal, &[ConditionsEntry]); 3] {
        [
            ("trace_conditions", Signal::Traces, &self.trace_conditions),
            (
                "metric_conditions",
                Signal::Metrics,
                &self.metric_conditions,
            ),
            ("log_conditions", Signal::Logs, &self.log_conditions),
        ]
    }

    /// Every OTTL condition group of `signal`, compiled, outermost context first (resource,
    /// scope, then items, then span events or data points): what a higher level drops is not
    /// looked at again below.
    pub fn compile(&self, signal: Signal) -> Result<Vec<CompiledGroup>, ConfigError> {
        let mut groups = Vec::new();
        for (path, ctx, conds) in self.sections() {
            if signal_of(ctx) != signal || conds.is_empty() {
                continue;
            }
            let conditions = ferrotel_ottl::parse_conditions(conds, ctx)
                .map_err(|e| ConfigError::field(path, e))?;
            groups.push(CompiledGroup {
                ctx,
                conditions,
                error_mode: self.error_mode,
            });
        }
        for (path, s, entries) in self.inferred_sections() {
            if s == signal {
                groups.extend(
                    compile_conditions(path, entries, self.error_mode)
                        .map_err(|e| entry_error(path, e))?,
                );
            }
        }
        // Stable: groups of one context keep their configured order.
        groups.sort_by_key(|g| g.ctx);
        Ok(groups)
    }

    /// Refuses a signal configured with both OTTL conditions and the legacy form (the Go
    /// Collector's messages), and checks every legacy match.
    fn validate_legacy(&self) -> Result<(), ConfigError> {
        let traces_ottl = !self.traces.span.is_empty()
            || !self.traces.spanevent.is_empty()
            || !self.trace_conditions.is_empty();
        let metrics_ottl = !self.metrics.metric.is_empty()
            || !self.metrics.datapoint.is_empty()
            || !self.metric_conditions.is_empty();
        let logs_ottl = !self.logs.log_record.is_empty() || !self.log_conditions.is_empty();
        if traces_ottl && (self.spans.include.is_some() || self.spans.exclude.is_some()) {
            return Err(ConfigError::field(
                if self.spans.include.is_some() {
                    "spans::include"
                } else {
                    "spans::exclude"
                },
                "cannot use \"traces.span\", \"traces.spanevent\" and the span settings \"spans.include\", \"spans.exclude\" at the same time",
            ));
        }
        if metrics_ottl && (self.metrics.include.is_some() || self.metrics.exclude.is_some()) {
            return Err(ConfigError::field(
                if self.metrics.include.is_some() {
                    "metrics::include"
                } else {
                    "metrics::exclude"
                },
                "cannot use \"metrics.metric\", \"metrics.datapoint\" and the settings \"metrics.include\", \"metrics.exclude\" at the same time",
            ));
        }
        if logs_ottl && (self.logs.include.is_some() || self.logs.exclude.is_some()) {
            return Err(ConfigError::field(
                if self.logs.include.is_some() {
                    "logs::include"
                } else {
                    "logs::exclude"
                },
                "cannot use \"logs.log_record\" and the settings \"logs.include\", \"logs.exclude\" at the same time",
            ));
        }
        for (path, p) in [
            ("spans::include", &self.spans.include),
            ("spans::exclude", &self.spans.exclude),
        ] {
            if let Some(p) = p {
                compile_match(p, Signal::Traces).map_err(|e| ConfigError::field(path, e))?;
            }
        }
        for (path, p) in [
            ("metrics::include", &self.metrics.include),
            ("metrics::exclude", &self.metrics.exclude),
        ] {
            if let Some(p) = p {
                for m in [p.resource_match(), p.name_match()] {
                    let m = m.map_err(|e| ConfigError::field(path, e))?;
                    if let Some(m) = m {
                        compile_match(&m, Signal::Metrics)
                            .map_err(|e| ConfigError::field(path, e))?;
                    }
                }
                p.expr_match().map_err(|e| ConfigError::field(path, e))?;
            }
        }
        for (path, p) in [
            ("logs::include", &self.logs.include),
            ("logs::exclude", &self.logs.exclude),
        ] {
            if let Some(p) = p.as_ref().filter(|p| !p.is_empty()) {
                compile_match(&p.match_properties(), Signal::Logs)
                    .map_err(|e| ConfigError::field(path, e))?;
            }
        }
        Ok(())
    }
}

impl ComponentConfig for FilterConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        self.validate_legacy()?;
        for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
            self.compile(signal)?;
        }
        Ok(())
    }
}

/// A `*_conditions` or `*_statements` error (`trace_conditions[1]: message`) with the entry as
/// its path, so it reads `processors::filter::trace_conditions[1]: message` rather than naming
/// the list twice.
pub(crate) fn entry_error(section: &str, e: String) -> ConfigError {
    match e
        .strip_prefix(section)
        .and_then(|rest| rest.split_once("]: "))
    {
        Some((index, message)) if index.starts_with('[') => {
            ConfigError::field(&format!("{section}{index}]"), message)
        }
        _ => ConfigError::field(section, e),
    }
}

/// The signal whose items a context's conditions drop.
pub(crate) fn signal_of(ctx: Ctx) -> Signal {
    match ctx {
        Ctx::Span | Ctx::SpanEvent => Signal::Traces,
        Ctx::Metric | Ctx::DataPoint => Signal::Metrics,
        _ => Signal::Logs,
    }
}
