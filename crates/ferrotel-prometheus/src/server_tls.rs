//! `tls` of the pull exporter's and the remote-write receiver's servers (both serve on
//! ferrotel-otlp's `PlainHttpServer`).

use std::sync::Arc;

use ferrotel_runtime::config::{ConfigError, duration};
use serde::Deserialize;
use tokio_rustls::TlsAcceptor;

/// `tls` of the exporter's and the remote-write receiver's servers: the Go Collector's
/// configtls server settings (the OTLP receiver's keys), served with the same rustls setup.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerTls {
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    /// Clients must present a certificate signed by this CA (mTLS).
    pub client_ca_file: Option<String>,
    /// Accepted for compatibility; clients are verified against `client_ca_file`.
    pub ca_file: Option<String>,
    /// "1.2" (default) or "1.3".
    pub min_version: Option<String>,
    /// Accepted for compatibility (rustls serves up to 1.3).
    pub max_version: Option<String>,
    /// Accepted for compatibility; certificates are read at start.
    #[serde(deserialize_with = "duration::deserialize")]
    pub reload_interval: std::time::Duration,
}

impl ServerTls {
    /// Both files are required; the versions must be ones rustls serves.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.cert_file.as_deref().unwrap_or("").is_empty()
            || self.key_file.as_deref().unwrap_or("").is_empty()
        {
            return Err(ConfigError::field(
                "tls",
                "cert_file and key_file are both required to serve TLS",
            ));
        }
        for (field, v) in [
            ("min_version", &self.min_version),
            ("max_version", &self.max_version),
        ] {
            if let Some(v) = v
                && !matches!(v.as_str(), "" | "1.2" | "1.3")
            {
                return Err(ConfigError::field(
                    &format!("tls::{field}"),
                    format!("unsupported TLS version {v:?} (supported: \"1.2\", \"1.3\")"),
                ));
            }
        }
        Ok(())
    }

    /// The TLS acceptor (reads the certificate and key files); errors start with `tls: `.
    pub fn acceptor(&self) -> Result<TlsAcceptor, String> {
        self.server_config()
            .map(TlsAcceptor::from)
            .map_err(|e| format!("tls: {e}"))
    }

    /// The rustls server config (reads the certificate and key files).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, String> {
        let settings = ferrotel_otlp::server::TlsServerSettings {
            cert_file: self.cert_file.clone().unwrap_or_default().into(),
            key_file: self.key_file.clone().unwrap_or_default().into(),
            client_ca_file: self.client_ca_file.clone().map(Into::into),
            min_version: self.min_version.clone(),
        };
        ferrotel_otlp::server::server_config(&settings, &[b"h2", b"http/1.1"])
            .map_err(|e| e.to_string())
    }
}
