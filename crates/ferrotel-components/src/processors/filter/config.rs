//! `processors::filter` configuration: OTTL conditions per context, as the Go Collector's
//! `filterprocessor` writes them. The legacy `include`/`exclude` match form is not supported
//! (it is rejected as an unknown field).

use ferrotel_ottl::Ctx;
use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::ConfigError;
use serde::Deserialize;

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

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConditions {
    pub metric: Vec<String>,
    pub datapoint: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogsConditions {
    pub log_record: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterConfig {
    pub error_mode: ErrorMode,
    pub traces: TracesConditions,
    pub metrics: MetricsConditions,
    pub logs: LogsConditions,
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
}

impl ComponentConfig for FilterConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        for (path, ctx, conds) in self.sections() {
            ferrotel_ottl::parse_conditions(conds, ctx).map_err(|e| ConfigError::field(path, e))?;
        }
        Ok(())
    }
}
