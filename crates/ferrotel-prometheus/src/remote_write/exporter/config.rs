//! Configuration of the `prometheusremotewrite` exporter, with the Go exporter's keys and
//! defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, duration};
use ferrotel_runtime::exporter_helper::{QueueSettings, RetrySettings};
use serde::Deserialize;

use crate::exporter::config::{ResourceToTelemetry, TargetInfo};
use crate::naming::TranslationStrategy;

pub use ferrotel_runtime::config::client::{ClientAuthConfig, ClientTlsConfig};

/// Go's own queue (`remote_write_queue`): mapped onto `sending_queue`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemoteWriteQueue {
    pub enabled: bool,
    pub queue_size: u64,
    pub num_consumers: usize,
}

impl Default for RemoteWriteQueue {
    fn default() -> Self {
        RemoteWriteQueue {
            enabled: true,
            queue_size: 10_000,
            num_consumers: 5,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemoteWriteExporterConfig {
    /// The remote write URL, e.g. `http://prometheus:9090/api/v1/write`.
    pub endpoint: String,
    pub headers: BTreeMap<String, String>,
    pub tls: ClientTlsConfig,
    pub auth: Option<ClientAuthConfig>,
    #[serde(deserialize_with = "duration::deserialize")]
    pub timeout: Duration,
    /// Only `snappy` (the protocol requires it).
    pub compression: String,
    pub namespace: String,
    pub external_labels: BTreeMap<String, String>,
    pub resource_to_telemetry_conversion: ResourceToTelemetry,
    pub target_info: TargetInfo,
    pub add_metric_suffixes: bool,
    pub translation_strategy: Option<TranslationStrategy>,
    pub max_batch_size_bytes: usize,
    /// Only `prometheus.WriteRequest` (1.0) is sent.
    pub protobuf_message: String,
    pub remote_write_queue: RemoteWriteQueue,
    pub sending_queue: Option<QueueSettings>,
    pub retry_on_failure: RetrySettings,
    /// Accepted for compatibility; metadata is not sent.
    pub send_metadata: bool,
    pub export_created_metric: Option<serde_json::Value>,
    pub max_batch_request_parallelism: Option<usize>,
    /// Go's write-ahead log is not implemented: a persistent `sending_queue` does its job.
    pub wal: Option<serde_json::Value>,
    pub read_buffer_size: Option<u64>,
    pub write_buffer_size: Option<u64>,
    pub max_idle_conns: Option<u64>,
    pub idle_conn_timeout: Option<String>,
}

impl Default for RemoteWriteExporterConfig {
    fn default() -> Self {
        RemoteWriteExporterConfig {
            endpoint: String::new(),
            headers: BTreeMap::new(),
            tls: ClientTlsConfig::default(),
            auth: None,
            timeout: Duration::from_secs(5),
            compression: "snappy".into(),
            namespace: String::new(),
            external_labels: BTreeMap::new(),
            resource_to_telemetry_conversion: ResourceToTelemetry::default(),
            target_info: TargetInfo::default(),
            add_metric_suffixes: true,
            translation_strategy: None,
            max_batch_size_bytes: 3_000_000,
            protobuf_message: "prometheus.WriteRequest".into(),
            remote_write_queue: RemoteWriteQueue::default(),
            sending_queue: None,
            retry_on_failure: RetrySettings::default(),
            send_metadata: false,
            export_created_metric: None,
            max_batch_request_parallelism: None,
            wal: None,
            read_buffer_size: None,
            write_buffer_size: None,
            max_idle_conns: None,
            idle_conn_timeout: None,
        }
    }
}

impl RemoteWriteExporterConfig {
    /// `sending_queue` if written, else Go's `remote_write_queue` mapped onto it.
    pub fn queue(&self) -> QueueSettings {
        match &self.sending_queue {
            Some(q) => q.clone(),
            None => QueueSettings {
                enabled: self.remote_write_queue.enabled,
                queue_size: self.remote_write_queue.queue_size,
                num_consumers: self.remote_write_queue.num_consumers,
                ..QueueSettings::default()
            },
        }
    }
}

impl ComponentConfig for RemoteWriteExporterConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let e = self.endpoint.trim();
        if e.is_empty() {
            return Err(ConfigError::field(
                "endpoint",
                "an endpoint is required (the remote write URL, e.g. http://prometheus:9090/api/v1/write)",
            ));
        }
        if !(e.starts_with("http://") || e.starts_with("https://")) {
            return Err(ConfigError::field(
                "endpoint",
                format!("{e:?} must be an http:// or https:// URL"),
            ));
        }
        if !["", "snappy"].contains(&self.compression.as_str()) {
            return Err(ConfigError::field(
                "compression",
                format!(
                    "{:?}: remote write bodies are snappy-compressed",
                    self.compression
                ),
            ));
        }
        if self.max_batch_size_bytes == 0 {
            return Err(ConfigError::field(
                "max_batch_size_bytes",
                "must be positive",
            ));
        }
        if self.protobuf_message != "prometheus.WriteRequest" {
            return Err(ConfigError::field(
                "protobuf_message",
                format!(
                    "{:?}: only prometheus.WriteRequest (remote write 1.0) is sent",
                    self.protobuf_message
                ),
            ));
        }
        if self.wal.as_ref().is_some_and(|w| !w.is_null()) {
            return Err(ConfigError::field(
                "wal",
                "the write-ahead log is not supported; use sending_queue with a storage extension",
            ));
        }
        self.queue().validate()?;
        self.retry_on_failure.validate()
    }
}
