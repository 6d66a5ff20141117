//! Client-side settings shared by every exporter that connects out (OTLP, Prometheus remote
//! write): the Go Collector's `configtls.ClientConfig` and `configauth` keys.

use std::time::Duration;

use serde::Deserialize;

use super::{ComponentId, ConfigError, duration};

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

/// `compression_params` (confighttp.ClientConfig): algorithm settings next to `compression`.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct CompressionParams {
    pub level: i32,
}

impl CompressionParams {
    /// The level to compress at: `None` for 0, which Go reads as unset (the client's default).
    pub fn level(&self) -> Option<i32> {
        (self.level != 0).then_some(self.level)
    }

    /// Go's `configcompression` rule for `compression`'s levels: gzip, zlib and deflate take
    /// -1 (default), -2 (Huffman only), 0 and 1..=9; zstd any (libzstd clamps it); the other
    /// codings and none only 0.
    pub fn validate(&self, compression: &str) -> Result<(), ConfigError> {
        let ok = match compression {
            "gzip" | "zlib" | "deflate" => (-2..=9).contains(&self.level),
            "zstd" => true,
            _ => self.level == 0,
        };
        if ok {
            return Ok(());
        }
        let shown = if compression.is_empty() {
            "none"
        } else {
            compression
        };
        Err(ConfigError::field(
            "compression_params::level",
            format!(
                "unsupported level {} for compression {shown:?} (gzip, zlib, deflate: -2 to 9; zstd: any; the others take no level)",
                self.level
            ),
        ))
    }
}
