//! Configuration of the `prometheusremotewrite` receiver (confighttp server settings).

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::ConfigError;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemoteWriteReceiverConfig {
    /// Where `/api/v1/write` is served (Go's default, localhost:9090).
    pub endpoint: String,
    /// Largest compressed body accepted (confighttp's default, 20 MiB).
    pub max_request_body_size: usize,
    /// Largest decompressed body accepted; a larger one is refused with 413 before it is
    /// decompressed.
    pub max_decompressed_body_size: usize,
    /// Families whose 1.0 metadata is remembered (Prometheus sends it in separate requests).
    pub max_metadata_families: usize,
    /// Serve HTTPS (configtls server settings).
    pub tls: Option<crate::server_tls::ServerTls>,
    /// Accepted for compatibility.
    pub cors: Option<serde_json::Value>,
    pub include_metadata: bool,
    pub read_header_timeout: Option<serde_json::Value>,
    pub idle_timeout: Option<serde_json::Value>,
}

impl Default for RemoteWriteReceiverConfig {
    fn default() -> Self {
        RemoteWriteReceiverConfig {
            endpoint: "localhost:9090".into(),
            max_request_body_size: 20 << 20,
            max_decompressed_body_size: 128 << 20,
            max_metadata_families: 100_000,
            tls: None,
            cors: None,
            include_metadata: false,
            read_header_timeout: None,
            idle_timeout: None,
        }
    }
}

impl ComponentConfig for RemoteWriteReceiverConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        ferrotel_runtime::config::parse_endpoint(&self.endpoint)
            .map_err(|e| ConfigError::field("endpoint", e))?;
        if self.max_request_body_size == 0 || self.max_decompressed_body_size == 0 {
            return Err(ConfigError::field(
                "max_request_body_size",
                "body size limits must be positive",
            ));
        }
        if let Some(t) = &self.tls {
            t.validate()?;
        }
        Ok(())
    }

    fn listen_addresses(&self) -> Vec<String> {
        vec![self.endpoint.clone()]
    }
}
