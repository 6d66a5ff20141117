//! Configuration of the `otlp_grpc` (alias `otlp`) and `otlp_http` (alias `otlphttp`)
//! exporters, with the Go Collector's keys and defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, duration};
use ferrotel_runtime::exporter_helper::{QueueSettings, RetrySettings};
use serde::Deserialize;

pub use ferrotel_runtime::config::client::{ClientAuthConfig, ClientTlsConfig, CompressionParams};

/// `otlp_grpc`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpGrpcConfig {
    pub endpoint: String,
    pub compression: String,
    pub headers: BTreeMap<String, String>,
    pub tls: ClientTlsConfig,
    #[serde(deserialize_with = "duration::deserialize")]
    pub timeout: Duration,
    pub auth: Option<ClientAuthConfig>,
    pub sending_queue: QueueSettings,
    pub retry_on_failure: RetrySettings,
    /// Accepted for compatibility.
    pub keepalive: Option<serde_json::Value>,
    pub balancer_name: Option<String>,
    pub wait_for_ready: bool,
    pub write_buffer_size: Option<u64>,
    pub read_buffer_size: Option<u64>,
}

impl Default for OtlpGrpcConfig {
    fn default() -> Self {
        OtlpGrpcConfig {
            endpoint: String::new(),
            compression: "gzip".into(),
            headers: BTreeMap::new(),
            tls: ClientTlsConfig::default(),
            timeout: Duration::from_secs(5),
            auth: None,
            sending_queue: QueueSettings::default(),
            retry_on_failure: RetrySettings::default(),
            keepalive: None,
            balancer_name: None,
            wait_for_ready: false,
            write_buffer_size: None,
            read_buffer_size: None,
        }
    }
}

impl ComponentConfig for OtlpGrpcConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.endpoint.is_empty() {
            return Err(ConfigError::field(
                "endpoint",
                "an endpoint is required (host:port or http(s)://host:port)",
            ));
        }
        if !["", "none", "gzip", "zstd", "snappy"].contains(&self.compression.as_str()) {
            return Err(ConfigError::field(
                "compression",
                format!(
                    "unsupported compression {:?} (gzip, zstd, snappy, none)",
                    self.compression
                ),
            ));
        }
        self.sending_queue.validate()?;
        self.retry_on_failure.validate()
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Proto,
    Json,
}

/// `otlp_http`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpHttpConfig {
    pub endpoint: String,
    pub traces_endpoint: String,
    pub metrics_endpoint: String,
    pub logs_endpoint: String,
    pub profiles_endpoint: String,
    pub compression: String,
    pub compression_params: CompressionParams,
    pub encoding: Encoding,
    pub headers: BTreeMap<String, String>,
    pub tls: ClientTlsConfig,
    #[serde(deserialize_with = "duration::deserialize")]
    pub timeout: Duration,
    pub auth: Option<ClientAuthConfig>,
    pub sending_queue: QueueSettings,
    pub retry_on_failure: RetrySettings,
    /// Accepted for compatibility (connection pool tuning of Go's http.Client).
    pub read_buffer_size: Option<u64>,
    pub write_buffer_size: Option<u64>,
    pub max_idle_conns: Option<u64>,
    pub max_idle_conns_per_host: Option<u64>,
    pub max_conns_per_host: Option<u64>,
    pub idle_conn_timeout: Option<String>,
    pub disable_keep_alives: bool,
    pub http2_read_idle_timeout: Option<String>,
    pub http2_ping_timeout: Option<String>,
    pub proxy_url: Option<String>,
}

impl Default for OtlpHttpConfig {
    fn default() -> Self {
        OtlpHttpConfig {
            endpoint: String::new(),
            traces_endpoint: String::new(),
            metrics_endpoint: String::new(),
            logs_endpoint: String::new(),
            profiles_endpoint: String::new(),
            compression: "gzip".into(),
            compression_params: CompressionParams::default(),
            encoding: Encoding::Proto,
            headers: BTreeMap::new(),
            tls: ClientTlsConfig::default(),
            timeout: Duration::from_secs(30),
            auth: None,
            sending_queue: QueueSettings::default(),
            retry_on_failure: RetrySettings::default(),
            read_buffer_size: None,
            write_buffer_size: None,
            max_idle_conns: None,
            max_idle_conns_per_host: None,
            max_conns_per_host: None,
            idle_conn_timeout: None,
            disable_keep_alives: false,
            http2_read_idle_timeout: None,
            http2_ping_timeout: None,
            proxy_url: None,
        }
    }
}

fn check_url(field: &str, url: &str) -> Result<(), ConfigError> {
    if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ConfigError::field(
            field,
            format!("invalid URL {url:?}: must start with http:// or https://"),
        ));
    }
    Ok(())
}

impl ComponentConfig for OtlpHttpConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let per_signal = [
            &self.traces_endpoint,
            &self.metrics_endpoint,
            &self.logs_endpoint,
            &self.profiles_endpoint,
        ];
        if self.endpoint.is_empty() && per_signal.iter().all(|e| e.is_empty()) {
            return Err(ConfigError::field(
                "endpoint",
                "an endpoint is required (or traces_endpoint/metrics_endpoint/logs_endpoint)",
            ));
        }
        check_url("endpoint", &self.endpoint)?;
        check_url("traces_endpoint", &self.traces_endpoint)?;
        check_url("metrics_endpoint", &self.metrics_endpoint)?;
        check_url("logs_endpoint", &self.logs_endpoint)?;
        check_url("profiles_endpoint", &self.profiles_endpoint)?;
        if ![
            "", "none", "gzip", "zstd", "snappy", "deflate", "zlib", "lz4",
        ]
        .contains(&self.compression.as_str())
        {
            return Err(ConfigError::field(
                "compression",
                format!(
                    "unsupported compression {:?} (gzip, zstd, snappy, deflate, lz4, none)",
                    self.compression
                ),
            ));
        }
        self.compression_params.validate(&self.compression)?;
        self.sending_queue.validate()?;
        self.retry_on_failure.validate()
    }
}
