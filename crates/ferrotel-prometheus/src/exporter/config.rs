//! Configuration of the `prometheus` exporter, with the Go exporter's keys and defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, duration};
use serde::Deserialize;

use crate::naming::TranslationStrategy;

/// `resource_to_telemetry_conversion`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceToTelemetry {
    pub enabled: bool,
    /// Accepted; `job`/`instance` already carry those attributes.
    pub exclude_service_attributes: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusExporterConfig {
    /// Where `/metrics` is served (required, as in Go).
    pub endpoint: String,
    pub namespace: String,
    pub const_labels: BTreeMap<String, String>,
    pub send_timestamps: bool,
    #[serde(deserialize_with = "duration::deserialize")]
    pub metric_expiration: Duration,
    pub resource_to_telemetry_conversion: ResourceToTelemetry,
    pub enable_open_metrics: bool,
    /// Deprecated in Go in favour of `translation_strategy`, which wins when set.
    pub add_metric_suffixes: bool,
    pub translation_strategy: Option<TranslationStrategy>,
    pub without_scope_info: bool,
    /// Not in the Go exporter (which always writes `target_info`); `false` leaves it out.
    pub target_info: TargetInfo,
    /// Serve HTTPS (configtls server settings).
    pub tls: Option<crate::server_tls::ServerTls>,
    /// Accepted for compatibility (confighttp server settings that have no effect here).
    pub cors: Option<serde_json::Value>,
    pub response_headers: Option<serde_json::Value>,
    pub read_header_timeout: Option<serde_json::Value>,
    pub idle_timeout: Option<serde_json::Value>,
}

/// `target_info: {enabled: bool}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TargetInfo {
    pub enabled: bool,
}

impl Default for TargetInfo {
    fn default() -> Self {
        TargetInfo { enabled: true }
    }
}

impl Default for PrometheusExporterConfig {
    fn default() -> Self {
        PrometheusExporterConfig {
            endpoint: String::new(),
            namespace: String::new(),
            const_labels: BTreeMap::new(),
            send_timestamps: false,
            metric_expiration: Duration::from_secs(300),
            resource_to_telemetry_conversion: ResourceToTelemetry::default(),
            enable_open_metrics: false,
            add_metric_suffixes: true,
            translation_strategy: None,
            without_scope_info: false,
            target_info: TargetInfo::default(),
            tls: None,
            cors: None,
            response_headers: None,
            read_header_timeout: None,
            idle_timeout: None,
        }
    }
}

impl ComponentConfig for PrometheusExporterConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.endpoint.trim().is_empty() {
            return Err(ConfigError::field(
                "endpoint",
                "an endpoint is required (host:port where /metrics is served, e.g. 0.0.0.0:8889)",
            ));
        }
        ferrotel_runtime::config::parse_endpoint(&self.endpoint)
            .map_err(|e| ConfigError::field("endpoint", e))?;
        if let Some(t) = &self.tls {
            t.validate()?;
        }
        Ok(())
    }

    fn listen_addresses(&self) -> Vec<String> {
        vec![self.endpoint.clone()]
    }
}
