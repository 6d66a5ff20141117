//! Configuration of the `loadbalancing` exporter, with the Go Collector's keys, defaults and
//! validation messages.

use std::time::Duration;

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, duration};
use serde::Deserialize;

use crate::exporters::otlp::OtlpGrpcConfig;

/// The port the DNS resolver and the static resolver add to addresses without one.
pub const DEFAULT_PORT: u16 = 4317;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct LoadBalancingConfig {
    pub protocol: ProtocolConfig,
    pub resolver: ResolverConfig,
    /// `traceID` (traces' default), `service` (metrics' default), `resource`, `metric`,
    /// `streamID`. Empty means the signal's default.
    pub routing_key: String,
}

/// `protocol`: only OTLP/gRPC, as in Go.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ProtocolConfig {
    /// The template of every backend's `otlp_grpc` exporter; its `endpoint` is replaced by the
    /// backend's address.
    pub otlp: OtlpGrpcConfig,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ResolverConfig {
    pub r#static: Option<StaticResolverConfig>,
    pub dns: Option<DnsResolverConfig>,
    /// Accepted so a Go config parses; building it fails with "not supported".
    pub k8s: Option<serde_json::Value>,
    pub aws_cloud_map: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct StaticResolverConfig {
    pub hostnames: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsResolverConfig {
    pub hostname: String,
    /// A string in Go; numbers are accepted too.
    #[serde(deserialize_with = "port")]
    pub port: String,
    #[serde(deserialize_with = "duration::deserialize")]
    pub interval: Duration,
    #[serde(deserialize_with = "duration::deserialize")]
    pub timeout: Duration,
}

impl Default for DnsResolverConfig {
    fn default() -> Self {
        DnsResolverConfig {
            hostname: String::new(),
            port: DEFAULT_PORT.to_string(),
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(1),
        }
    }
}

fn port<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Port {
        S(String),
        N(u64),
    }
    Ok(match Port::deserialize(d)? {
        Port::S(s) => s,
        Port::N(n) => n.to_string(),
    })
}

/// What routes data to a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutingKey {
    TraceId,
    Service,
    Resource,
    Metric,
    StreamId,
}

impl RoutingKey {
    pub fn parse(s: &str) -> Option<RoutingKey> {
        Some(match s {
            "traceID" => RoutingKey::TraceId,
            "service" => RoutingKey::Service,
            "resource" => RoutingKey::Resource,
            "metric" => RoutingKey::Metric,
            "streamID" => RoutingKey::StreamId,
            _ => return None,
        })
    }
}

impl ComponentConfig for LoadBalancingConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let r = &self.resolver;
        let configured = [
            r.r#static.is_some(),
            r.dns.is_some(),
            r.k8s.is_some(),
            r.aws_cloud_map.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if configured == 0 {
            return Err(ConfigError::field(
                "resolver",
                "no resolvers specified for the exporter (static or dns)",
            ));
        }
        if configured > 1 {
            return Err(ConfigError::field(
                "resolver",
                "only one resolver should be specified",
            ));
        }
        if r.k8s.is_some() {
            return Err(ConfigError::field(
                "resolver::k8s",
                "the k8s resolver is not supported by ferrotel (use static or dns, e.g. a headless service's DNS name)",
            ));
        }
        if r.aws_cloud_map.is_some() {
            return Err(ConfigError::field(
                "resolver::aws_cloud_map",
                "the aws_cloud_map resolver is not supported by ferrotel (use static or dns)",
            ));
        }
        if let Some(s) = &r.r#static {
            if s.hostnames.is_empty() {
                return Err(ConfigError::field(
                    "resolver::static::hostnames",
                    "no endpoints specified for the static resolver",
                ));
            }
            if let Some(i) = s.hostnames.iter().position(|h| h.trim().is_empty()) {
                return Err(ConfigError::field(
                    &format!("resolver::static::hostnames[{i}]"),
                    "empty hostname",
                ));
            }
        }
        if let Some(d) = &r.dns {
            if d.hostname.is_empty() {
                return Err(ConfigError::field(
                    "resolver::dns::hostname",
                    "no hostname specified to resolve the backends",
                ));
            }
            if d.port.parse::<u16>().is_err() {
                return Err(ConfigError::field(
                    "resolver::dns::port",
                    format!("invalid port {:?}: expected 0-65535", d.port),
                ));
            }
            if d.interval.is_zero() {
                return Err(ConfigError::field(
                    "resolver::dns::interval",
                    "must be greater than 0",
                ));
            }
            if d.timeout.is_zero() {
                return Err(ConfigError::field(
                    "resolver::dns::timeout",
                    "must be greater than 0",
                ));
            }
        }
        if !self.routing_key.is_empty() && RoutingKey::parse(&self.routing_key).is_none() {
            return Err(ConfigError::field(
                "routing_key",
                format!(
                    "unsupported routing_key: {:?} (traceID, service, resource, metric, streamID)",
                    self.routing_key
                ),
            ));
        }
        // The endpoint is the backend's; check the rest of the template with a stand-in.
        let mut otlp = self.protocol.otlp.clone();
        otlp.endpoint = "backend:4317".into();
        otlp.validate()
            .map_err(|e| ConfigError::new(format!("protocol::otlp::{}", e.path), e.message))
    }
}
