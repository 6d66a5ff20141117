//! Settings both the exporter and the receiver take — `brokers`, `client_id`, `auth` (SASL
//! PLAIN / SCRAM and TLS) — and their translation to librdkafka properties.

use ferrotel_runtime::config::ConfigError;
use rdkafka::ClientConfig;
use serde::Deserialize;

pub use ferrotel_runtime::config::client::ClientTlsConfig;

/// `auth`: the Go Collector's `configkafka.AuthenticationConfig` (SASL and TLS; Kerberos
/// and AWS MSK IAM are refused, not ignored).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub sasl: Option<SaslConfig>,
    pub tls: Option<ClientTlsConfig>,
    /// Deprecated in Go (`plain_text`: SASL PLAIN username and password).
    pub plain_text: Option<PlainText>,
    pub kerberos: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SaslConfig {
    pub username: String,
    pub password: String,
    /// `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub mechanism: String,
    /// SASL handshake version (0 or 1): librdkafka negotiates it; accepted for compatibility.
    pub version: Option<i64>,
    pub aws_msk: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlainText {
    pub username: String,
    pub password: String,
}

/// The connection settings common to both components (each config holds these keys itself:
/// serde's `flatten` cannot be combined with `deny_unknown_fields`).
#[derive(Debug, Clone)]
pub struct ClientSettings<'a> {
    pub brokers: &'a [String],
    pub client_id: &'a str,
    pub auth: &'a AuthConfig,
    /// Go's newer place for TLS (`tls` beside `auth`); either works, not both.
    pub tls: Option<&'a ClientTlsConfig>,
}

/// Go's default broker list.
pub fn default_brokers() -> Vec<String> {
    vec!["localhost:9092".into()]
}

impl ClientSettings<'_> {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.brokers.is_empty() || self.brokers.iter().any(|b| b.trim().is_empty()) {
            return Err(ConfigError::field(
                "brokers",
                "at least one broker address (host:port) is required, and none may be empty",
            ));
        }
        if let Some(b) = self.brokers.iter().find(|b| !b.contains(':')) {
            return Err(ConfigError::field(
                "brokers",
                format!("{b:?} must be host:port"),
            ));
        }
        if self.tls.is_some() && self.auth.tls.is_some() {
            return Err(ConfigError::field(
                "tls",
                "set TLS in `tls` or in `auth::tls`, not both",
            ));
        }
        if self.auth.kerberos.as_ref().is_some_and(|k| !k.is_null()) {
            return Err(ConfigError::field(
                "auth::kerberos",
                "Kerberos (GSSAPI) is not supported; use SASL PLAIN or SCRAM",
            ));
        }
        if let Some(s) = &self.auth.sasl {
            if s.aws_msk.as_ref().is_some_and(|k| !k.is_null()) {
                return Err(ConfigError::field(
                    "auth::sasl::aws_msk",
                    "AWS MSK IAM is not supported; use SASL PLAIN or SCRAM",
                ));
            }
            if !matches!(
                s.mechanism.as_str(),
                "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512"
            ) {
                return Err(ConfigError::field(
                    "auth::sasl::mechanism",
                    format!(
                        "{:?}: expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
                        s.mechanism
                    ),
                ));
            }
            if s.username.is_empty() {
                return Err(ConfigError::field(
                    "auth::sasl::username",
                    "SASL needs a username",
                ));
            }
        }
        if self.auth.sasl.is_some() && self.auth.plain_text.is_some() {
            return Err(ConfigError::field(
                "auth::plain_text",
                "set `auth::sasl` or the deprecated `auth::plain_text`, not both",
            ));
        }
        Ok(())
    }

    /// The librdkafka properties: bootstrap servers, client id, security protocol, SASL, TLS.
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", self.brokers.join(","))
            .set("client.id", self.client_id);
        let tls = self.tls.or(self.auth.tls.as_ref()).filter(|t| !t.insecure);
        let sasl = self
            .auth
            .sasl
            .as_ref()
            .map(|s| (s.mechanism.as_str(), &s.username, &s.password))
            .or(self
                .auth
                .plain_text
                .as_ref()
                .map(|p| ("PLAIN", &p.username, &p.password)));
        let protocol = match (sasl.is_some(), tls.is_some()) {
            (false, false) => "plaintext",
            (false, true) => "ssl",
            (true, false) => "sasl_plaintext",
            (true, true) => "sasl_ssl",
        };
        c.set("security.protocol", protocol);
        if let Some((mechanism, user, password)) = sasl {
            c.set("sasl.mechanism", mechanism)
                .set("sasl.username", user)
                .set("sasl.password", password);
        }
        if let Some(t) = tls {
            if let Some(ca) = &t.ca_file {
                c.set("ssl.ca.location", ca);
            }
            if let Some(cert) = &t.cert_file {
                c.set("ssl.certificate.location", cert);
            }
            if let Some(key) = &t.key_file {
                c.set("ssl.key.location", key);
            }
            if t.insecure_skip_verify {
                c.set("enable.ssl.certificate.verification", "false")
                    .set("ssl.endpoint.identification.algorithm", "none");
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The librdkafka properties of a config (JSON, which is YAML).
    fn props(
        brokers: &[&str],
        auth: &str,
        tls: Option<&str>,
    ) -> std::collections::BTreeMap<String, String> {
        let brokers: Vec<String> = brokers.iter().map(|b| b.to_string()).collect();
        let auth: AuthConfig = serde_json::from_str(auth).unwrap();
        let tls: Option<ClientTlsConfig> = tls.map(|t| serde_json::from_str(t).unwrap());
        let c = ClientSettings {
            brokers: &brokers,
            client_id: "otel-collector",
            auth: &auth,
            tls: tls.as_ref(),
        };
        c.validate().unwrap();
        c.client_config()
            .config_map()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn security_protocol_from_auth() {
        let p = props(&["k:9092"], "{}", None);
        assert_eq!(p["security.protocol"], "plaintext");
        assert_eq!(p["client.id"], "otel-collector");
        let p = props(
            &["a:1", "b:2"],
            r#"{"sasl":{"username":"u","password":"p","mechanism":"SCRAM-SHA-512"},"tls":{"ca_file":"/ca.pem"}}"#,
            None,
        );
        assert_eq!(p["bootstrap.servers"], "a:1,b:2");
        assert_eq!(p["security.protocol"], "sasl_ssl");
        assert_eq!(p["sasl.mechanism"], "SCRAM-SHA-512");
        assert_eq!(p["sasl.username"], "u");
        assert_eq!(p["ssl.ca.location"], "/ca.pem");
        let p = props(
            &["k:1"],
            r#"{"plain_text":{"username":"u","password":"p"}}"#,
            Some(r#"{"insecure":true}"#),
        );
        assert_eq!(p["security.protocol"], "sasl_plaintext");
        assert_eq!(p["sasl.mechanism"], "PLAIN");
        let p = props(&["k:1"], "{}", Some(r#"{"insecure_skip_verify":true}"#));
        assert_eq!(p["security.protocol"], "ssl");
        assert_eq!(p["enable.ssl.certificate.verification"], "false");
    }
}
