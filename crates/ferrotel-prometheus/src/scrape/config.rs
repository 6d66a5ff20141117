//! The `prometheus` receiver's config: the Go Collector's shape, an embedded Prometheus
//! `config:` with `global` and `scrape_configs`, plus `trim_metric_suffixes`.
//!
//! `$` in relabel replacements must be written `$$` in the collector's YAML (the Go Collector
//! documents this): the config loader's expansion turns `$$` into `$` before this config is
//! decoded, so `replacement: $$1` arrives here as `$1`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::ConfigError;
use serde::{Deserialize, Deserializer};

use super::relabel::RelabelConfig;

/// `receivers::prometheus`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusReceiverConfig {
    /// The embedded Prometheus configuration.
    #[serde(default)]
    pub config: PromConfig,
    /// Strip `_total`, unit and type suffixes from metric names (off: names stay as exposed).
    #[serde(default)]
    pub trim_metric_suffixes: bool,
}

/// The Prometheus configuration subset a scraper needs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromConfig {
    #[serde(default)]
    pub global: GlobalConfig,
    #[serde(default)]
    pub scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    pub scrape_interval: Option<PromDuration>,
    pub scrape_timeout: Option<PromDuration>,
    /// Accepted because Prometheus configs pasted in often carry it; rules are not evaluated.
    pub evaluation_interval: Option<PromDuration>,
}

/// Prometheus's defaults (config.DefaultGlobalConfig).
pub const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bodies above this fail the scrape when `body_size_limit` is not set: Prometheus's default is
/// unlimited, but a collector must keep memory bounded against a runaway target.
pub const DEFAULT_BODY_SIZE_LIMIT: u64 = 64 << 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    pub job_name: String,
    pub scrape_interval: Option<PromDuration>,
    pub scrape_timeout: Option<PromDuration>,
    #[serde(default = "default_metrics_path")]
    pub metrics_path: String,
    #[serde(default = "default_scheme")]
    pub scheme: String,
    #[serde(default)]
    pub params: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
    #[serde(default)]
    pub file_sd_configs: Vec<FileSdConfig>,
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    #[serde(default)]
    pub tls_config: TlsConfig,
    #[serde(default)]
    pub honor_labels: bool,
    #[serde(default = "yes")]
    pub honor_timestamps: bool,
    /// 0: no limit. More samples after metric relabeling fail the scrape.
    #[serde(default)]
    pub sample_limit: u64,
    /// `10MB`, `512KiB`, a number of bytes; 0 means ferrotel's default cap.
    pub body_size_limit: Option<ByteSize>,
    #[serde(default)]
    pub relabel_configs: Vec<RelabelConfig>,
    #[serde(default)]
    pub metric_relabel_configs: Vec<RelabelConfig>,
}

fn default_metrics_path() -> String {
    "/metrics".into()
}
fn default_scheme() -> String {
    "http".into()
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    pub files: Vec<String>,
    pub refresh_interval: Option<PromDuration>,
}

/// Prometheus's default file_sd refresh.
pub const DEFAULT_FILE_SD_REFRESH: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    pub password: Option<String>,
    pub password_file: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    #[serde(rename = "type", default = "bearer")]
    pub kind: String,
    pub credentials: Option<String>,
    pub credentials_file: Option<String>,
}

fn bearer() -> String {
    "Bearer".into()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub server_name: Option<String>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// `TLS12` / `TLS13` as Prometheus writes them.
    pub min_version: Option<String>,
}

/// A Prometheus duration: `1h30m`, `15s`, `100ms`, `1d`, `1w`, `1y` (no fractions, units in
/// decreasing order, as Prometheus's model.ParseDuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromDuration(pub Duration);

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_prom_duration(&s)
            .map(PromDuration)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses a Prometheus duration.
pub fn parse_prom_duration(s: &str) -> Result<Duration, String> {
    const UNITS: [(&str, u64); 8] = [
        ("y", 365 * 24 * 3600 * 1000),
        ("w", 7 * 24 * 3600 * 1000),
        ("d", 24 * 3600 * 1000),
        ("h", 3600 * 1000),
        ("m", 60 * 1000),
        ("s", 1000),
        ("ms", 1),
        ("", 0),
    ];
    let bad = || format!("invalid duration {s:?} (expected e.g. 15s, 1m30s, 100ms, 1d)");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut rest = s;
    let mut total: u64 = 0;
    let mut last_unit = 0usize; // index into UNITS: units must decrease
    let mut first = true;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let idx = UNITS[..7]
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(bad)?;
        if !first && idx <= last_unit {
            return Err(bad());
        }
        first = false;
        last_unit = idx;
        total = n
            .checked_mul(UNITS[idx].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration {s:?} is too large"))?;
    }
    Ok(Duration::from_millis(total))
}

/// A byte size as Prometheus's `body_size_limit` takes it (`10MB`, `1GiB`, `512`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => parse_byte_size(&s)
                .map(ByteSize)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Parses `10MB` / `10MiB` / `1024` (Prometheus's units are base 1024 for both spellings).
pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let n: u64 = t[..digits]
        .parse()
        .map_err(|_| format!("invalid size {s:?} (expected e.g. 10MB, 512KiB)"))?;
    let mult: u64 = match t[digits..].trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" | "KIB" => 1 << 10,
        "MB" | "MIB" => 1 << 20,
        "GB" | "GIB" => 1 << 30,
        "TB" | "TIB" => 1 << 40,
        _ => return Err(format!("invalid size {s:?} (expected e.g. 10MB, 512KiB)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

impl ScrapeConfig {
    /// The effective interval and timeout (job's, else global's, else Prometheus's defaults).
    pub fn interval_timeout(&self, global: &GlobalConfig) -> (Duration, Duration) {
        let interval = self
            .scrape_interval
            .or(global.scrape_interval)
            .map_or(DEFAULT_SCRAPE_INTERVAL, |d| d.0);
        let timeout = match self.scrape_timeout.or(global.scrape_timeout) {
            Some(t) => t.0,
            // Prometheus: the global default timeout, but never above the interval.
            None => DEFAULT_SCRAPE_TIMEOUT.min(interval),
        };
        (interval, timeout)
    }
}

impl fmt::Display for ScrapeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "job {:?}", self.job_name)
    }
}

fn err(path: String, msg: impl Into<String>) -> ConfigError {
    ConfigError::new(path, msg)
}

/// A `host:port` target as Prometheus accepts it (no scheme, no path).
pub fn check_target(t: &str) -> Result<(), String> {
    if t.contains("://") || t.contains('/') {
        return Err(format!(
            "target {t:?} must be host:port (scheme and path are set by scheme and metrics_path)"
        ));
    }
    if t.is_empty() {
        return Err("empty target".into());
    }
    Ok(())
}

impl ComponentConfig for PrometheusReceiverConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let global = &self.config.global;
        if let (Some(i), Some(t)) = (global.scrape_interval, global.scrape_timeout)
            && t.0 > i.0
        {
            return Err(err(
                "config::global::scrape_timeout".into(),
                format!(
                    "scrape_timeout {:?} is greater than scrape_interval {:?}",
                    t.0, i.0
                ),
            ));
        }
        if self.config.scrape_configs.is_empty() {
            return Err(err(
                "config::scrape_configs".into(),
                "at least one scrape config is required",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, sc) in self.config.scrape_configs.iter().enumerate() {
            let at = |field: &str| format!("config::scrape_configs[{i}]::{field}");
            if sc.job_name.is_empty() {
                return Err(err(at("job_name"), "job_name must not be empty"));
            }
            if !seen.insert(sc.job_name.as_str()) {
                return Err(err(
                    at("job_name"),
                    format!(
                        "job_name {:?} is used by more than one scrape config",
                        sc.job_name
                    ),
                ));
            }
            let (interval, timeout) = sc.interval_timeout(global);
            if interval.is_zero() {
                return Err(err(
                    at("scrape_interval"),
                    "scrape_interval must be positive",
                ));
            }
            if timeout.is_zero() {
                return Err(err(at("scrape_timeout"), "scrape_timeout must be positive"));
            }
            if timeout > interval {
                return Err(err(
                    at("scrape_timeout"),
                    format!(
                        "scrape_timeout {timeout:?} is greater than scrape_interval {interval:?}"
                    ),
                ));
            }
            if sc.scheme != "http" && sc.scheme != "https" {
                return Err(err(
                    at("scheme"),
                    format!("unsupported scheme {:?} (http or https)", sc.scheme),
                ));
            }
            if !sc.metrics_path.starts_with('/') {
                return Err(err(
                    at("metrics_path"),
                    format!("metrics_path {:?} must start with /", sc.metrics_path),
                ));
            }
            for (j, s) in sc.static_configs.iter().enumerate() {
                for (k, t) in s.targets.iter().enumerate() {
                    check_target(t)
                        .map_err(|m| err(at(&format!("static_configs[{j}]::targets[{k}]")), m))?;
                }
                for name in s.labels.keys() {
                    if !super::relabel::is_label_name(name) {
                        return Err(err(
                            at(&format!("static_configs[{j}]::labels::{name}")),
                            format!("invalid label name {name:?}"),
                        ));
                    }
                }
            }
            for (j, f) in sc.file_sd_configs.iter().enumerate() {
                if f.files.is_empty() {
                    return Err(err(
                        at(&format!("file_sd_configs[{j}]::files")),
                        "at least one file is required",
                    ));
                }
                for (k, p) in f.files.iter().enumerate() {
                    let name = std::path::Path::new(p)
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or("");
                    let ok_ext = [".json", ".yml", ".yaml"].iter().any(|e| name.ends_with(e));
                    if !ok_ext {
                        return Err(err(
                            at(&format!("file_sd_configs[{j}]::files[{k}]")),
                            format!("{p:?}: file_sd files must end in .json, .yml or .yaml"),
                        ));
                    }
                    if p.rsplit_once('/').is_some_and(|(dir, _)| dir.contains('*')) {
                        return Err(err(
                            at(&format!("file_sd_configs[{j}]::files[{k}]")),
                            format!("{p:?}: a glob is only allowed in the file name"),
                        ));
                    }
                }
            }
            if let Some(b) = &sc.basic_auth
                && b.password.is_some()
                && b.password_file.is_some()
            {
                return Err(err(
                    at("basic_auth"),
                    "at most one of password and password_file may be set",
                ));
            }
            if let Some(a) = &sc.authorization {
                if a.credentials.is_some() && a.credentials_file.is_some() {
                    return Err(err(
                        at("authorization"),
                        "at most one of credentials and credentials_file may be set",
                    ));
                }
                if a.kind.eq_ignore_ascii_case("basic") {
                    return Err(err(
                        at("authorization::type"),
                        "authorization type Basic is not allowed: use basic_auth",
                    ));
                }
                if sc.basic_auth.is_some() {
                    return Err(err(
                        at("authorization"),
                        "at most one of basic_auth and authorization may be set",
                    ));
                }
            }
            if let Some(v) = &sc.tls_config.min_version
                && !matches!(v.as_str(), "TLS12" | "TLS13")
            {
                return Err(err(
                    at("tls_config::min_version"),
                    format!("unsupported min_version {v:?} (TLS12 or TLS13)"),
                ));
            }
            if sc.tls_config.cert_file.is_some() != sc.tls_config.key_file.is_some() {
                return Err(err(
                    at("tls_config"),
                    "cert_file and key_file must be set together",
                ));
            }
            for (field, list) in [
                ("relabel_configs", &sc.relabel_configs),
                ("metric_relabel_configs", &sc.metric_relabel_configs),
            ] {
                for (j, r) in list.iter().enumerate() {
                    r.compile()
                        .map_err(|(f, m)| err(at(&format!("{field}[{j}]::{f}")), m))?;
                }
            }
        }
        Ok(())
    }
}
