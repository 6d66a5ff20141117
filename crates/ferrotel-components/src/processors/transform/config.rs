//! `processors::transform` configuration: OTTL statements per signal, either as flat lists
//! (each statement's context inferred from its path prefixes) or as groups with an explicit
//! `context`, optional `conditions` and their own `error_mode` — the Go Collector's keys.

use ferrotel_ottl::{Condition, Ctx, Statement};
use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::ConfigError;
use serde::Deserialize;

pub use crate::processors::filter::config::ErrorMode;

/// One entry of `trace_statements`/`metric_statements`/`log_statements`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StatementsEntry {
    /// A statement whose context is inferred (`set(span.name, "x")`).
    Flat(String),
    /// A group of statements of one context.
    Group(StatementGroup),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatementGroup {
    /// `resource`, `scope`, `span`, `spanevent`, `metric`, `datapoint` or `log`; inferred
    /// from the statements' paths when empty.
    pub context: String,
    /// The statements run on an item only if any of these is true (all items when empty).
    pub conditions: Vec<String>,
    pub statements: Vec<String>,
    /// Overrides the processor's `error_mode` for this group.
    pub error_mode: Option<ErrorMode>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransformConfig {
    pub error_mode: ErrorMode,
    pub trace_statements: Vec<StatementsEntry>,
    pub metric_statements: Vec<StatementsEntry>,
    pub log_statements: Vec<StatementsEntry>,
}

/// A compiled group.
#[derive(Debug)]
pub struct Compiled {
    pub ctx: Ctx,
    pub conditions: Vec<Condition>,
    pub statements: Vec<Statement>,
    pub error_mode: ErrorMode,
}

/// Compiles one section. Consecutive flat statements of the same context share a group.
pub fn compile(
    section: &str,
    entries: &[StatementsEntry],
    default_mode: ErrorMode,
) -> Result<Vec<Compiled>, String> {
    let allowed = crate::processors::filter::config::allowed(section);
    let mut out: Vec<Compiled> = Vec::new();
    let mut last_flat = false;
    for (i, entry) in entries.iter().enumerate() {
        let at = |e: String| format!("{section}[{i}]: {e}");
        match entry {
            StatementsEntry::Flat(s) => {
                let st = ferrotel_ottl::parse_statements_inferred(std::slice::from_ref(s), allowed)
                    .map_err(at)?
                    .pop()
                    .expect("one statement");
                match out.last_mut() {
                    Some(g) if last_flat && g.ctx == st.context() => g.statements.push(st),
                    _ => out.push(Compiled {
                        ctx: st.context(),
                        conditions: Vec::new(),
                        statements: vec![st],
                        error_mode: default_mode,
                    }),
                }
                last_flat = true;
            }
            StatementsEntry::Group(g) => {
                last_flat = false;
                let ctx = if g.context.is_empty() {
                    let mut best = None;
                    for s in &g.statements {
                        let c = ferrotel_ottl::infer_context(s, allowed)
                            .map_err(|e| at(format!("{}: {}", s, e.message)))?;
                        best = best.max(Some(c));
                    }
                    best.ok_or_else(|| at("no statements to infer a context from".into()))?
                } else {
                    crate::processors::filter::config::group_context(&g.context, allowed)
                        .map_err(at)?
                };
                out.push(Compiled {
                    ctx,
                    conditions: ferrotel_ottl::parse_conditions(&g.conditions, ctx).map_err(at)?,
                    statements: ferrotel_ottl::parse_statements(&g.statements, ctx).map_err(at)?,
                    error_mode: g.error_mode.unwrap_or(default_mode),
                });
            }
        }
    }
    Ok(out)
}

impl TransformConfig {
    pub fn sections(&self) -> [(&'static str, &[StatementsEntry]); 3] {
        [
            ("trace_statements", &self.trace_statements),
            ("metric_statements", &self.metric_statements),
            ("log_statements", &self.log_statements),
        ]
    }
}

impl ComponentConfig for TransformConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        for (name, entries) in self.sections() {
            compile(name, entries, self.error_mode)
                .map_err(|e| crate::processors::filter::config::entry_error(name, e))?;
        }
        Ok(())
    }
}
