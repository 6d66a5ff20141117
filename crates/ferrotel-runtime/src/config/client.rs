//! Client-side settings shared by every exporter that connects out (OTLP, Prometheus remote
//! write): the Go Collector's `configtls.ClientConfig` and `configauth` keys.

use std::time::Duration;

use serde::Deserialize;

use super::{ComponentId, duration};

/// `tls` for clients (configtls.ClientConfig).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ClientTlsConfig {
    pub insecure: bool,
    pub insecure_skip_verify: bool,
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub server_name_override: Option<String>,
    pub min_version: Option<String>,
    pub max_version: Option<String>,
    #[serde(deserialize_with = "duration::deserialize")]
    pub reload_interval: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientAuthConfig {
    pub authenticator: ComponentId,
}
