//! Persistent sending queues: the on-disk log ([`disk`]) and the capability a storage
//! extension offers to exporters ([`QueueStorage`]).
//!
//! An exporter with `sending_queue: {storage: file_storage/x}` asks extension `file_storage/x`
//! for `Arc<dyn QueueStorage>` and gets the directory and durability settings of its own queue.

pub mod disk;

use crate::component::ComponentError;
use crate::config::ComponentId;

pub use disk::{DiskQueue, DiskQueueOptions, Recovered, RecoveryReport};

/// Offered by storage extensions (`file_storage`) as `Arc<dyn QueueStorage>`.
pub trait QueueStorage: Send + Sync + 'static {
    /// Where and how the persistent queue of component `owner` keeps its records. Each owner
    /// gets a directory of its own.
    fn queue_options(&self, owner: &ComponentId) -> Result<DiskQueueOptions, ComponentError>;
}

#[cfg(test)]
mod tests;
