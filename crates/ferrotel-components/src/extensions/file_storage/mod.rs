//! `file_storage` extension: storage on the local disk for persistent sending queues
//! (`exporters::*::sending_queue::storage: file_storage/x`).
//!
//! It offers `Arc<dyn QueueStorage>`: each exporter that names it gets its own sub-directory
//! (`exporter_<type>_<name>`) of `directory`, where `ferrotel_runtime::queue::DiskQueue`
//! keeps segment files. Unlike the Go extension (a bbolt key-value database per component),
//! it is not a general key-value store: only queues use it so far.
//!
//! Durability: `fsync` defaults to **true** in ferrotel (false in Go), so an acknowledged
//! request survives power loss, not only a crash. Concurrent writes share one fsync (group
//! commit); see `docs` / the queue module for the measured cost.

pub mod config;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferrotel_runtime::config::ComponentId;
use ferrotel_runtime::queue::{DiskQueueOptions, QueueStorage};
use ferrotel_runtime::*;

pub use config::FileStorageConfig;

/// Factory of the `file_storage` extension.
pub struct FileStorageFactory;

impl ExtensionFactory for FileStorageFactory {
    type Config = FileStorageConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "file_storage",
            "Local-disk storage for persistent sending queues",
        )
        .stability(Stability::Alpha)
    }

    fn create(
        &self,
        _ctx: CreateContext,
        config: Self::Config,
    ) -> Result<Arc<dyn Extension>, ComponentError> {
        let storage = Arc::new(FileStorage::new(config)?);
        Ok(Arc::new(Ext(storage)))
    }
}

/// The storage: a directory and the durability settings.
pub struct FileStorage {
    directory: PathBuf,
    fsync: bool,
}

/// `exporter_otlp_grpc_backup` for `otlp_grpc/backup`: only characters safe in a file name.
fn dir_name(owner: &ComponentId) -> String {
    let raw = format!("exporter_{}", owner.to_string().replace('/', "_"));
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '~'
            }
        })
        .collect()
}

#[cfg(unix)]
fn create_dir(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
}

#[cfg(not(unix))]
fn create_dir(path: &Path, _mode: u32) -> std::io::Result<()> {
    std::fs::create_dir_all(path)
}

impl FileStorage {
    pub fn new(config: FileStorageConfig) -> Result<Self, ComponentError> {
        let directory = PathBuf::from(&config.directory);
        if config.create_directory {
            let mode = u32::from_str_radix(&config.directory_permissions, 8).unwrap_or(0o750);
            create_dir(&directory, mode).map_err(|e| {
                ComponentError::new(format!(
                    "cannot create directory {:?}: {e}",
                    config.directory
                ))
            })?;
        }
        match std::fs::metadata(&directory) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(ComponentError::new(format!(
                    "directory {:?} is not a directory",
                    config.directory
                )));
            }
            Err(e) => {
                return Err(ComponentError::new(format!(
                    "directory {:?}: {e} (create it, or set create_directory: true)",
                    config.directory
                )));
            }
        }
        if !config.fsync {
            tracing::info!(directory = %config.directory, "file_storage: fsync is off; acknowledged data survives a process crash but not a power failure");
        }
        Ok(FileStorage {
            directory,
            fsync: config.fsync,
        })
    }
}

impl QueueStorage for FileStorage {
    fn queue_options(&self, owner: &ComponentId) -> Result<DiskQueueOptions, ComponentError> {
        let mut o = DiskQueueOptions::new(self.directory.join(dir_name(owner)));
        o.fsync = self.fsync;
        Ok(o)
    }
}

struct Ext(Arc<FileStorage>);

impl Lifecycle for Ext {}

impl Extension for Ext {
    fn capabilities(&self) -> Vec<Box<dyn std::any::Any + Send + Sync>> {
        let s: Arc<dyn QueueStorage> = self.0.clone();
        vec![Box::new(s)]
    }
}

#[cfg(test)]
mod tests;
