//! `connectors::failover` configuration, as the Go Collector's `failoverconnector` writes it.

use std::time::Duration;

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, PipelineId, duration};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FailoverConfig {
    /// Levels of pipelines, highest priority first; data goes to every pipeline of one level.
    pub priority_levels: Vec<Vec<String>>,
    /// How often the levels above the one in use are tried again.
    #[serde(deserialize_with = "duration::deserialize")]
    pub retry_interval: Duration,
    /// Time between trying two levels within one retry round.
    #[serde(deserialize_with = "duration::deserialize")]
    pub retry_gap: Duration,
    /// Failed retries after which a level is not tried again.
    pub max_retries: i64,
}

impl Default for FailoverConfig {
    fn default() -> Self {
        FailoverConfig {
            priority_levels: Vec::new(),
            retry_interval: Duration::from_secs(600),
            retry_gap: Duration::from_secs(30),
            max_retries: 10,
        }
    }
}

impl ComponentConfig for FailoverConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.priority_levels.is_empty() {
            return Err(ConfigError::field(
                "priority_levels",
                "No pipelines are defined in the priority list",
            ));
        }
        for (i, level) in self.priority_levels.iter().enumerate() {
            if level.is_empty() {
                return Err(ConfigError::field(
                    &format!("priority_levels[{i}]"),
                    "a priority level needs at least one pipeline",
                ));
            }
            for (j, p) in level.iter().enumerate() {
                p.parse::<PipelineId>()
                    .map_err(|e| ConfigError::field(&format!("priority_levels[{i}][{j}]"), e))?;
            }
        }
        let round = self.retry_gap * self.priority_levels.len() as u32;
        if self.retry_gap.is_zero() || self.retry_interval.is_zero() || self.retry_interval <= round
        {
            return Err(ConfigError::field(
                "retry_interval",
                "Retry interval must be positive, and retry_interval must be greater than retry_gap times the length of the priority list",
            ));
        }
        if self.max_retries < 0 {
            return Err(ConfigError::field(
                "max_retries",
                format!(
                    "invalid max_retries: {}, must not be negative",
                    self.max_retries
                ),
            ));
        }
        Ok(())
    }
}
