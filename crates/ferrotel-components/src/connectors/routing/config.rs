//! `connectors::routing` configuration, as the Go Collector's `routingconnector` writes it: a
//! `table` of routes, each an OTTL `condition` (or `statement: route() where <condition>`) in a
//! `context` (`resource` by default; `span`, `metric`, `datapoint`, `log`, `request`) with the
//! `pipelines` that get what matches; `default_pipelines` for the rest; `error_mode`.
//! Routes are tried in order and data goes to the first that matches (the Go connector's only
//! behaviour since `match_once` was removed: `match_once: true` is accepted, `false` refused).

use ferrotel_ottl::Ctx;
use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, PipelineId};
use serde::Deserialize;

pub use crate::processors::filter::config::ErrorMode;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    pub default_pipelines: Vec<String>,
    pub error_mode: ErrorMode,
    pub table: Vec<RouteConfig>,
    /// Removed from the Go connector (always first match); only `true` is accepted.
    pub match_once: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteConfig {
    pub context: Option<String>,
    pub condition: String,
    pub statement: String,
    pub pipelines: Vec<String>,
}

/// Where a route's condition is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteContext {
    /// An OTTL context: resources or items move to the route.
    Ottl(Ctx),
    /// The request's client metadata (`request["x-tenant"] == "acme"`): all data moves.
    Request,
}

impl RouteConfig {
    pub fn route_context(&self) -> Result<RouteContext, String> {
        Ok(match self.context.as_deref().unwrap_or("resource") {
            "resource" => RouteContext::Ottl(Ctx::Resource),
            "span" => RouteContext::Ottl(Ctx::Span),
            "metric" => RouteContext::Ottl(Ctx::Metric),
            "datapoint" => RouteContext::Ottl(Ctx::DataPoint),
            "log" => RouteContext::Ottl(Ctx::Log),
            "request" => RouteContext::Request,
            other => return Err(format!("invalid context: {other}")),
        })
    }

    /// The condition text, from `condition` or from `statement` (`route() where ...`).
    pub fn condition_text(&self) -> Result<String, String> {
        if !self.condition.is_empty() {
            return Ok(self.condition.clone());
        }
        let s = self.statement.trim();
        let rest = s
            .strip_prefix("route()")
            .ok_or_else(|| format!("statement {s:?} must be `route() where <condition>`"))?
            .trim_start();
        if rest.is_empty() {
            return Ok("true".into());
        }
        rest.strip_prefix("where")
            .filter(|r| r.starts_with(char::is_whitespace))
            .map(|r| r.trim().to_string())
            .ok_or_else(|| format!("statement {s:?} must be `route() where <condition>`"))
    }
}

/// A `request` condition: a metadata key compared with a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestCondition {
    pub key: String,
    pub value: String,
    pub equal: bool,
}

impl RequestCondition {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!("request condition {text:?} must be request[\"<key>\"] == \"<value>\" (or !=)")
        };
        let rest = text.trim().strip_prefix("request[\"").ok_or_else(bad)?;
        let (key, rest) = rest.split_once("\"]").ok_or_else(bad)?;
        let rest = rest.trim_start();
        let (equal, rest) = if let Some(r) = rest.strip_prefix("==") {
            (true, r)
        } else if let Some(r) = rest.strip_prefix("!=") {
            (false, r)
        } else {
            return Err(bad());
        };
        let value = rest
            .trim()
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or_else(bad)?;
        Ok(RequestCondition {
            key: key.to_string(),
            value: value.to_string(),
            equal,
        })
    }
}

fn check_pipelines(path: &str, ids: &[String]) -> Result<(), ConfigError> {
    for (i, p) in ids.iter().enumerate() {
        p.parse::<PipelineId>()
            .map_err(|e| ConfigError::field(&format!("{path}[{i}]"), e))?;
    }
    Ok(())
}

impl ComponentConfig for RoutingConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.match_once == Some(false) {
            return Err(ConfigError::field(
                "match_once",
                "match_once: false is no longer supported (the Go connector removed it): data goes to the first matching route",
            ));
        }
        if self.table.is_empty() {
            return Err(ConfigError::field(
                "table",
                "invalid routing table: the routing table is empty",
            ));
        }
        check_pipelines("default_pipelines", &self.default_pipelines)?;
        for (i, r) in self.table.iter().enumerate() {
            let path = format!("table[{i}]");
            match (r.condition.is_empty(), r.statement.is_empty()) {
                (false, false) => {
                    return Err(ConfigError::field(
                        &path,
                        "invalid route: both condition and statement provided",
                    ));
                }
                (true, true) => {
                    return Err(ConfigError::field(
                        &path,
                        "invalid route: no condition or statement provided",
                    ));
                }
                _ => {}
            }
            if r.pipelines.is_empty() {
                return Err(ConfigError::field(
                    &format!("{path}::pipelines"),
                    "invalid route: no pipelines defined",
                ));
            }
            check_pipelines(&format!("{path}::pipelines"), &r.pipelines)?;
            let ctx = r
                .route_context()
                .map_err(|e| ConfigError::field(&format!("{path}::context"), e))?;
            let field = if r.condition.is_empty() {
                "statement"
            } else {
                "condition"
            };
            let text = r
                .condition_text()
                .map_err(|e| ConfigError::field(&format!("{path}::{field}"), e))?;
            match ctx {
                RouteContext::Request => {
                    RequestCondition::parse(&text)
                        .map_err(|e| ConfigError::field(&format!("{path}::{field}"), e))?;
                }
                RouteContext::Ottl(c) => {
                    ferrotel_ottl::compile_condition(&text, c).map_err(|e| {
                        ConfigError::field(
                            &format!("{path}::{field}"),
                            format!("col {}: {}", e.col, e.message),
                        )
                    })?;
                }
            }
        }
        Ok(())
    }
}
