//! `receivers::otlp` configuration, key for key as the Go Collector's otlpreceiver.

use std::time::Duration;

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{
    ComponentId, ConfigError, duration, null_as_default, parse_endpoint,
};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpReceiverConfig {
    pub protocols: Protocols,
}

/// At least one protocol must be present; `grpc:` with no value enables it with defaults.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Protocols {
    #[serde(deserialize_with = "null_as_default")]
    pub grpc: Option<GrpcConfig>,
    #[serde(deserialize_with = "null_as_default")]
    pub http: Option<HttpConfig>,
}

/// `tls` for servers (configtls.ServerConfig).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ServerTls {
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub client_ca_file: Option<String>,
    /// Accepted for compatibility; ferrotel verifies against `client_ca_file`.
    pub ca_file: Option<String>,
    pub min_version: Option<String>,
    pub max_version: Option<String>,
    #[serde(deserialize_with = "duration::deserialize")]
    pub reload_interval: Duration,
}

/// `auth` (configauth): the id of an authenticator extension.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub authenticator: ComponentId,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct KeepaliveServerParameters {
    #[serde(deserialize_with = "opt_duration")]
    pub max_connection_idle: Option<Duration>,
    #[serde(deserialize_with = "opt_duration")]
    pub max_connection_age: Option<Duration>,
    #[serde(deserialize_with = "opt_duration")]
    pub max_connection_age_grace: Option<Duration>,
    #[serde(deserialize_with = "opt_duration")]
    pub time: Option<Duration>,
    #[serde(deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct KeepaliveEnforcement {
    #[serde(deserialize_with = "opt_duration")]
    pub min_time: Option<Duration>,
    pub permit_without_stream: bool,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Keepalive {
    pub server_parameters: KeepaliveServerParameters,
    pub enforcement_policy: KeepaliveEnforcement,
}

fn opt_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcConfig {
    pub endpoint: String,
    pub transport: String,
    pub max_recv_msg_size_mib: u64,
    pub max_concurrent_streams: u32,
    pub read_buffer_size: u64,
    pub write_buffer_size: u64,
    pub include_metadata: bool,
    pub keepalive: Keepalive,
    pub tls: Option<ServerTls>,
    pub auth: Option<AuthConfig>,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        GrpcConfig {
            endpoint: "localhost:4317".into(),
            transport: "tcp".into(),
            max_recv_msg_size_mib: 4,
            max_concurrent_streams: 0,
            read_buffer_size: 512 * 1024,
            write_buffer_size: 0,
            include_metadata: false,
            keepalive: Keepalive::default(),
            tls: None,
            auth: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    pub allowed_origins: Vec<String>,
    pub allowed_headers: Vec<String>,
    /// Seconds browsers may cache the preflight answer.
    pub max_age: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub endpoint: String,
    /// `tcp` (endpoint is host:port) or `unix` (endpoint is a socket path).
    pub transport: String,
    #[serde(deserialize_with = "url_path")]
    pub traces_url_path: String,
    #[serde(deserialize_with = "url_path")]
    pub metrics_url_path: String,
    #[serde(deserialize_with = "url_path")]
    pub logs_url_path: String,
    #[serde(deserialize_with = "url_path")]
    pub profiles_url_path: String,
    /// Bytes, checked after decompression.
    pub max_request_body_size: u64,
    pub include_metadata: bool,
    pub cors: Option<CorsConfig>,
    pub tls: Option<ServerTls>,
    pub auth: Option<AuthConfig>,
    #[serde(deserialize_with = "duration::deserialize")]
    pub read_header_timeout: Duration,
    #[serde(deserialize_with = "duration::deserialize")]
    pub read_timeout: Duration,
    #[serde(deserialize_with = "duration::deserialize")]
    pub write_timeout: Duration,
    #[serde(deserialize_with = "duration::deserialize")]
    pub idle_timeout: Duration,
    pub compression_algorithms: Vec<String>,
    pub response_headers: std::collections::BTreeMap<String, String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            endpoint: "localhost:4318".into(),
            transport: "tcp".into(),
            traces_url_path: "/v1/traces".into(),
            metrics_url_path: "/v1/metrics".into(),
            logs_url_path: "/v1/logs".into(),
            profiles_url_path: "/v1development/profiles".into(),
            max_request_body_size: 20 * 1024 * 1024,
            include_metadata: false,
            cors: None,
            tls: None,
            auth: None,
            read_header_timeout: Duration::from_secs(60),
            read_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            compression_algorithms: Vec::new(),
            response_headers: Default::default(),
        }
    }
}

fn check_tls(tls: &Option<ServerTls>, at: &str) -> Result<(), ConfigError> {
    if let Some(t) = tls
        && (t.cert_file.is_none() || t.key_file.is_none())
    {
        return Err(ConfigError::field(
            at,
            "cert_file and key_file are both required for a TLS server",
        ));
    }
    Ok(())
}

impl ComponentConfig for OtlpReceiverConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let p = &self.protocols;
        if p.grpc.is_none() && p.http.is_none() {
            return Err(ConfigError::field(
                "protocols",
                "must specify at least one protocol (grpc or http)",
            ));
        }
        if let Some(g) = &p.grpc {
            check_endpoint(&g.transport, &g.endpoint, "protocols::grpc")?;
            if g.max_recv_msg_size_mib == 0 {
                return Err(ConfigError::field(
                    "protocols::grpc::max_recv_msg_size_mib",
                    "must be at least 1",
                ));
            }
            check_tls(&g.tls, "protocols::grpc::tls")?;
        }
        if let Some(h) = &p.http {
            check_endpoint(&h.transport, &h.endpoint, "protocols::http")?;
            for (key, path) in [
                ("traces_url_path", &h.traces_url_path),
                ("metrics_url_path", &h.metrics_url_path),
                ("logs_url_path", &h.logs_url_path),
                ("profiles_url_path", &h.profiles_url_path),
            ] {
                if !path.starts_with('/') {
                    return Err(ConfigError::field(
                        &format!("protocols::http::{key}"),
                        format!("must start with '/', got {path:?}"),
                    ));
                }
            }
            check_tls(&h.tls, "protocols::http::tls")?;
        }
        Ok(())
    }

    fn listen_addresses(&self) -> Vec<String> {
        let p = &self.protocols;
        let grpc = p.grpc.iter().map(|g| (&g.transport, &g.endpoint));
        let http = p.http.iter().map(|h| (&h.transport, &h.endpoint));
        grpc.chain(http)
            .filter(|(transport, _)| *transport == "tcp")
            .map(|(_, endpoint)| endpoint.clone())
            .collect()
    }
}

/// confignet's `transport`: `tcp` with a host:port endpoint, or `unix` with a socket path.
fn check_endpoint(transport: &str, endpoint: &str, at: &str) -> Result<(), ConfigError> {
    match transport {
        "tcp" => parse_endpoint(endpoint)
            .map(|_| ())
            .map_err(|e| ConfigError::field(&format!("{at}::endpoint"), e)),
        "unix" if endpoint.is_empty() => Err(ConfigError::field(
            &format!("{at}::endpoint"),
            "a socket path is required with transport unix",
        )),
        "unix" => Ok(()),
        other => Err(ConfigError::field(
            &format!("{at}::transport"),
            format!("unsupported transport {other:?} (ferrotel supports tcp and unix)"),
        )),
    }
}

/// The TCP address and, with `transport: unix`, the socket path a server listens on.
pub(crate) fn listen_on(
    transport: &str,
    endpoint: &str,
) -> Result<(std::net::SocketAddr, Option<std::path::PathBuf>), String> {
    if transport == "unix" {
        return Ok((
            std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
            Some(endpoint.into()),
        ));
    }
    parse_endpoint(endpoint).map(|a| (a, None))
}

/// A URL path as Go's receiver sanitizes it: `traces` is `/traces`.
fn url_path<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let path = String::deserialize(d)?;
    Ok(if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    })
}

#[cfg(test)]
mod tests {
    use ferrotel_runtime::ComponentConfig;
    use ferrotel_runtime::config::{decode, node::parse_yaml};

    use super::OtlpReceiverConfig;

    #[test]
    fn url_paths_get_a_leading_slash_as_in_go() {
        let yaml = "protocols: {http: {traces_url_path: traces, metrics_url_path: /v2/metrics, \
                    logs_url_path: log/ingest}}";
        let c: OtlpReceiverConfig = decode(&parse_yaml(yaml, "test").unwrap()).unwrap();
        c.validate().unwrap();
        let h = c.protocols.http.unwrap();
        assert_eq!(h.traces_url_path, "/traces");
        assert_eq!(h.metrics_url_path, "/v2/metrics");
        assert_eq!(h.logs_url_path, "/log/ingest");
        assert_eq!(h.profiles_url_path, "/v1development/profiles");
    }
}
