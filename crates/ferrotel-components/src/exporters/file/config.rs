//! `exporters::file` configuration, as the Go Collector's (contrib) fileexporter.

use std::time::Duration;

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, duration};
use ferrotel_runtime::exporter_helper::QueueSettings;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One OTLP/JSON request per line.
    #[default]
    Json,
    /// Protobuf requests, each preceded by its length (4 bytes, big-endian).
    Proto,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Rotation {
    /// Rotate when the file reaches this size (default 100 when `rotation` is present).
    pub max_megabytes: u64,
    /// Delete rotated files older than this many days (0 = keep).
    pub max_days: u64,
    /// Keep at most this many rotated files (0 = keep all).
    pub max_backups: u64,
    /// Name rotated files in local time rather than UTC (accepted; ferrotel uses UTC).
    pub localtime: bool,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct GroupBy {
    pub enabled: bool,
    pub resource_attribute: String,
    pub max_open_files: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    pub path: String,
    /// Append to an existing file instead of truncating it.
    pub append: bool,
    pub rotation: Option<Rotation>,
    pub format: Format,
    /// "" (none) or "zstd": each record is compressed on its own and written length-prefixed.
    pub compression: String,
    #[serde(deserialize_with = "duration::deserialize")]
    pub flush_interval: Duration,
    pub group_by: GroupBy,
    pub sending_queue: QueueSettings,
}

impl Default for FileConfig {
    fn default() -> Self {
        FileConfig {
            path: String::new(),
            append: false,
            rotation: None,
            format: Format::Json,
            compression: String::new(),
            flush_interval: Duration::from_secs(1),
            group_by: GroupBy::default(),
            sending_queue: QueueSettings::disabled(),
        }
    }
}

impl ComponentConfig for FileConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.path.is_empty() {
            return Err(ConfigError::field("path", "a file path is required"));
        }
        if !["", "zstd"].contains(&self.compression.as_str()) {
            return Err(ConfigError::field(
                "compression",
                format!(
                    "unsupported compression {:?} (zstd or empty)",
                    self.compression
                ),
            ));
        }
        if self.append && self.compression == "zstd" {
            return Err(ConfigError::field(
                "append",
                "append and compression cannot be used together",
            ));
        }
        if self.group_by.enabled {
            return Err(ConfigError::field(
                "group_by",
                "group_by is not supported by ferrotel yet",
            ));
        }
        if self.flush_interval.is_zero() {
            return Err(ConfigError::field(
                "flush_interval",
                "must be greater than 0",
            ));
        }
        self.sending_queue.validate()
    }
}
