//! `extensions::bearertokenauth` configuration, as the Go Collector's (contrib)
//! bearertokenauthextension.

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::ConfigError;
use serde::Deserialize;

#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BearerTokenAuthConfig {
    /// The header carrying the token (default `Authorization`).
    pub header: String,
    /// Prefix of the header value, followed by a space (default `Bearer`; empty sends the
    /// bare token).
    pub scheme: String,
    /// The token.
    #[serde(alias = "bearer_token")]
    pub token: String,
    /// Several accepted tokens (servers); a client sends the first.
    pub tokens: Vec<String>,
    /// A file holding the token(s), one per line; re-read when it changes. When set, `token`
    /// and `tokens` are ignored.
    pub filename: String,
}

impl Default for BearerTokenAuthConfig {
    fn default() -> Self {
        BearerTokenAuthConfig {
            header: "Authorization".into(),
            scheme: "Bearer".into(),
            token: String::new(),
            tokens: Vec::new(),
            filename: String::new(),
        }
    }
}

// Tokens are secrets: never print them (configs are logged with `{:?}` on errors).
impl std::fmt::Debug for BearerTokenAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerTokenAuthConfig")
            .field("header", &self.header)
            .field("scheme", &self.scheme)
            .field(
                "token",
                &if self.token.is_empty() {
                    ""
                } else {
                    "[REDACTED]"
                },
            )
            .field("tokens", &format_args!("[{} redacted]", self.tokens.len()))
            .field("filename", &self.filename)
            .finish()
    }
}

impl ComponentConfig for BearerTokenAuthConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if !self.token.is_empty() && !self.tokens.is_empty() {
            return Err(ConfigError::field(
                "tokens",
                "either token or tokens can be configured, not both",
            ));
        }
        // `filename` with `token` or `tokens` is valid, as in Go: the file's tokens are used and
        // the others ignored (the Go README and test data both document it).
        if self.token.is_empty() && self.tokens.is_empty() && self.filename.is_empty() {
            return Err(ConfigError::field(
                "token",
                "one of token, tokens or filename is required",
            ));
        }
        if self.tokens.iter().any(String::is_empty) {
            return Err(ConfigError::field("tokens", "tokens must not be empty"));
        }
        if http::HeaderName::from_bytes(self.header.as_bytes()).is_err() {
            return Err(ConfigError::field(
                "header",
                format!("{:?} is not a valid header name", self.header),
            ));
        }
        Ok(())
    }
}
