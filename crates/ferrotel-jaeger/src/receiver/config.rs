//! Configuration of the `jaeger` receiver: the Go receiver's keys. `protocols` lists what to
//! serve; a protocol given with no value (`thrift_compact:`) is served with its defaults,
//! which are the Go Collector's (localhost endpoints).

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, null_as_default, parse_endpoint};
use serde::Deserialize;

pub const DEFAULT_GRPC: &str = "localhost:14250";
pub const DEFAULT_THRIFT_HTTP: &str = "localhost:14268";
pub const DEFAULT_THRIFT_COMPACT: &str = "localhost:6831";
pub const DEFAULT_THRIFT_BINARY: &str = "localhost:6832";

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct JaegerReceiverConfig {
    #[serde(deserialize_with = "null_as_default")]
    pub protocols: Option<Protocols>,
    /// Removed from the Go receiver (now the `jaegerremotesampling` extension): refused with
    /// a message saying so rather than as an unknown key.
    pub remote_sampling: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Protocols {
    #[serde(deserialize_with = "null_as_default")]
    pub grpc: Option<GrpcConfig>,
    #[serde(deserialize_with = "null_as_default")]
    pub thrift_http: Option<HttpConfig>,
    #[serde(deserialize_with = "null_as_default")]
    pub thrift_binary: Option<UdpConfig>,
    #[serde(deserialize_with = "null_as_default")]
    pub thrift_compact: Option<UdpConfig>,
}

/// configgrpc's server settings, as far as they apply here.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcConfig {
    pub endpoint: String,
    pub transport: String,
    /// Largest request message, in MiB (configgrpc's default, 4).
    pub max_recv_msg_size_mib: usize,
    /// Server TLS is not supported yet: refused rather than ignored.
    pub tls: Option<serde_json::Value>,
    /// Accepted for compatibility (hyper's HTTP/2 defaults apply).
    pub max_concurrent_streams: Option<u32>,
    pub read_buffer_size: Option<usize>,
    pub write_buffer_size: Option<usize>,
    pub keepalive: Option<serde_json::Value>,
    pub include_metadata: bool,
    pub auth: Option<serde_json::Value>,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        GrpcConfig {
            endpoint: DEFAULT_GRPC.into(),
            transport: "tcp".into(),
            max_recv_msg_size_mib: 4,
            tls: None,
            max_concurrent_streams: None,
            read_buffer_size: None,
            write_buffer_size: None,
            keepalive: None,
            include_metadata: false,
            auth: None,
        }
    }
}

/// confighttp's server settings, as far as they apply here.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub endpoint: String,
    /// Largest body accepted (confighttp's default, 20 MiB).
    pub max_request_body_size: usize,
    pub tls: Option<serde_json::Value>,
    /// Accepted for compatibility.
    pub cors: Option<serde_json::Value>,
    pub include_metadata: bool,
    pub auth: Option<serde_json::Value>,
    pub read_header_timeout: Option<serde_json::Value>,
    pub read_timeout: Option<serde_json::Value>,
    pub write_timeout: Option<serde_json::Value>,
    pub idle_timeout: Option<serde_json::Value>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            endpoint: DEFAULT_THRIFT_HTTP.into(),
            max_request_body_size: 20 << 20,
            tls: None,
            cors: None,
            include_metadata: false,
            auth: None,
            read_header_timeout: None,
            read_timeout: None,
            write_timeout: None,
            idle_timeout: None,
        }
    }
}

/// A UDP agent port (`thrift_compact`, `thrift_binary`): packets are read into a queue of
/// `queue_size` and decoded by `workers` tasks; a packet over `max_packet_size` or arriving
/// when the queue is full is dropped and counted.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UdpConfig {
    /// Default: 6831 for compact, 6832 for binary (localhost).
    pub endpoint: Option<String>,
    pub queue_size: usize,
    pub max_packet_size: usize,
    pub workers: usize,
    /// The socket's receive buffer in bytes; 0 keeps the system's.
    pub socket_buffer_size: usize,
}

impl Default for UdpConfig {
    fn default() -> Self {
        UdpConfig {
            endpoint: None,
            queue_size: 1_000,
            max_packet_size: 65_000,
            workers: 10,
            socket_buffer_size: 0,
        }
    }
}

impl UdpConfig {
    pub fn endpoint_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.endpoint.as_deref().unwrap_or(default)
    }
}

fn tls_refused(tls: &Option<serde_json::Value>, path: &str) -> Result<(), ConfigError> {
    if tls.as_ref().is_some_and(|t| !t.is_null()) {
        return Err(ConfigError::field(
            path,
            "TLS on the jaeger receiver is not supported yet; terminate TLS in a proxy",
        ));
    }
    Ok(())
}

/// Go's wording: "invalid port number for the <what> endpoint: …".
fn check_endpoint(endpoint: &str, path: &str, what: &str) -> Result<(), ConfigError> {
    parse_endpoint(endpoint).map(|_| ()).map_err(|e| {
        ConfigError::field(
            path,
            format!("invalid port number for the {what} endpoint: {e}"),
        )
    })
}

fn check_udp(u: &UdpConfig, path: &str, default: &str, what: &str) -> Result<(), ConfigError> {
    check_endpoint(u.endpoint_or(default), &format!("{path}::endpoint"), what)?;
    for (key, v) in [
        ("queue_size", u.queue_size),
        ("max_packet_size", u.max_packet_size),
        ("workers", u.workers),
    ] {
        if v == 0 {
            return Err(ConfigError::field(
                &format!("{path}::{key}"),
                "must be positive",
            ));
        }
    }
    Ok(())
}

impl ComponentConfig for JaegerReceiverConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.remote_sampling.as_ref().is_some_and(|r| !r.is_null()) {
            return Err(ConfigError::field(
                "remote_sampling",
                "remote sampling moved out of the jaeger receiver (the Go Collector's jaegerremotesampling extension); remove it here",
            ));
        }
        let Some(p) = &self.protocols else {
            return Err(ConfigError::field(
                "protocols",
                "empty \"protocols\" config for Jaeger receiver",
            ));
        };
        if p.grpc.is_none()
            && p.thrift_http.is_none()
            && p.thrift_binary.is_none()
            && p.thrift_compact.is_none()
        {
            return Err(ConfigError::field(
                "protocols",
                "must specify at least one protocol when using the Jaeger receiver",
            ));
        }
        if let Some(g) = &p.grpc {
            check_endpoint(&g.endpoint, "protocols::grpc::endpoint", "gRPC")?;
            if g.transport != "tcp" {
                return Err(ConfigError::field(
                    "protocols::grpc::transport",
                    format!("transport {:?} is not supported; use tcp", g.transport),
                ));
            }
            if g.max_recv_msg_size_mib == 0 {
                return Err(ConfigError::field(
                    "protocols::grpc::max_recv_msg_size_mib",
                    "must be at least 1",
                ));
            }
            tls_refused(&g.tls, "protocols::grpc::tls")?;
            if g.auth.as_ref().is_some_and(|a| !a.is_null()) {
                return Err(ConfigError::field(
                    "protocols::grpc::auth",
                    "authentication on the jaeger receiver is not supported yet",
                ));
            }
        }
        if let Some(h) = &p.thrift_http {
            check_endpoint(
                &h.endpoint,
                "protocols::thrift_http::endpoint",
                "Thrift HTTP",
            )?;
            if h.max_request_body_size == 0 {
                return Err(ConfigError::field(
                    "protocols::thrift_http::max_request_body_size",
                    "must be positive",
                ));
            }
            tls_refused(&h.tls, "protocols::thrift_http::tls")?;
            if h.auth.as_ref().is_some_and(|a| !a.is_null()) {
                return Err(ConfigError::field(
                    "protocols::thrift_http::auth",
                    "authentication on the jaeger receiver is not supported yet",
                ));
            }
        }
        if let Some(u) = &p.thrift_binary {
            check_udp(
                u,
                "protocols::thrift_binary",
                DEFAULT_THRIFT_BINARY,
                "Thrift UDP Binary",
            )?;
        }
        if let Some(u) = &p.thrift_compact {
            check_udp(
                u,
                "protocols::thrift_compact",
                DEFAULT_THRIFT_COMPACT,
                "Thrift UDP Compact",
            )?;
        }
        Ok(())
    }

    fn listen_addresses(&self) -> Vec<String> {
        let Some(p) = &self.protocols else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(g) = &p.grpc {
            out.push(g.endpoint.clone());
        }
        if let Some(h) = &p.thrift_http {
            out.push(h.endpoint.clone());
        }
        // UDP ports do not clash with TCP ones; listed (marked) for clashes between receivers.
        if let Some(u) = &p.thrift_binary {
            out.push(format!("udp:{}", u.endpoint_or(DEFAULT_THRIFT_BINARY)));
        }
        if let Some(u) = &p.thrift_compact {
            out.push(format!("udp:{}", u.endpoint_or(DEFAULT_THRIFT_COMPACT)));
        }
        // Port 0 (any free port, what tests use) never clashes.
        out.retain(|e| !e.ends_with(":0"));
        out
    }
}
