//! The `filelog` receiver's config, key for key the Go Collector's (`pkg/stanza/fileconsumer`
//! `Config` squashed into `receiver/filelogreceiver`, plus the stanza input's `attributes`,
//! `resource`, `operators`, `storage` and `retry_on_failure`).

use std::collections::BTreeMap;
use std::time::Duration;

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ComponentId, ConfigError, duration};
use ferrotel_stanza::OperatorsConfig;
use serde::{Deserialize, Deserializer};

/// The Go fileconsumer's minimum `fingerprint_size`.
pub const MIN_FINGERPRINT_SIZE: u64 = 16;

/// `receivers::filelog`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileLogConfig {
    /// Globs of files to read (`**` matches any number of directories).
    pub include: Vec<String>,
    /// Globs of files not to read, among those `include` matched.
    pub exclude: Vec<String>,
    /// Skip files whose modification time is older than this (0: off).
    #[serde(deserialize_with = "duration::deserialize")]
    pub exclude_older_than: Duration,
    /// Accepted for compatibility; only the default (no ordering) is supported.
    pub ordering_criteria: OrderingCriteria,
    pub include_file_name: bool,
    pub include_file_path: bool,
    pub include_file_name_resolved: bool,
    pub include_file_path_resolved: bool,
    pub include_file_owner_name: bool,
    pub include_file_owner_group_name: bool,
    pub include_file_record_number: bool,
    pub include_file_record_offset: bool,
    #[serde(deserialize_with = "duration::deserialize")]
    pub poll_interval: Duration,
    /// `beginning` or `end`: where to start in files found on the first poll.
    pub start_at: String,
    #[serde(deserialize_with = "byte_size")]
    pub fingerprint_size: u64,
    #[serde(deserialize_with = "byte_size")]
    pub initial_buffer_size: u64,
    /// Longer records are cut into pieces of this many bytes.
    #[serde(deserialize_with = "byte_size")]
    pub max_log_size: u64,
    pub max_concurrent_files: usize,
    /// Polls read at most this many batches of `max_concurrent_files / 2` files (0: all).
    pub max_batches: usize,
    pub delete_after_read: bool,
    /// How records are split: newlines unless a pattern is given.
    pub multiline: Option<MultilineConfig>,
    /// A partial last record is sent after this long without new data (0: never).
    #[serde(deserialize_with = "duration::deserialize")]
    pub force_flush_period: Duration,
    pub encoding: String,
    pub preserve_leading_whitespaces: bool,
    pub preserve_trailing_whitespaces: bool,
    pub header: Option<HeaderConfig>,
    /// ``, `gzip` or `auto` (gzip when the name ends in `.gz`).
    pub compression: String,
    /// Accepted for compatibility (archiving of old fingerprints is not done).
    pub polls_to_archive: usize,
    pub acquire_fs_lock: bool,
    /// A `file_storage` extension id: checkpoints survive restarts.
    pub storage: Option<ComponentId>,
    pub retry_on_failure: RetryOnFailure,
    /// The stanza operator pipeline each record goes through.
    pub operators: OperatorsConfig,
    /// Static attributes and resource attributes added to every record.
    pub attributes: BTreeMap<String, String>,
    pub resource: BTreeMap<String, String>,
    /// Stanza's input `id`/`type` (accepted, as the Go receiver does).
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub type_: Option<String>,
}

impl Default for FileLogConfig {
    // The Go defaults (fileconsumer.NewConfig, split/trim/flush configs).
    fn default() -> Self {
        FileLogConfig {
            include: Vec::new(),
            exclude: Vec::new(),
            exclude_older_than: Duration::ZERO,
            ordering_criteria: OrderingCriteria::default(),
            include_file_name: true,
            include_file_path: false,
            include_file_name_resolved: false,
            include_file_path_resolved: false,
            include_file_owner_name: false,
            include_file_owner_group_name: false,
            include_file_record_number: false,
            include_file_record_offset: false,
            poll_interval: Duration::from_millis(200),
            start_at: "end".into(),
            fingerprint_size: 1000,
            initial_buffer_size: 16 * 1024,
            max_log_size: 1024 * 1024,
            max_concurrent_files: 1024,
            max_batches: 0,
            delete_after_read: false,
            multiline: None,
            force_flush_period: Duration::from_millis(500),
            encoding: "utf-8".into(),
            preserve_leading_whitespaces: false,
            preserve_trailing_whitespaces: false,
            header: None,
            compression: String::new(),
            polls_to_archive: 0,
            acquire_fs_lock: false,
            storage: None,
            retry_on_failure: RetryOnFailure::default(),
            operators: OperatorsConfig::default(),
            attributes: BTreeMap::new(),
            resource: BTreeMap::new(),
            id: None,
            type_: None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrderingCriteria {
    pub regex: String,
    pub top_n: Option<usize>,
    pub group_by: String,
    pub sort_by: Vec<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MultilineConfig {
    pub line_start_pattern: String,
    pub line_end_pattern: String,
    /// Drop the matched start/end pattern from the record.
    pub omit_pattern: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderConfig {
    /// Lines at the start of a file matching this are the header.
    pub pattern: String,
    /// Operators that turn header lines into attributes of every record of the file.
    pub metadata_operators: OperatorsConfig,
}

/// Retrying when the next stage refuses a batch (Go's `consumerretry` defaults).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryOnFailure {
    pub enabled: bool,
    #[serde(deserialize_with = "duration::deserialize")]
    pub initial_interval: Duration,
    #[serde(deserialize_with = "duration::deserialize")]
    pub max_interval: Duration,
    /// Give up on a batch after this long (0: never).
    #[serde(deserialize_with = "duration::deserialize")]
    pub max_elapsed_time: Duration,
}

impl Default for RetryOnFailure {
    fn default() -> Self {
        RetryOnFailure {
            enabled: false,
            initial_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(30),
            max_elapsed_time: Duration::from_secs(300),
        }
    }
}

/// Where records come from in the file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    /// Gzip for names ending in `.gz`.
    Auto,
}

impl FileLogConfig {
    pub fn start_at_beginning(&self) -> bool {
        self.start_at == "beginning"
    }

    pub fn compression(&self) -> Compression {
        match self.compression.as_str() {
            "gzip" => Compression::Gzip,
            "auto" => Compression::Auto,
            _ => Compression::None,
        }
    }
}

impl ComponentConfig for FileLogConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let err = |path: &str, msg: String| Err(ConfigError::new(path, msg));
        if self.include.is_empty() {
            return err("include", "at least one glob is required".into());
        }
        for (key, globs) in [("include", &self.include), ("exclude", &self.exclude)] {
            for (i, g) in globs.iter().enumerate() {
                if let Err(e) = glob::Pattern::new(g) {
                    return err(&format!("{key}[{i}]"), format!("invalid glob {g:?}: {e}"));
                }
            }
        }
        if self.start_at != "beginning" && self.start_at != "end" {
            return err(
                "start_at",
                format!(
                    "invalid start_at location {:?} (beginning or end)",
                    self.start_at
                ),
            );
        }
        if self.max_log_size == 0 {
            return err("max_log_size", "must be positive".into());
        }
        if self.max_concurrent_files <= 1 {
            return err("max_concurrent_files", "must be greater than 1".into());
        }
        if self.fingerprint_size < MIN_FINGERPRINT_SIZE {
            return err(
                "fingerprint_size",
                format!("must be at least {MIN_FINGERPRINT_SIZE} bytes"),
            );
        }
        if self.delete_after_read && !self.start_at_beginning() {
            return err(
                "delete_after_read",
                "cannot be used with `start_at: end`".into(),
            );
        }
        if self.header.is_some() && !self.start_at_beginning() {
            return err("header", "cannot be specified with `start_at: end`".into());
        }
        if let Some(h) = &self.header {
            if let Err(e) = regex::bytes::Regex::new(&h.pattern) {
                return err("header::pattern", format!("invalid regex: {e}"));
            }
            if h.metadata_operators.is_empty() {
                return err(
                    "header::metadata_operators",
                    "at least one operator must be specified".into(),
                );
            }
        }
        crate::split::Encoding::lookup(&self.encoding)
            .map_err(|m| ConfigError::new("encoding", m))?;
        if let Some(m) = &self.multiline {
            crate::split::Multiline::build(m).map_err(|e| ConfigError::new("multiline", e))?;
            if !crate::split::Encoding::lookup(&self.encoding)
                .map_err(|m| ConfigError::new("encoding", m))?
                .is_ascii_compatible()
            {
                return err(
                    "multiline",
                    format!(
                        "multiline patterns are not supported with encoding {:?} yet (use utf-8, ascii or nop)",
                        self.encoding
                    ),
                );
            }
        }
        if !matches!(self.compression.as_str(), "" | "gzip" | "auto") {
            return err(
                "compression",
                format!("unknown compression {:?} (gzip or auto)", self.compression),
            );
        }
        for (key, on) in [
            ("include_file_owner_name", self.include_file_owner_name),
            (
                "include_file_owner_group_name",
                self.include_file_owner_group_name,
            ),
            ("acquire_fs_lock", self.acquire_fs_lock),
        ] {
            if on {
                return err(key, "is not supported by ferrotel yet".into());
            }
        }
        if !self.ordering_criteria.sort_by.is_empty() {
            return err(
                "ordering_criteria::sort_by",
                "is not supported by ferrotel yet".into(),
            );
        }
        if self.retry_on_failure.enabled && self.retry_on_failure.initial_interval.is_zero() {
            return err(
                "retry_on_failure::initial_interval",
                "must be positive".into(),
            );
        }
        Ok(())
    }
}

/// Go's `helper.ByteSize`: an integer, or a number with `kb`/`kib`/`mb`/`mib`/`gb`/`gib` (any case).
fn byte_size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(u64),
        Float(f64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Int(n) => Ok(n),
        Raw::Float(f) if f >= 0.0 => Ok(f as u64),
        Raw::Float(f) => Err(serde::de::Error::custom(format!("invalid byte size {f}"))),
        Raw::Text(s) => parse_byte_size(&s).map_err(serde::de::Error::custom),
    }
}

pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    let lower = s.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    let num: f64 = num
        .parse()
        .map_err(|_| format!("invalid byte size {s:?} (like 16384, 16kb or 1mib)"))?;
    let mult: f64 = match unit.trim() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "kib" => 1024.0,
        "mb" => 1e6,
        "mib" => 1048576.0,
        "gb" => 1e9,
        "gib" => 1073741824.0,
        u => return Err(format!("invalid byte size {s:?}: unknown unit {u:?}")),
    };
    Ok((num * mult) as u64)
}
