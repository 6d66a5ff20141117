//! `basicauth` extension (the Go Collector's contrib basicauthextension): HTTP Basic
//! authentication for OTLP servers (`htpasswd`) or clients (`client_auth`).
//!
//! Passwords in `htpasswd` may be plain or bcrypt hashes (`htpasswd -B`). Apache's other
//! schemes (`$apr1$` MD5, `{SHA}`, `{SSHA}`) are refused at startup with the line that uses
//! them rather than silently never matching. Verifying a bcrypt hash costs what its cost
//! factor says (tens of milliseconds at the usual 10) on every request, as in the Go
//! Collector: prefer a low cost factor or bearer tokens for high request rates.

pub mod config;

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use ferrotel_otlp::client::ClientAuth;
use ferrotel_otlp::server::{AuthData, ServerAuth};
use ferrotel_runtime::*;

use crate::extensions::bearertokenauth::ct_eq;
pub use config::BasicAuthConfig;

/// Factory of the `basicauth` extension.
pub struct BasicAuthFactory;

impl ExtensionFactory for BasicAuthFactory {
    type Config = BasicAuthConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "basicauth",
            "HTTP Basic authentication for OTLP servers (htpasswd) and clients",
        )
        .stability(Stability::Beta)
    }

    fn create(
        &self,
        _ctx: CreateContext,
        config: Self::Config,
    ) -> Result<Arc<dyn Extension>, ComponentError> {
        if let Some(h) = &config.htpasswd {
            let server: Arc<dyn ServerAuth> = Arc::new(BasicAuthServer::new(h)?);
            return Ok(Arc::new(Ext(Capability::Server(server))));
        }
        let c = config.client_auth.unwrap_or_default();
        let client: Arc<dyn ClientAuth> = Arc::new(BasicAuthClient::new(&c.username, &c.password)?);
        Ok(Arc::new(Ext(Capability::Client(client))))
    }
}

/// A stored password.
#[derive(Clone)]
enum Secret {
    Plain(Vec<u8>),
    Bcrypt(String),
}

/// The server authenticator: users from the htpasswd file and inline content.
pub struct BasicAuthServer {
    users: HashMap<String, Secret>,
}

/// Parses htpasswd content into `users`, later entries replacing earlier ones.
fn parse_htpasswd(
    text: &str,
    source: &str,
    users: &mut HashMap<String, Secret>,
) -> Result<(), ComponentError> {
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((user, pass)) = line.split_once(':') else {
            return Err(ComponentError::new(format!(
                "htpasswd {source} line {}: expected user:password",
                n + 1
            )));
        };
        let secret = if ["$2a$", "$2b$", "$2y$", "$2x$"]
            .iter()
            .any(|p| pass.starts_with(p))
        {
            Secret::Bcrypt(pass.to_string())
        } else if pass.starts_with("$apr1$")
            || pass.starts_with("{SHA}")
            || pass.starts_with("{SSHA}")
            || pass.starts_with("$1$")
            || pass.starts_with("$5$")
            || pass.starts_with("$6$")
        {
            return Err(ComponentError::new(format!(
                "htpasswd {source} line {} (user {user:?}): unsupported password hash; use bcrypt (htpasswd -B) or a plain password",
                n + 1
            )));
        } else {
            Secret::Plain(pass.as_bytes().to_vec())
        };
        users.insert(user.to_string(), secret);
    }
    Ok(())
}

impl BasicAuthServer {
    pub fn new(h: &config::Htpasswd) -> Result<Self, ComponentError> {
        let mut users = HashMap::new();
        if !h.file.is_empty() {
            let text = std::fs::read_to_string(&h.file).map_err(|e| {
                ComponentError::new(format!("cannot read htpasswd file {:?}: {e}", h.file))
            })?;
            parse_htpasswd(&text, &format!("file {:?}", h.file), &mut users)?;
        }
        // Inline entries take precedence, as in the Go Collector.
        parse_htpasswd(&h.inline, "inline", &mut users)?;
        if users.is_empty() {
            return Err(ComponentError::new("htpasswd defines no user"));
        }
        Ok(BasicAuthServer { users })
    }
}

impl ServerAuth for BasicAuthServer {
    fn authenticate(&self, headers: &http::HeaderMap) -> Result<AuthData, String> {
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Err("missing Authorization header".into());
        };
        let value = value.as_bytes();
        let raw = match value.split_at_checked(6) {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case(b"basic ") => rest,
            _ => return Err("the Authorization header does not use the Basic scheme".into()),
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|_| "the Basic credentials are not valid base64".to_string())?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| "the Basic credentials are not valid UTF-8".to_string())?;
        let Some((user, pass)) = decoded.split_once(':') else {
            return Err("the Basic credentials are not user:password".into());
        };
        // One message for an unknown user and a wrong password: which one it was is not the
        // client's business.
        let invalid = || "invalid username or password".to_string();
        let ok = match self.users.get(user) {
            Some(Secret::Plain(p)) => ct_eq(p, pass.as_bytes()),
            Some(Secret::Bcrypt(h)) => bcrypt::verify(pass, h).unwrap_or(false),
            None => false,
        };
        if !ok {
            return Err(invalid());
        }
        Ok(AuthData {
            subject: user.to_string(),
            attributes: vec![
                ("username".into(), user.to_string()),
                ("raw".into(), String::from_utf8_lossy(raw).into_owned()),
            ],
        })
    }
}

/// The client authenticator: a fixed `Authorization: Basic ...` header.
pub struct BasicAuthClient {
    header: http::HeaderValue,
}

impl BasicAuthClient {
    pub fn new(username: &str, password: &str) -> Result<Self, ComponentError> {
        let creds =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        let mut header = http::HeaderValue::from_str(&format!("Basic {creds}"))
            .map_err(|e| ComponentError::new(format!("client_auth: {e}")))?;
        header.set_sensitive(true);
        Ok(BasicAuthClient { header })
    }
}

impl ClientAuth for BasicAuthClient {
    fn apply(&self, headers: &mut http::HeaderMap) -> Result<(), String> {
        headers.insert(http::header::AUTHORIZATION, self.header.clone());
        Ok(())
    }
}

enum Capability {
    Server(Arc<dyn ServerAuth>),
    Client(Arc<dyn ClientAuth>),
}

/// One extension is a server or a client authenticator, never both (as in the Go Collector).
struct Ext(Capability);

impl Lifecycle for Ext {}

impl Extension for Ext {
    fn capabilities(&self) -> Vec<Box<dyn std::any::Any + Send + Sync>> {
        match &self.0 {
            Capability::Server(s) => vec![Box::new(s.clone())],
            Capability::Client(c) => vec![Box::new(c.clone())],
        }
    }
}

#[cfg(test)]
mod tests;
