//! Configuration of the `zipkin` receiver: the Go receiver's keys (confighttp server settings
//! plus `parse_string_tags`).

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::ConfigError;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZipkinReceiverConfig {
    /// Where `/api/v2/spans` and `/api/v1/spans` are served (Go's default, localhost:9411).
    pub endpoint: String,
    /// Tags that read as integers, floats or booleans become attributes of that type.
    pub parse_string_tags: bool,
    /// Largest body accepted, compressed and after decompression (the OTLP HTTP receiver's
    /// and confighttp's default, 20 MiB).
    pub max_request_body_size: usize,
    /// Server TLS is not supported yet: refused rather than ignored.
    pub tls: Option<serde_json::Value>,
    /// Accepted for compatibility.
    pub cors: Option<serde_json::Value>,
    pub include_metadata: bool,
    pub read_header_timeout: Option<serde_json::Value>,
    pub idle_timeout: Option<serde_json::Value>,
}

impl Default for ZipkinReceiverConfig {
    fn default() -> Self {
        ZipkinReceiverConfig {
            endpoint: "localhost:9411".into(),
            parse_string_tags: false,
            max_request_body_size: 20 << 20,
            tls: None,
            cors: None,
            include_metadata: false,
            read_header_timeout: None,
            idle_timeout: None,
        }
    }
}

impl ComponentConfig for ZipkinReceiverConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        ferrotel_runtime::config::parse_endpoint(&self.endpoint)
            .map_err(|e| ConfigError::field("endpoint", e))?;
        if self.max_request_body_size == 0 {
            return Err(ConfigError::field(
                "max_request_body_size",
                "must be positive",
            ));
        }
        if self.tls.as_ref().is_some_and(|t| !t.is_null()) {
            return Err(ConfigError::field(
                "tls",
                "TLS on the zipkin receiver is not supported yet; terminate TLS in a proxy",
            ));
        }
        Ok(())
    }

    fn listen_addresses(&self) -> Vec<String> {
        vec![self.endpoint.clone()]
    }
}
