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
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use ferrotel_otlp::client::ClientAuth;
use ferrotel_otlp::server::{AuthData, ServerAuth};
use ferrotel_runtime::*;

use crate::extensions::bearertokenauth::ct_eq;
pub use config::{BasicAuthConfig, ClientCredentials};

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
        let client: Arc<dyn ClientAuth> = Arc::new(BasicAuthClient::from_config(&c)?);
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

/// The client authenticator: an `Authorization: Basic ...` header, fixed or built from
/// `username_file`/`password_file`, which are checked for changes at most every
/// [`FILE_CHECK_INTERVAL`] (one `stat` per file then, never a read unless they changed).
pub struct BasicAuthClient {
    header: RwLock<http::HeaderValue>,
    files: Option<CredentialFiles>,
}

/// How often credential files are checked for a rotation.
pub const FILE_CHECK_INTERVAL: Duration = Duration::from_secs(5);

struct CredentialFiles {
    username: String,
    password: String,
    username_file: String,
    password_file: String,
    check_interval: Duration,
    /// When the files were last checked, and their modification times then.
    state: Mutex<(Instant, [Option<SystemTime>; 2])>,
}

impl CredentialFiles {
    fn modified(&self) -> [Option<SystemTime>; 2] {
        let m = |p: &str| {
            (!p.is_empty())
                .then(|| std::fs::metadata(p).and_then(|m| m.modified()).ok())
                .flatten()
        };
        [m(&self.username_file), m(&self.password_file)]
    }

    /// The username and password, from the files where configured (surrounding whitespace,
    /// such as the final newline most editors and `kubectl create secret` leave, trimmed).
    fn read(&self) -> Result<(String, String), String> {
        let read = |path: &str, fixed: &str, what: &str| {
            if path.is_empty() {
                return Ok(fixed.to_string());
            }
            std::fs::read_to_string(path)
                .map(|s| s.trim().to_string())
                .map_err(|e| format!("client_auth::{what}_file: cannot read \"{path}\": {e}"))
        };
        Ok((
            read(&self.username_file, &self.username, "username")?,
            read(&self.password_file, &self.password, "password")?,
        ))
    }
}

fn basic_header(username: &str, password: &str) -> Result<http::HeaderValue, String> {
    if username.contains(':') {
        return Err("client_auth::username: must not contain ':'".into());
    }
    let creds = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    let mut header = http::HeaderValue::from_str(&format!("Basic {creds}"))
        .map_err(|e| format!("client_auth: {e}"))?;
    header.set_sensitive(true);
    Ok(header)
}

impl BasicAuthClient {
    pub fn new(username: &str, password: &str) -> Result<Self, ComponentError> {
        Ok(BasicAuthClient {
            header: RwLock::new(basic_header(username, password).map_err(ComponentError::new)?),
            files: None,
        })
    }

    /// A client whose credentials come (partly) from files; they must be readable now.
    pub fn from_config(c: &ClientCredentials) -> Result<Self, ComponentError> {
        if c.username_file.is_empty() && c.password_file.is_empty() {
            return Self::new(&c.username, &c.password);
        }
        let files = CredentialFiles {
            username: c.username.clone(),
            password: c.password.clone(),
            username_file: c.username_file.clone(),
            password_file: c.password_file.clone(),
            check_interval: FILE_CHECK_INTERVAL,
            state: Mutex::new((Instant::now(), [None, None])),
        };
        let modified = files.modified();
        let (user, pass) = files.read().map_err(ComponentError::new)?;
        files.state.lock().unwrap_or_else(|e| e.into_inner()).1 = modified;
        Ok(BasicAuthClient {
            header: RwLock::new(basic_header(&user, &pass).map_err(ComponentError::new)?),
            files: Some(files),
        })
    }

    #[cfg(test)]
    fn check_files_every(mut self, interval: Duration) -> Self {
        if let Some(f) = &mut self.files {
            f.check_interval = interval;
        }
        self
    }

    /// Re-reads the credential files if they changed since the last check (at most every
    /// [`FILE_CHECK_INTERVAL`]); a file that cannot be read keeps the last good credentials.
    fn refresh(&self, files: &CredentialFiles) {
        let mut state = files.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.0.elapsed() < files.check_interval {
            return;
        }
        state.0 = Instant::now();
        let modified = files.modified();
        if modified == state.1 {
            return;
        }
        match files.read().and_then(|(u, p)| basic_header(&u, &p)) {
            Ok(header) => {
                *self.header.write().unwrap_or_else(|e| e.into_inner()) = header;
                state.1 = modified;
            }
            Err(e) => tracing::warn!("basicauth: keeping the previous credentials: {e}"),
        }
    }
}

impl ClientAuth for BasicAuthClient {
    fn apply(&self, headers: &mut http::HeaderMap) -> Result<(), String> {
        if let Some(files) = &self.files {
            self.refresh(files);
        }
        let header = self
            .header
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        headers.insert(http::header::AUTHORIZATION, header);
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
