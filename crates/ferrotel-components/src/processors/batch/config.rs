//! `processors::batch` configuration (same keys and defaults as the Go Collector's).

use std::time::Duration;

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, duration};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// Items (spans, points, records) that trigger a send; a trigger, not a cap.
    pub send_batch_size: usize,
    /// Send a non-empty batch after this long; 0 sends at once.
    #[serde(deserialize_with = "duration::deserialize")]
    pub timeout: Duration,
    /// Upper bound on a sent batch; larger ones are split. 0 = no bound.
    pub send_batch_max_size: usize,
    /// Client metadata keys whose values get separate batches.
    pub metadata_keys: Vec<String>,
    /// Distinct metadata value combinations allowed before refusing.
    pub metadata_cardinality_limit: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            send_batch_size: 8192,
            timeout: Duration::from_millis(200),
            send_batch_max_size: 0,
            metadata_keys: Vec::new(),
            metadata_cardinality_limit: 1000,
        }
    }
}

impl ComponentConfig for BatchConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.send_batch_max_size > 0 && self.send_batch_max_size < self.send_batch_size {
            return Err(ConfigError::field(
                "send_batch_max_size",
                "must be greater or equal to send_batch_size",
            ));
        }
        // Go: "Duplicated entries will trigger a validation error" (keys are case-insensitive).
        let mut seen = std::collections::HashSet::new();
        for (i, key) in self.metadata_keys.iter().enumerate() {
            let lower = key.to_lowercase();
            if !seen.insert(lower.clone()) {
                return Err(ConfigError::field(
                    &format!("metadata_keys[{i}]"),
                    format!("duplicate entry in metadata_keys: {lower:?} (case-insensitive)"),
                ));
            }
        }
        Ok(())
    }
}
