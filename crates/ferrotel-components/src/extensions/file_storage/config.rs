//! `extensions::file_storage` configuration, with the keys of the Go Collector's (contrib)
//! filestorage extension.

use std::time::Duration;

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, duration};
use serde::Deserialize;

/// The Go Collector's default directory on Linux.
pub const DEFAULT_DIRECTORY: &str = "/var/lib/otelcol/file_storage";

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileStorageConfig {
    /// Where queues keep their files; one sub-directory per component.
    pub directory: String,
    /// Accepted for compatibility: the Go extension's lock timeout on its database file.
    #[serde(deserialize_with = "duration::deserialize")]
    pub timeout: Duration,
    /// Accepted for compatibility: ferrotel's queue files never need compacting (fully
    /// delivered segments are deleted), so these settings change nothing.
    pub compaction: Compaction,
    /// `fdatasync` every write before acknowledging it. **ferrotel defaults to `true`** (the Go
    /// Collector to `false`): without it, data a receiver acknowledged survives a crash of
    /// the process but not of the machine. Set `false` to trade that for throughput.
    pub fsync: bool,
    /// Create `directory` (and parents) if missing; otherwise a missing directory is an error.
    pub create_directory: bool,
    /// Permissions of directories created with `create_directory` (octal string).
    pub directory_permissions: String,
    /// Accepted for compatibility; ferrotel recovers a damaged queue file by quarantining the
    /// unreadable part instead of recreating it.
    pub recreate: bool,
}

impl Default for FileStorageConfig {
    fn default() -> Self {
        FileStorageConfig {
            directory: DEFAULT_DIRECTORY.into(),
            timeout: Duration::from_secs(1),
            compaction: Compaction::default(),
            fsync: true,
            create_directory: false,
            directory_permissions: "0750".into(),
            recreate: false,
        }
    }
}

/// `compaction` (accepted, see [`FileStorageConfig::compaction`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Compaction {
    pub directory: String,
    pub on_start: bool,
    pub on_rebound: bool,
    pub rebound_needed_threshold_mib: u64,
    pub rebound_trigger_threshold_mib: u64,
    pub max_transaction_size: u64,
    #[serde(deserialize_with = "duration::deserialize")]
    pub check_interval: Duration,
    pub cleanup_on_start: bool,
}

impl Default for Compaction {
    fn default() -> Self {
        Compaction {
            directory: String::new(),
            on_start: false,
            on_rebound: false,
            rebound_needed_threshold_mib: 100,
            rebound_trigger_threshold_mib: 10,
            max_transaction_size: 65536,
            check_interval: Duration::from_secs(5),
            cleanup_on_start: false,
        }
    }
}

impl ComponentConfig for FileStorageConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.directory.is_empty() {
            return Err(ConfigError::field("directory", "must not be empty"));
        }
        if u32::from_str_radix(&self.directory_permissions, 8).is_err() {
            return Err(ConfigError::field(
                "directory_permissions",
                format!("{:?} is not an octal mode", self.directory_permissions),
            ));
        }
        Ok(())
    }
}
