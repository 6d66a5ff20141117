//! `bearertokenauth` extension (the Go Collector's contrib bearertokenauthextension).
//!
//! As a server authenticator (`receivers::otlp::protocols::*::auth::authenticator`) it accepts
//! a request whose `header` (default `Authorization`) is `<scheme> <token>` for one of the
//! configured tokens; as a client authenticator (`exporters::*::auth::authenticator`) it adds
//! that header. Tokens come from `token`, `tokens` or `filename` (one per line, re-read when
//! the file changes).
//!
//! Comparison is constant-time in the token's content, and refusals never echo what the client
//! sent: a probing client learns only which part was wrong (header missing, scheme, token).

pub mod config;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ferrotel_otlp::client::ClientAuth;
use ferrotel_otlp::server::{AuthData, ServerAuth};
use ferrotel_runtime::*;

pub use config::BearerTokenAuthConfig;

/// How often, at most, a token file is checked for changes.
const FILE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Factory of the `bearertokenauth` extension.
pub struct BearerTokenAuthFactory;

impl ExtensionFactory for BearerTokenAuthFactory {
    type Config = BearerTokenAuthConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "bearertokenauth",
            "Bearer token authentication for OTLP servers and clients",
        )
        .stability(Stability::Beta)
    }

    fn create(
        &self,
        _ctx: CreateContext,
        config: Self::Config,
    ) -> Result<Arc<dyn Extension>, ComponentError> {
        Ok(BearerTokenAuth::new(config)?.into_extension())
    }
}

/// Tokens loaded from `filename`, with what identifies the version read.
struct FileTokens {
    path: PathBuf,
    tokens: Vec<Vec<u8>>,
    modified: FileVersion,
    checked: Instant,
}

/// The extension; also its own [`ServerAuth`] and [`ClientAuth`].
pub struct BearerTokenAuth {
    header: http::HeaderName,
    /// `"<scheme> "`, or empty for a bare token.
    prefix: String,
    fixed: Vec<Vec<u8>>,
    file: Option<Mutex<FileTokens>>,
}

/// What identifies one version of the token file: modification time and length.
type FileVersion = Option<(SystemTime, u64)>;

fn read_tokens(path: &PathBuf) -> std::io::Result<(Vec<Vec<u8>>, FileVersion)> {
    let meta = std::fs::metadata(path)?;
    let text = std::fs::read_to_string(path)?;
    let tokens = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.as_bytes().to_vec())
        .collect();
    Ok((tokens, meta.modified().ok().map(|m| (m, meta.len()))))
}

/// Equality whose time depends only on the lengths, not on where the bytes differ.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl BearerTokenAuth {
    pub fn new(config: BearerTokenAuthConfig) -> Result<Self, ComponentError> {
        let header = http::HeaderName::from_bytes(config.header.as_bytes())
            .map_err(|e| ComponentError::new(format!("header {:?}: {e}", config.header)))?;
        let prefix = if config.scheme.is_empty() {
            String::new()
        } else {
            format!("{} ", config.scheme)
        };
        let mut fixed: Vec<Vec<u8>> = config
            .tokens
            .iter()
            .map(|t| t.as_bytes().to_vec())
            .collect();
        if !config.token.is_empty() {
            fixed.push(config.token.as_bytes().to_vec());
        }
        let file = if config.filename.is_empty() {
            None
        } else {
            let path = PathBuf::from(&config.filename);
            let (tokens, modified) = read_tokens(&path).map_err(|e| {
                ComponentError::new(format!("cannot read token file {:?}: {e}", config.filename))
            })?;
            if tokens.is_empty() {
                return Err(ComponentError::new(format!(
                    "token file {:?} holds no token",
                    config.filename
                )));
            }
            Some(Mutex::new(FileTokens {
                path,
                tokens,
                modified,
                checked: Instant::now(),
            }))
        };
        Ok(BearerTokenAuth {
            header,
            prefix,
            fixed,
            file,
        })
    }

    /// The accepted tokens now, re-reading the token file if it changed.
    fn tokens(&self) -> Vec<Vec<u8>> {
        let Some(file) = &self.file else {
            return self.fixed.clone();
        };
        let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
        if f.checked.elapsed() >= FILE_CHECK_INTERVAL {
            f.checked = Instant::now();
            let now = std::fs::metadata(&f.path)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())));
            if now != f.modified {
                match read_tokens(&f.path) {
                    Ok((tokens, modified)) if !tokens.is_empty() => {
                        tracing::info!(file = %f.path.display(), "bearertokenauth: token file changed; reloaded");
                        f.tokens = tokens;
                        f.modified = modified;
                    }
                    // Keep the tokens we have rather than locking every client out.
                    Ok(_) => {
                        tracing::warn!(file = %f.path.display(), "bearertokenauth: token file is empty; keeping the previous tokens")
                    }
                    Err(e) => {
                        tracing::warn!(file = %f.path.display(), error = %e, "bearertokenauth: cannot re-read token file; keeping the previous tokens")
                    }
                }
            }
        }
        f.tokens.clone()
    }
}

impl ServerAuth for BearerTokenAuth {
    fn authenticate(&self, headers: &http::HeaderMap) -> Result<AuthData, String> {
        let Some(value) = headers.get(&self.header) else {
            return Err(format!("missing or empty {} header", self.header));
        };
        let value = value.as_bytes();
        if value.is_empty() {
            return Err(format!("missing or empty {} header", self.header));
        }
        let Some(token) = value.strip_prefix(self.prefix.as_bytes()) else {
            return Err(format!(
                "the {} header does not use the {:?} scheme",
                self.header,
                self.prefix.trim_end()
            ));
        };
        // Compare with every token, without stopping at a match: the time taken does not tell
        // which token (or how many) matched.
        let matched = self.tokens().iter().fold(false, |m, t| ct_eq(t, token) | m);
        if matched {
            Ok(AuthData {
                subject: "bearer-token".into(),
                attributes: Vec::new(),
            })
        } else {
            Err("the bearer token is not valid".into())
        }
    }
}

impl ClientAuth for BearerTokenAuth {
    fn apply(&self, headers: &mut http::HeaderMap) -> Result<(), String> {
        let tokens = self.tokens();
        let Some(token) = tokens.first() else {
            return Err("bearertokenauth has no token".into());
        };
        let mut v = self.prefix.as_bytes().to_vec();
        v.extend_from_slice(token);
        let mut value = http::HeaderValue::from_bytes(&v)
            .map_err(|_| "the bearer token is not a valid header value".to_string())?;
        value.set_sensitive(true);
        headers.insert(self.header.clone(), value);
        Ok(())
    }
}

struct Ext(Arc<BearerTokenAuth>);

impl Lifecycle for Ext {}

impl Extension for Ext {
    fn capabilities(&self) -> Vec<Box<dyn std::any::Any + Send + Sync>> {
        let server: Arc<dyn ServerAuth> = self.0.clone();
        let client: Arc<dyn ClientAuth> = self.0.clone();
        vec![Box::new(server), Box::new(client)]
    }
}

impl BearerTokenAuth {
    /// As an extension offering both authenticators.
    fn into_extension(self) -> Arc<dyn Extension> {
        Arc::new(Ext(Arc::new(self)))
    }
}

#[cfg(test)]
mod tests;
