//! `processors::probabilistic_sampler` configuration (same keys, defaults and checks as the
//! Go Collector's).

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::ConfigError;
use serde::Deserialize;

use super::sampling::MIN_SAMPLING_PROBABILITY;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProbabilisticSamplerConfig {
    /// Percentage of items kept; >= 100 keeps all, 0 none.
    pub sampling_percentage: f32,
    /// Seed of the `hash_seed` mode's hash (and of attribute hashing for logs). Collectors of
    /// one tier must share it to keep the same traces.
    pub hash_seed: u32,
    /// `hash_seed` (default), `proportional` or `equalizing`.
    pub mode: String,
    /// Drop items whose sampling information is broken or missing (default true).
    pub fail_closed: bool,
    /// Hex digits of the thresholds written (1..=14, default 4).
    pub sampling_precision: u32,
    /// Logs: `traceID` (default) or `record` (use `from_attribute`).
    pub attribute_source: String,
    /// Logs: the record attribute hashed when there is no trace id or the source is `record`.
    pub from_attribute: String,
    /// Logs: a record attribute holding a per-record sampling percentage.
    pub sampling_priority: String,
}

impl Default for ProbabilisticSamplerConfig {
    fn default() -> Self {
        ProbabilisticSamplerConfig {
            sampling_percentage: 0.0,
            hash_seed: 0,
            mode: String::new(),
            fail_closed: true,
            sampling_precision: 4,
            attribute_source: "traceID".into(),
            from_attribute: String::new(),
            sampling_priority: String::new(),
        }
    }
}

/// The sampling mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    HashSeed,
    Proportional,
    Equalizing,
}

impl ProbabilisticSamplerConfig {
    /// The mode; an empty `mode` is `hash_seed`, as the Go Collector's README documents.
    pub fn mode(&self) -> Result<Mode, String> {
        match self.mode.as_str() {
            "" | "hash_seed" => Ok(Mode::HashSeed),
            "proportional" => Ok(Mode::Proportional),
            "equalizing" => Ok(Mode::Equalizing),
            other => Err(format!("unsupported sampler mode {other:?}")),
        }
    }

    /// Whether logs take randomness from the trace id (else from `from_attribute`).
    pub fn logs_use_trace_id(&self) -> bool {
        self.attribute_source == "traceID"
    }
}

/// Go's `%f`: six decimals, and Inf/NaN spelled as Go spells them.
fn go_f(v: f32) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v:.6}")
    }
}

impl ComponentConfig for ProbabilisticSamplerConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let pct = self.sampling_percentage;
        if pct.is_nan() || pct.is_infinite() {
            return Err(ConfigError::field(
                "sampling_percentage",
                format!("sampling rate is invalid: {}%", go_f(pct)),
            ));
        }
        let ratio = f64::from(pct) / 100.0;
        if ratio < 0.0 {
            return Err(ConfigError::field(
                "sampling_percentage",
                format!("sampling rate is negative: {}%", go_f(pct)),
            ));
        }
        if ratio > 0.0 && ratio < MIN_SAMPLING_PROBABILITY {
            return Err(ConfigError::field(
                "sampling_percentage",
                format!("sampling rate is too small: {pct:e}%"),
            ));
        }
        if !self.attribute_source.is_empty()
            && self.attribute_source != "traceID"
            && self.attribute_source != "record"
        {
            return Err(ConfigError::field(
                "attribute_source",
                format!(
                    "invalid attribute source: {}. Expected: traceID or record",
                    self.attribute_source
                ),
            ));
        }
        if self.sampling_precision == 0 {
            return Err(ConfigError::field(
                "sampling_precision",
                "invalid sampling precision: 0",
            ));
        }
        if self.sampling_precision > 14 {
            return Err(ConfigError::field(
                "sampling_precision",
                format!(
                    "sampling precision is too great, should be <= 14: {}",
                    self.sampling_precision
                ),
            ));
        }
        self.mode().map_err(|e| ConfigError::field("mode", e))?;
        Ok(())
    }
}
