//! Configuration of the `kafka` exporter: the Go Collector's keys and defaults (brokers and
//! auth, per-signal `traces`/`metrics`/`logs` topic and encoding over the older top-level
//! `topic`/`encoding`, partitioning, `producer`, queue and retry).

use std::time::Duration;

use ferrotel_pdata::Signal;
use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, duration};
use ferrotel_runtime::exporter_helper::{QueueSettings, RetrySettings};
use serde::Deserialize;

use crate::client::{AuthConfig, ClientSettings, ClientTlsConfig, default_brokers};

/// How a message's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `TracesData`/`MetricsData`/`LogsData` protobuf (the export request's bytes).
    OtlpProto,
    /// The same as OTLP/JSON.
    OtlpJson,
    /// Logs: each record's body, one message per record (strings as UTF-8, bytes as is,
    /// anything else as JSON).
    Raw,
    /// Traces: a Zipkin v2 span list, protobuf or JSON.
    ZipkinProto,
    ZipkinJson,
    /// Traces: one message per span, a `jaeger.api_v2.Span` (with its process) in protobuf
    /// or protobuf JSON, keyed by its trace id as Jaeger writes it.
    JaegerProto,
    JaegerJson,
}

/// The trace-only encodings, which the old top-level `encoding` applies to traces alone.
pub const TRACE_ENCODINGS: [&str; 4] =
    ["zipkin_proto", "zipkin_json", "jaeger_proto", "jaeger_json"];

impl Encoding {
    /// The encoding named `name` for `signal`, or why not.
    pub fn parse(name: &str, signal: Signal) -> Result<Encoding, String> {
        let e = match name {
            "otlp_proto" => Encoding::OtlpProto,
            "otlp_json" => Encoding::OtlpJson,
            "raw" if signal == Signal::Logs => Encoding::Raw,
            "zipkin_proto" if signal == Signal::Traces => Encoding::ZipkinProto,
            "zipkin_json" if signal == Signal::Traces => Encoding::ZipkinJson,
            "jaeger_proto" if signal == Signal::Traces => Encoding::JaegerProto,
            "jaeger_json" if signal == Signal::Traces => Encoding::JaegerJson,
            "raw" | "zipkin_proto" | "zipkin_json" | "jaeger_proto" | "jaeger_json" => {
                return Err(format!("{name:?} is not an encoding of {signal}"));
            }
            _ => {
                return Err(format!(
                    "{name:?}: expected otlp_proto or otlp_json (traces also zipkin_proto, \
                     zipkin_json, jaeger_proto, jaeger_json; logs also raw); encoding \
                     extensions are not supported yet"
                ));
            }
        };
        Ok(e)
    }
}

/// `traces`, `metrics`, `logs`: one signal's topic and encoding.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalConfig {
    pub topic: Option<String>,
    pub encoding: Option<String>,
}

/// `producer`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProducerConfig {
    /// Largest message value, checked before compression; larger requests are split by
    /// resource or trace, and what still does not fit is refused (counted, logged).
    pub max_message_bytes: usize,
    /// 0 (no acknowledgement), 1 (the leader) or -1 (all in-sync replicas).
    pub required_acks: i64,
    /// none, gzip, snappy, lz4 or zstd.
    pub compression: String,
    pub compression_params: CompressionParams,
    /// Most messages in one produce request (librdkafka's `batch.num.messages`); 0: default.
    pub flush_max_messages: usize,
    /// Accepted for compatibility: topic creation is the broker's setting.
    pub allow_auto_topic_creation: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompressionParams {
    pub level: Option<i64>,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            max_message_bytes: 1_000_000,
            required_acks: 1,
            compression: "none".into(),
            compression_params: CompressionParams::default(),
            flush_max_messages: 0,
            allow_auto_topic_creation: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaExporterConfig {
    pub brokers: Vec<String>,
    pub client_id: String,
    pub auth: AuthConfig,
    pub tls: Option<ClientTlsConfig>,
    /// Negotiated by librdkafka; accepted for compatibility (as the next two).
    pub protocol_version: Option<String>,
    pub resolve_canonical_bootstrap_servers_only: Option<bool>,
    pub metadata: Option<serde_json::Value>,
    /// Deprecated in Go: the topic of every signal without its own.
    pub topic: Option<String>,
    /// Deprecated in Go: the encoding of every signal without its own.
    pub encoding: Option<String>,
    pub traces: SignalConfig,
    pub metrics: SignalConfig,
    pub logs: SignalConfig,
    /// A request's client metadata value under this key, when present, is its topic (over
    /// `topic_from_attribute` and the configured topic, as Go documents).
    pub topic_from_metadata_key: Option<String>,
    /// The first resource's value of this attribute, when a string, is the request's topic
    /// (over the configured topic).
    pub topic_from_attribute: Option<String>,
    /// These client metadata keys' values (`include_metadata` on the receiver) become
    /// record headers, one header per value, as Go.
    pub include_metadata_keys: Vec<String>,
    pub partition_traces_by_id: bool,
    pub partition_metrics_by_resource_attributes: bool,
    pub partition_logs_by_resource_attributes: bool,
    /// How long one send may take (librdkafka's `message.timeout.ms`).
    #[serde(deserialize_with = "duration::deserialize")]
    pub timeout: Duration,
    pub producer: ProducerConfig,
    pub sending_queue: QueueSettings,
    pub retry_on_failure: RetrySettings,
}

impl Default for KafkaExporterConfig {
    fn default() -> Self {
        KafkaExporterConfig {
            brokers: default_brokers(),
            client_id: "otel-collector".into(),
            auth: AuthConfig::default(),
            tls: None,
            protocol_version: None,
            resolve_canonical_bootstrap_servers_only: None,
            metadata: None,
            topic: None,
            encoding: None,
            traces: SignalConfig::default(),
            metrics: SignalConfig::default(),
            logs: SignalConfig::default(),
            topic_from_metadata_key: None,
            topic_from_attribute: None,
            include_metadata_keys: Vec::new(),
            partition_traces_by_id: false,
            partition_metrics_by_resource_attributes: false,
            partition_logs_by_resource_attributes: false,
            timeout: Duration::from_secs(5),
            producer: ProducerConfig::default(),
            sending_queue: QueueSettings::default(),
            retry_on_failure: RetrySettings::default(),
        }
    }
}

/// Go's default topic of each signal.
pub fn default_topic(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "otlp_spans",
        Signal::Metrics => "otlp_metrics",
        Signal::Logs => "otlp_logs",
        Signal::Profiles => "otlp_profiles",
    }
}

impl KafkaExporterConfig {
    pub fn client(&self) -> ClientSettings<'_> {
        ClientSettings {
            brokers: &self.brokers,
            client_id: &self.client_id,
            auth: &self.auth,
            tls: self.tls.as_ref(),
        }
    }

    fn section(&self, signal: Signal) -> Option<&SignalConfig> {
        match signal {
            Signal::Traces => Some(&self.traces),
            Signal::Metrics => Some(&self.metrics),
            Signal::Logs => Some(&self.logs),
            Signal::Profiles => None,
        }
    }

    /// The topic of `signal`: its section's, else the top-level `topic`, else Go's default.
    pub fn topic(&self, signal: Signal) -> String {
        self.section(signal)
            .and_then(|s| s.topic.clone())
            .or_else(|| self.topic.clone())
            .unwrap_or_else(|| default_topic(signal).into())
    }

    /// The encoding of `signal`, resolved the same way (default otlp_proto).
    pub fn encoding(&self, signal: Signal) -> Result<Encoding, ConfigError> {
        let (name, path) = match self.section(signal).and_then(|s| s.encoding.as_deref()) {
            Some(e) => (e, format!("{signal}::encoding")),
            None => match self.encoding.as_deref() {
                // The old key names one encoding for all signals: Go applies it to the
                // signals that have it (e.g. `raw` to logs only).
                Some(e) if Encoding::parse(e, signal).is_ok() => (e, "encoding".into()),
                Some(e) if e == "raw" || TRACE_ENCODINGS.contains(&e) => {
                    ("otlp_proto", "encoding".into())
                }
                Some(e) => (e, "encoding".into()),
                None => ("otlp_proto", "encoding".into()),
            },
        };
        Encoding::parse(name, signal).map_err(|m| ConfigError::field(&path, m))
    }

    fn compression(&self) -> Result<(), ConfigError> {
        let c = self.producer.compression.as_str();
        if !matches!(c, "" | "none" | "gzip" | "snappy" | "lz4" | "zstd") {
            return Err(ConfigError::field(
                "producer::compression",
                format!("{c:?}: expected none, gzip, snappy, lz4 or zstd"),
            ));
        }
        Ok(())
    }
}

impl ComponentConfig for KafkaExporterConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        self.client().validate()?;
        for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
            self.encoding(signal)?;
            if self.topic(signal).trim().is_empty() {
                return Err(ConfigError::field(
                    &format!("{signal}::topic"),
                    "must not be empty",
                ));
            }
        }
        self.compression()?;
        if !matches!(self.producer.required_acks, -1..=1) {
            return Err(ConfigError::field(
                "producer::required_acks",
                format!(
                    "{}: expected 0 (none), 1 (leader) or -1 (all replicas)",
                    self.producer.required_acks
                ),
            ));
        }
        if self.producer.max_message_bytes < 1000 {
            return Err(ConfigError::field(
                "producer::max_message_bytes",
                "must be at least 1000 (librdkafka's smallest message.max.bytes)",
            ));
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::field("timeout", "must be positive"));
        }
        for (key, value) in [
            ("topic_from_metadata_key", &self.topic_from_metadata_key),
            ("topic_from_attribute", &self.topic_from_attribute),
        ] {
            if value.as_ref().is_some_and(|k| k.trim().is_empty()) {
                return Err(ConfigError::field(key, "must not be empty when set"));
            }
        }
        if self
            .include_metadata_keys
            .iter()
            .any(|k| k.trim().is_empty())
        {
            return Err(ConfigError::field(
                "include_metadata_keys",
                "a key must not be empty",
            ));
        }
        self.sending_queue.validate()?;
        self.retry_on_failure.validate()
    }
}
