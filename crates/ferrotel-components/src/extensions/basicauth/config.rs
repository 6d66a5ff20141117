//! `extensions::basicauth` configuration, as the Go Collector's (contrib) basicauthextension.

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::ConfigError;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BasicAuthConfig {
    /// Server side: the accepted users.
    pub htpasswd: Option<Htpasswd>,
    /// Client side: the credentials to send.
    pub client_auth: Option<ClientCredentials>,
}

/// `htpasswd`: users as `name:password` lines, the password plain or bcrypt-hashed
/// (`$2a$`, `$2b$`, `$2y$`). Entries of `inline` win over `file` for the same user.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Htpasswd {
    pub file: String,
    pub inline: String,
}

#[derive(Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientCredentials {
    pub username: String,
    pub password: String,
    /// Read the username from this file instead (re-read when it changes: rotation without
    /// a restart).
    pub username_file: String,
    /// Read the password from this file instead (re-read when it changes).
    pub password_file: String,
}

// The password is a secret: never print it.
impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .field("username_file", &self.username_file)
            .field("password_file", &self.password_file)
            .finish()
    }
}

impl ComponentConfig for BasicAuthConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        match (&self.htpasswd, &self.client_auth) {
            (Some(_), Some(_)) => Err(ConfigError::field(
                "client_auth",
                "either htpasswd (server) or client_auth (client) can be configured, not both",
            )),
            (None, None) => Err(ConfigError::field(
                "htpasswd",
                "one of htpasswd (server) or client_auth (client) is required",
            )),
            (Some(h), None) if h.file.is_empty() && h.inline.is_empty() => Err(ConfigError::field(
                "htpasswd",
                "one of htpasswd::file or htpasswd::inline is required",
            )),
            (None, Some(c)) if c.username.contains(':') => Err(ConfigError::field(
                "client_auth::username",
                "must not contain ':'",
            )),
            (None, Some(c)) if !c.username.is_empty() && !c.username_file.is_empty() => {
                Err(ConfigError::field(
                    "client_auth::username_file",
                    "either username or username_file can be set, not both",
                ))
            }
            (None, Some(c)) if !c.password.is_empty() && !c.password_file.is_empty() => {
                Err(ConfigError::field(
                    "client_auth::password_file",
                    "either password or password_file can be set, not both",
                ))
            }
            _ => Ok(()),
        }
    }
}
