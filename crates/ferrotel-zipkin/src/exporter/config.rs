//! Configuration of the `zipkin` exporter, with the Go exporter's keys and defaults
//! (confighttp client settings, `format`, `default_service_name`, queue and retry).

use std::collections::BTreeMap;
use std::time::Duration;

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, duration};
use ferrotel_runtime::exporter_helper::{QueueSettings, RetrySettings};
use serde::Deserialize;

pub use ferrotel_runtime::config::client::{ClientAuthConfig, ClientTlsConfig, CompressionParams};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ZipkinFormat {
    /// v2 JSON (`application/json`).
    #[default]
    Json,
    /// v2 protobuf (`application/x-protobuf`).
    Proto,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZipkinExporterConfig {
    /// The Zipkin spans URL, e.g. `http://zipkin:9411/api/v2/spans` (required).
    pub endpoint: String,
    pub format: ZipkinFormat,
    /// The local service name of spans whose resource has no `service.name`.
    pub default_service_name: String,
    pub headers: BTreeMap<String, String>,
    pub tls: ClientTlsConfig,
    pub auth: Option<ClientAuthConfig>,
    #[serde(deserialize_with = "duration::deserialize")]
    pub timeout: Duration,
    /// Body coding: none (default, as Go's), `gzip`, `zstd`, `deflate`, `snappy`, `lz4`.
    pub compression: String,
    pub compression_params: CompressionParams,
    pub sending_queue: QueueSettings,
    pub retry_on_failure: RetrySettings,
    /// confighttp connection-pool keys, accepted for compatibility.
    pub read_buffer_size: Option<u64>,
    pub write_buffer_size: Option<u64>,
    pub max_idle_conns: Option<u64>,
    pub idle_conn_timeout: Option<String>,
}

impl Default for ZipkinExporterConfig {
    fn default() -> Self {
        ZipkinExporterConfig {
            endpoint: String::new(),
            format: ZipkinFormat::Json,
            default_service_name: "<missing service name>".into(),
            headers: BTreeMap::new(),
            tls: ClientTlsConfig::default(),
            auth: None,
            timeout: Duration::from_secs(5),
            compression: String::new(),
            compression_params: CompressionParams::default(),
            sending_queue: QueueSettings::default(),
            retry_on_failure: RetrySettings::default(),
            read_buffer_size: None,
            write_buffer_size: None,
            max_idle_conns: None,
            idle_conn_timeout: None,
        }
    }
}

impl ComponentConfig for ZipkinExporterConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let e = self.endpoint.trim();
        if e.is_empty() {
            return Err(ConfigError::field(
                "endpoint",
                "an endpoint is required (the Zipkin spans URL, e.g. http://zipkin:9411/api/v2/spans)",
            ));
        }
        if !(e.starts_with("http://") || e.starts_with("https://")) {
            return Err(ConfigError::field(
                "endpoint",
                format!("{e:?} must be an http:// or https:// URL"),
            ));
        }
        let c = self.compression.as_str();
        if !c.is_empty() && c != "none" && ferrotel_otlp::compression::Encoding::parse(c).is_none()
        {
            return Err(ConfigError::field(
                "compression",
                format!("{c:?}: expected none, gzip, zstd, deflate, snappy or lz4"),
            ));
        }
        self.compression_params.validate(c)?;
        self.sending_queue.validate()?;
        self.retry_on_failure.validate()
    }
}
