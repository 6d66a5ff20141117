//! `connectors::spanmetrics` configuration, as the Go Collector's `spanmetricsconnector`
//! writes it (names, defaults and validation messages).

use std::time::Duration;

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, duration};
use serde::{Deserialize, Deserializer};

/// The default dimensions every metric carries (unless excluded).
pub const SERVICE_NAME: &str = "service.name";
pub const SPAN_NAME: &str = "span.name";
pub const SPAN_KIND: &str = "span.kind";
pub const STATUS_CODE: &str = "status.code";
/// Attributes of `include_instrumentation_scope`, named as the Go connector names them.
pub const SCOPE_NAME: &str = "span.instrumentation.scope.name";
pub const SCOPE_VERSION: &str = "span.instrumentation.scope.version";
const RESERVED: [&str; 4] = [SERVICE_NAME, SPAN_NAME, SPAN_KIND, STATUS_CODE];

/// Explicit bucket bounds in milliseconds when none are configured (as Go).
pub const DEFAULT_BUCKETS_MS: [f64; 16] = [
    2.0, 4.0, 6.0, 8.0, 10.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1400.0, 2000.0, 5000.0,
    10_000.0, 15_000.0,
];

pub const DELTA: &str = "AGGREGATION_TEMPORALITY_DELTA";
pub const CUMULATIVE: &str = "AGGREGATION_TEMPORALITY_CUMULATIVE";

/// An extra dimension: an attribute looked up on the span (event), then the resource; when
/// absent, `default` is used, or the dimension is left out.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    pub name: String,
    #[serde(default)]
    pub default: Option<String>,
}

/// The unit durations are recorded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unit {
    #[default]
    Milliseconds,
    Seconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Milliseconds => "ms",
            Unit::Seconds => "s",
        }
    }

    /// A duration in this unit.
    pub fn of(self, d: Duration) -> f64 {
        self.of_nanos(d.as_nanos() as u64)
    }

    pub fn of_nanos(self, nanos: u64) -> f64 {
        match self {
            Unit::Milliseconds => nanos as f64 / 1e6,
            Unit::Seconds => nanos as f64 / 1e9,
        }
    }
}

impl<'de> Deserialize<'de> for Unit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "ms" => Ok(Unit::Milliseconds),
            "s" => Ok(Unit::Seconds),
            other => Err(serde::de::Error::custom(format!(
                "unknown unit {other:?}, allowed units are [\"ms\" \"s\"]"
            ))),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HistogramConfig {
    /// No duration histogram at all.
    pub disable: bool,
    pub unit: Unit,
    pub exponential: Option<ExponentialConfig>,
    pub explicit: Option<ExplicitConfig>,
    /// Extra dimensions of the duration histogram only.
    pub dimensions: Vec<Dimension>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExponentialConfig {
    /// Buckets per positive range; the scale goes down to keep within it.
    pub max_size: i64,
}

impl Default for ExponentialConfig {
    fn default() -> Self {
        ExponentialConfig { max_size: 160 }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExplicitConfig {
    /// Bucket upper bounds as durations (`100us`, `2ms`, `1s`).
    #[serde(deserialize_with = "durations")]
    pub buckets: Vec<Duration>,
}

fn durations<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    #[derive(Deserialize)]
    struct One(#[serde(deserialize_with = "duration::deserialize")] Duration);
    Ok(Vec::<One>::deserialize(d)?
        .into_iter()
        .map(|o| o.0)
        .collect())
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExemplarsConfig {
    pub enabled: bool,
    /// At most this many exemplars per data point and flush interval (the first ones seen).
    pub max_per_data_point: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    pub enabled: bool,
    /// Attributes of the span event (then span, then resource) added to the events metric.
    pub dimensions: Vec<Dimension>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpanMetricsConfig {
    pub dimensions: Vec<Dimension>,
    /// Extra dimensions of the calls metric only.
    pub calls_dimensions: Vec<Dimension>,
    /// Default dimensions to leave out (`status.code`).
    pub exclude_dimensions: Vec<String>,
    /// Deprecated in Go in favour of `aggregation_cardinality_limit`; accepted, no effect.
    pub dimensions_cache_size: i64,
    /// Resources kept (least recently used ones are dropped, restarting their cumulative sums).
    pub resource_metrics_cache_size: i64,
    /// Resource attributes that identify a resource's metrics (all of them when empty).
    pub resource_metrics_key_attributes: Vec<String>,
    pub aggregation_temporality: String,
    pub histogram: HistogramConfig,
    #[serde(deserialize_with = "duration::deserialize")]
    pub metrics_flush_interval: Duration,
    /// Series not updated for this long are no longer exported (0: never).
    #[serde(deserialize_with = "duration::deserialize")]
    pub metrics_expiration: Duration,
    /// Delta series remembered for their start timestamps.
    pub metric_timestamp_cache_size: Option<i64>,
    /// Prefix of the metric names (`<namespace>.calls`); empty: no prefix.
    pub namespace: String,
    pub exemplars: ExemplarsConfig,
    pub events: EventsConfig,
    /// Series per metric and resource; past it new series go into one series with the single
    /// attribute `otel.metric.overflow: true` (0: no limit).
    pub aggregation_cardinality_limit: i64,
    /// Instrumentation scope names whose spans get the scope's name (and version, when set) as
    /// the dimensions `span.instrumentation.scope.name` / `.version`, after `dimensions`.
    pub include_instrumentation_scope: Vec<String>,
}

impl Default for SpanMetricsConfig {
    fn default() -> Self {
        SpanMetricsConfig {
            dimensions: Vec::new(),
            calls_dimensions: Vec::new(),
            exclude_dimensions: Vec::new(),
            dimensions_cache_size: 1000,
            resource_metrics_cache_size: 1000,
            resource_metrics_key_attributes: Vec::new(),
            aggregation_temporality: CUMULATIVE.into(),
            histogram: HistogramConfig::default(),
            metrics_flush_interval: Duration::from_secs(60),
            metrics_expiration: Duration::ZERO,
            metric_timestamp_cache_size: None,
            namespace: "traces.span.metrics".into(),
            exemplars: ExemplarsConfig::default(),
            events: EventsConfig::default(),
            aggregation_cardinality_limit: 0,
            include_instrumentation_scope: Vec::new(),
        }
    }
}

fn check_dimensions(path: &str, dims: &[Dimension]) -> Result<(), ConfigError> {
    let mut seen: Vec<&str> = RESERVED.to_vec();
    for (i, d) in dims.iter().enumerate() {
        if d.name.is_empty() {
            return Err(ConfigError::field(
                &format!("{path}[{i}]::name"),
                "a dimension needs a name",
            ));
        }
        if seen.contains(&d.name.as_str()) {
            return Err(ConfigError::field(
                &format!("{path}[{i}]::name"),
                format!("duplicate dimension name {}", d.name),
            ));
        }
        seen.push(&d.name);
    }
    Ok(())
}

impl SpanMetricsConfig {
    pub fn is_delta(&self) -> bool {
        self.aggregation_temporality == DELTA
    }

    /// The name of metric `base` (`calls`) with the namespace.
    pub fn metric_name(&self, base: &str) -> String {
        if self.namespace.is_empty() {
            base.to_string()
        } else {
            format!("{}.{base}", self.namespace)
        }
    }

    /// Explicit bounds in the configured unit (the defaults converted from milliseconds).
    pub fn explicit_bounds(&self) -> Vec<f64> {
        let unit = self.histogram.unit;
        match &self.histogram.explicit {
            Some(e) if !e.buckets.is_empty() => e.buckets.iter().map(|d| unit.of(*d)).collect(),
            _ => DEFAULT_BUCKETS_MS
                .iter()
                .map(|ms| unit.of_nanos((ms * 1e6) as u64))
                .collect(),
        }
    }
}

impl ComponentConfig for SpanMetricsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        check_dimensions("dimensions", &self.dimensions)?;
        check_dimensions("calls_dimensions", &self.calls_dimensions)?;
        check_dimensions("histogram::dimensions", &self.histogram.dimensions)?;
        if self.events.enabled {
            if self.events.dimensions.is_empty() {
                return Err(ConfigError::field(
                    "events::dimensions",
                    "no dimensions configured for events",
                ));
            }
            check_dimensions("events::dimensions", &self.events.dimensions)?;
        }
        for (i, d) in self.exclude_dimensions.iter().enumerate() {
            if !RESERVED.contains(&d.as_str()) {
                return Err(ConfigError::field(
                    &format!("exclude_dimensions[{i}]"),
                    format!("{d:?} is not a default dimension ({})", RESERVED.join(", ")),
                ));
            }
        }
        if self.histogram.explicit.is_some() && self.histogram.exponential.is_some() {
            return Err(ConfigError::field(
                "histogram",
                "use either `explicit` or `exponential` buckets histogram",
            ));
        }
        if let Some(e) = &self.histogram.explicit
            && e.buckets.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(ConfigError::field(
                "histogram::explicit::buckets",
                "buckets must be in increasing order",
            ));
        }
        if let Some(e) = &self.histogram.exponential
            && !(1..=16384).contains(&e.max_size)
        {
            return Err(ConfigError::field(
                "histogram::exponential::max_size",
                format!(
                    "invalid max_size: {}, must be between 1 and 16384",
                    e.max_size
                ),
            ));
        }
        if self.aggregation_temporality != DELTA && self.aggregation_temporality != CUMULATIVE {
            return Err(ConfigError::field(
                "aggregation_temporality",
                format!(
                    "unknown aggregation temporality {:?} (use {CUMULATIVE} or {DELTA})",
                    self.aggregation_temporality
                ),
            ));
        }
        if self.metrics_flush_interval.is_zero() {
            return Err(ConfigError::field(
                "metrics_flush_interval",
                "invalid metrics_flush_interval: 0s, the duration should be positive",
            ));
        }
        if self.resource_metrics_cache_size <= 0 {
            return Err(ConfigError::field(
                "resource_metrics_cache_size",
                format!(
                    "invalid cache size: {}, the maximum number of the items in the cache should be positive",
                    self.resource_metrics_cache_size
                ),
            ));
        }
        if self.is_delta() && self.metric_timestamp_cache_size.unwrap_or(1000) <= 0 {
            return Err(ConfigError::field(
                "metric_timestamp_cache_size",
                format!(
                    "invalid delta timestamp cache size: {}, the maximum number of the items in the cache should be positive",
                    self.metric_timestamp_cache_size.unwrap_or_default()
                ),
            ));
        }
        if self.aggregation_cardinality_limit < 0 {
            return Err(ConfigError::field(
                "aggregation_cardinality_limit",
                format!(
                    "invalid aggregation_cardinality_limit: {}, the limit should be positive",
                    self.aggregation_cardinality_limit
                ),
            ));
        }
        if let Some(n) = self.exemplars.max_per_data_point
            && n < 0
        {
            return Err(ConfigError::field(
                "exemplars::max_per_data_point",
                format!("invalid max_per_data_point: {n}, must not be negative"),
            ));
        }
        Ok(())
    }
}
