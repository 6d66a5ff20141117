//! `connectors::count` configuration, as the Go Collector's `countconnector` writes it: per kind
//! of item (`spans`, `spanevents`, `metrics`, `datapoints`, `logs`) a map of metric name →
//! `description`, OTTL `conditions` (any may match; none: count everything) and `attributes`
//! (`key`, `default_value`). A kind left out gets its default metric (`trace.span.count`...);
//! a kind given as `{}` counts nothing.

use std::collections::BTreeMap;

use ferrotel_ottl::Ctx;
use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::ConfigError;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MetricInfo {
    pub description: String,
    pub conditions: Vec<String>,
    pub attributes: Vec<AttributeConfig>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AttributeConfig {
    pub key: String,
    /// Used when the item has no such attribute; empty: items without it are not counted.
    pub default_value: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CountConfig {
    pub spans: Option<BTreeMap<String, MetricInfo>>,
    pub spanevents: Option<BTreeMap<String, MetricInfo>>,
    pub metrics: Option<BTreeMap<String, MetricInfo>>,
    pub datapoints: Option<BTreeMap<String, MetricInfo>>,
    pub logs: Option<BTreeMap<String, MetricInfo>>,
}

/// The kinds of item counted: config key, OTTL context, default metric name and description.
pub const KINDS: [(&str, Ctx, &str, &str); 5] = [
    (
        "spans",
        Ctx::Span,
        "trace.span.count",
        "The number of spans observed.",
    ),
    (
        "spanevents",
        Ctx::SpanEvent,
        "trace.span.event.count",
        "The number of span events observed.",
    ),
    (
        "metrics",
        Ctx::Metric,
        "metric.count",
        "The number of metrics observed.",
    ),
    (
        "datapoints",
        Ctx::DataPoint,
        "metric.datapoint.count",
        "The number of data points observed.",
    ),
    (
        "logs",
        Ctx::Log,
        "log.record.count",
        "The number of log records observed.",
    ),
];

impl CountConfig {
    /// The metrics of one kind (by config key), defaults applied.
    pub fn kind(&self, key: &str) -> BTreeMap<String, MetricInfo> {
        let set = match key {
            "spans" => &self.spans,
            "spanevents" => &self.spanevents,
            "metrics" => &self.metrics,
            "datapoints" => &self.datapoints,
            _ => &self.logs,
        };
        match set {
            Some(m) => m.clone(),
            None => {
                let (_, _, name, desc) = KINDS.iter().find(|k| k.0 == key).expect("known kind");
                BTreeMap::from([(
                    name.to_string(),
                    MetricInfo {
                        description: desc.to_string(),
                        ..Default::default()
                    },
                )])
            }
        }
    }
}

impl ComponentConfig for CountConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        for (key, ctx, _, _) in KINDS {
            for (name, info) in self.kind(key) {
                if name.is_empty() {
                    return Err(ConfigError::field(key, "metric name missing"));
                }
                let path = format!("{key}::{name}");
                ferrotel_ottl::parse_conditions(&info.conditions, ctx)
                    .map_err(|e| ConfigError::field(&format!("{path}::conditions"), e))?;
                if ctx == Ctx::Metric && !info.attributes.is_empty() {
                    return Err(ConfigError::field(
                        &format!("{path}::attributes"),
                        format!("metrics attributes not supported: metric {name:?}"),
                    ));
                }
                for (i, a) in info.attributes.iter().enumerate() {
                    if a.key.is_empty() {
                        return Err(ConfigError::field(
                            &format!("{path}::attributes[{i}]::key"),
                            "attribute key missing",
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
