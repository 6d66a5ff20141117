//! `exporters::local_store` configuration.

use std::time::Duration;

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, duration, parse_endpoint};
use serde::Deserialize;

/// The web UI and query APIs.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    pub enabled: bool,
    /// host:port of the UI, ferrotel's API, Jaeger's and Tempo's (`/tempo`).
    pub endpoint: String,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            enabled: true,
            endpoint: "127.0.0.1:16686".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LocalStoreConfig {
    /// What the store holds at most (encoded data plus indexes), in MiB; the oldest data is
    /// pruned past it.
    pub max_size_mib: u64,
    /// Data stored longer ago than this is pruned; 0 keeps it until the size cap.
    #[serde(deserialize_with = "duration::deserialize")]
    pub retention: Duration,
    /// Persist here and reload at start; empty keeps everything in memory.
    pub directory: String,
    pub ui: UiConfig,
}

impl Default for LocalStoreConfig {
    fn default() -> Self {
        LocalStoreConfig {
            max_size_mib: 256,
            retention: Duration::ZERO,
            directory: String::new(),
            ui: UiConfig::default(),
        }
    }
}

impl LocalStoreConfig {
    pub fn store_config(&self) -> ferrotel_store::StoreConfig {
        ferrotel_store::StoreConfig {
            max_bytes: self.max_size_mib.saturating_mul(1 << 20),
            retention: self.retention,
            directory: (!self.directory.is_empty()).then(|| self.directory.clone().into()),
        }
    }
}

impl ComponentConfig for LocalStoreConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_size_mib == 0 {
            return Err(ConfigError::field(
                "max_size_mib",
                "must be at least 1 (MiB the store may hold)",
            ));
        }
        if self.ui.enabled {
            parse_endpoint(&self.ui.endpoint).map_err(|e| ConfigError::field("ui::endpoint", e))?;
        }
        Ok(())
    }

    fn listen_addresses(&self) -> Vec<String> {
        if self.ui.enabled {
            vec![self.ui.endpoint.clone()]
        } else {
            Vec::new()
        }
    }
}
