//! Configuration of the `kafka` receiver: the Go Collector's keys (brokers and auth, group,
//! per-signal `topic`/`topics` and `encoding` over the older top-level `topic`/`encoding`,
//! `autocommit`, `message_marking`, `header_extraction`, `error_backoff`).
//!
//! One deliberate difference: `message_marking::after` defaults to true. Go marks a message
//! before the pipeline sees it unless `after` is set, which loses data at a crash; ferrotel
//! stores an offset only once the pipeline accepted the record (at least once), and
//! `after: false` still asks for Go's behaviour.

use std::time::Duration;

use ferrotel_pdata::Signal;
use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, duration};
use ferrotel_runtime::exporter_helper::RetrySettings;
use serde::Deserialize;

use crate::client::{AuthConfig, ClientSettings, ClientTlsConfig, default_brokers};
use crate::exporter::config::{TRACE_ENCODINGS, default_topic};

/// How a record's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `TracesData`/`MetricsData`/`LogsData` protobuf.
    OtlpProto,
    /// The same as OTLP/JSON.
    OtlpJson,
    /// Traces: a Zipkin v2 span list.
    ZipkinProto,
    ZipkinJson,
    /// Traces: a Zipkin v1 Thrift span list (what `/api/v1/spans` takes as `application/x-thrift`).
    ZipkinThrift,
    /// Traces: one `jaeger.api_v2.Span` per record, protobuf or protobuf JSON (what the
    /// exporter's encodings of these names write).
    JaegerProto,
    JaegerJson,
    /// Logs: the value's bytes as a log record's body.
    Raw,
    /// Logs: the value as text in this encoding (`text` is UTF-8, `text_<label>` any WHATWG
    /// label such as `text_utf-16le` or `text_shift_jis`) as the body; invalid sequences become
    /// U+FFFD, as Go's decoders do.
    Text(&'static encoding_rs::Encoding),
    /// Logs: a JSON object as the body (a map), numbers as doubles, as Go reads them.
    Json,
}

/// The log encodings beside OTLP's.
pub const LOG_ENCODINGS: &[&str] = &["raw", "text", "json"];

impl Encoding {
    pub fn parse(name: &str, signal: Signal) -> Result<Encoding, String> {
        if signal == Signal::Logs {
            match name {
                "raw" => return Ok(Encoding::Raw),
                "json" => return Ok(Encoding::Json),
                "text" => return Ok(Encoding::Text(encoding_rs::UTF_8)),
                _ => {}
            }
            if let Some(label) = name.strip_prefix("text_") {
                return encoding_rs::Encoding::for_label(label.as_bytes())
                    .map(Encoding::Text)
                    .ok_or_else(|| {
                        format!(
                            "{name:?}: unknown text encoding {label:?} (a WHATWG label: utf-8, \
                             utf-16le, utf-16be, iso-8859-1, shift_jis, ...)"
                        )
                    });
            }
        } else if LOG_ENCODINGS.contains(&name) || name.starts_with("text_") {
            return Err(format!("{name:?} is not an encoding of {signal}"));
        }
        Ok(match name {
            "otlp_proto" => Encoding::OtlpProto,
            "otlp_json" => Encoding::OtlpJson,
            "zipkin_proto" if signal == Signal::Traces => Encoding::ZipkinProto,
            "zipkin_json" if signal == Signal::Traces => Encoding::ZipkinJson,
            "zipkin_thrift" if signal == Signal::Traces => Encoding::ZipkinThrift,
            "jaeger_proto" if signal == Signal::Traces => Encoding::JaegerProto,
            "jaeger_json" if signal == Signal::Traces => Encoding::JaegerJson,
            "zipkin_proto" | "zipkin_json" | "zipkin_thrift" | "jaeger_proto" | "jaeger_json" => {
                return Err(format!("{name:?} is not an encoding of {signal}"));
            }
            _ => {
                return Err(format!(
                    "{name:?}: expected otlp_proto or otlp_json (traces also zipkin_proto, \
                     zipkin_json, zipkin_thrift, jaeger_proto, jaeger_json; logs also raw, text, \
                     text_<encoding>, json); encoding extensions are not supported yet"
                ));
            }
        })
    }
}

/// `traces`, `metrics`, `logs`: where one signal is read from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalConfig {
    pub topic: Option<String>,
    pub topics: Option<Vec<String>>,
    pub encoding: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoCommit {
    pub enable: bool,
    #[serde(deserialize_with = "duration::deserialize")]
    pub interval: Duration,
}

impl Default for AutoCommit {
    fn default() -> Self {
        AutoCommit {
            enable: true,
            interval: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MessageMarking {
    /// Mark (store the offset of) a record once the pipeline accepted it, not before.
    pub after: bool,
    /// With `after`: also mark a record the pipeline refused, rather than retrying it.
    pub on_error: bool,
    /// With `after`: mark a record the pipeline refused permanently (default: as `on_error`;
    /// a permanent refusal is never retried either way, since retrying cannot help).
    pub on_permanent_error: Option<bool>,
}

impl Default for MessageMarking {
    fn default() -> Self {
        MessageMarking {
            after: true,
            on_error: false,
            on_permanent_error: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeaderExtraction {
    pub extract_headers: bool,
    /// These headers become resource attributes `kafka.header.<name>`.
    pub headers: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaReceiverConfig {
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
    pub group_id: String,
    pub group_instance_id: Option<String>,
    /// `latest` (Go's default) or `earliest`: where a group without a committed offset starts.
    pub initial_offset: String,
    #[serde(deserialize_with = "duration::deserialize")]
    pub session_timeout: Duration,
    #[serde(deserialize_with = "duration::deserialize")]
    pub heartbeat_interval: Duration,
    /// `range`, `roundrobin` or `sticky` (librdkafka's cooperative-sticky is not used: the
    /// eager strategies keep the commit-on-revoke simple).
    pub group_rebalance_strategy: Option<String>,
    pub autocommit: AutoCommit,
    pub message_marking: MessageMarking,
    pub header_extraction: HeaderExtraction,
    /// Waiting between retries of a record the pipeline refused for now; also the pause
    /// after a consumer error. Off (Go's default): a fixed 100 ms.
    pub error_backoff: RetrySettings,
    /// librdkafka fetch tuning: accepted for compatibility.
    pub min_fetch_size: Option<u64>,
    pub default_fetch_size: Option<u64>,
    pub max_fetch_size: Option<u64>,
    pub max_fetch_wait: Option<serde_json::Value>,
    pub max_partition_fetch_size: Option<u64>,
    pub telemetry: Option<serde_json::Value>,
}

impl Default for KafkaReceiverConfig {
    fn default() -> Self {
        KafkaReceiverConfig {
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
            group_id: "otel-collector".into(),
            group_instance_id: None,
            initial_offset: "latest".into(),
            session_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(3),
            group_rebalance_strategy: None,
            autocommit: AutoCommit::default(),
            message_marking: MessageMarking::default(),
            header_extraction: HeaderExtraction::default(),
            error_backoff: RetrySettings {
                enabled: false,
                ..RetrySettings::default()
            },
            min_fetch_size: None,
            default_fetch_size: None,
            max_fetch_size: None,
            max_fetch_wait: None,
            max_partition_fetch_size: None,
            telemetry: None,
        }
    }
}

impl KafkaReceiverConfig {
    pub fn client(&self) -> ClientSettings<'_> {
        ClientSettings {
            brokers: &self.brokers,
            client_id: &self.client_id,
            auth: &self.auth,
            tls: self.tls.as_ref(),
        }
    }

    fn section(&self, signal: Signal) -> &SignalConfig {
        match signal {
            Signal::Traces => &self.traces,
            Signal::Metrics => &self.metrics,
            _ => &self.logs,
        }
    }

    /// The topics of `signal`: its section's `topics` or `topic`, else the top-level
    /// `topic`, else Go's default.
    pub fn topics(&self, signal: Signal) -> Vec<String> {
        let s = self.section(signal);
        if let Some(t) = &s.topics {
            return t.clone();
        }
        vec![
            s.topic
                .clone()
                .or_else(|| self.topic.clone())
                .unwrap_or_else(|| default_topic(signal).into()),
        ]
    }

    /// The encoding of `signal`: its section's, else the top-level `encoding` where it
    /// applies to the signal, else otlp_proto.
    pub fn encoding(&self, signal: Signal) -> Result<Encoding, ConfigError> {
        if let Some(e) = &self.section(signal).encoding {
            return Encoding::parse(e, signal)
                .map_err(|m| ConfigError::field(&format!("{signal}::encoding"), m));
        }
        match self.encoding.as_deref() {
            None => Ok(Encoding::OtlpProto),
            // The old key names one encoding for all signals: Go applies it where it fits.
            Some(e) if signal != Signal::Traces && TRACE_ENCODINGS.contains(&e) => {
                Ok(Encoding::OtlpProto)
            }
            Some(e)
                if signal != Signal::Logs
                    && (LOG_ENCODINGS.contains(&e) || e.starts_with("text_")) =>
            {
                Ok(Encoding::OtlpProto)
            }
            Some(e) => Encoding::parse(e, signal).map_err(|m| ConfigError::field("encoding", m)),
        }
    }
}

impl ComponentConfig for KafkaReceiverConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        self.client().validate()?;
        for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
            let s = self.section(signal);
            if s.topic.is_some() && s.topics.is_some() {
                return Err(ConfigError::field(
                    &format!("{signal}::topics"),
                    "set `topic` or `topics`, not both",
                ));
            }
            let topics = self.topics(signal);
            if topics.is_empty() || topics.iter().any(|t| t.trim().is_empty()) {
                return Err(ConfigError::field(
                    &format!("{signal}::topics"),
                    "needs at least one topic, and none may be empty",
                ));
            }
            // `^…`: a regular expression over topic names, as Go documents.
            for t in topics.iter().filter(|t| t.starts_with('^')) {
                regex::Regex::new(t).map_err(|e| {
                    ConfigError::field(
                        &format!("{signal}::topics"),
                        format!("{t:?} is not a valid topic pattern: {e}"),
                    )
                })?;
            }
            self.encoding(signal)?;
        }
        if self.group_id.trim().is_empty() {
            return Err(ConfigError::field("group_id", "must not be empty"));
        }
        if !matches!(self.initial_offset.as_str(), "latest" | "earliest") {
            return Err(ConfigError::field(
                "initial_offset",
                format!("{:?}: expected latest or earliest", self.initial_offset),
            ));
        }
        if let Some(s) = &self.group_rebalance_strategy
            && !matches!(s.as_str(), "range" | "roundrobin" | "sticky")
        {
            return Err(ConfigError::field(
                "group_rebalance_strategy",
                format!("{s:?}: expected range, roundrobin or sticky"),
            ));
        }
        if self.session_timeout.is_zero() || self.heartbeat_interval >= self.session_timeout {
            return Err(ConfigError::field(
                "heartbeat_interval",
                "must be positive and below session_timeout",
            ));
        }
        if self.heartbeat_interval.is_zero() {
            return Err(ConfigError::field("heartbeat_interval", "must be positive"));
        }
        if self.autocommit.enable && self.autocommit.interval.is_zero() {
            return Err(ConfigError::field(
                "autocommit::interval",
                "must be positive when autocommit is enabled",
            ));
        }
        self.error_backoff.validate().map_err(|e| {
            ConfigError::field(
                &format!(
                    "error_backoff::{}",
                    e.path.trim_start_matches("retry_on_failure::")
                ),
                e.message,
            )
        })
    }
}
