//! The exporter helper's settings, with the Go Collector's keys and defaults:
//! `sending_queue` (with `batch`), `retry_on_failure`.

use std::time::Duration;

use serde::Deserialize;

use crate::config::{ComponentId, ConfigError, duration};

/// What the queue measures its size in (`sending_queue::sizer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Sizer {
    #[default]
    Requests,
    Items,
    Bytes,
}

impl Sizer {
    pub fn as_str(self) -> &'static str {
        match self {
            Sizer::Requests => "requests",
            Sizer::Items => "items",
            Sizer::Bytes => "bytes",
        }
    }
}

/// `sending_queue`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueSettings {
    pub enabled: bool,
    pub num_consumers: usize,
    pub queue_size: u64,
    /// `None` when not written: `requests`, and then `batch::sizer` defaults to `items`.
    pub sizer: Option<Sizer>,
    /// Wait for room instead of refusing when full: back-pressure reaches the receiver.
    pub block_on_overflow: bool,
    /// A storage extension id for a persistent queue (e.g. `file_storage`).
    pub storage: Option<ComponentId>,
    /// Accepted for compatibility: the caller waits for the export result.
    pub wait_for_result: bool,
    /// `batch`: batching after the queue. Absent means off; an empty `batch:` means on with
    /// the defaults.
    #[serde(deserialize_with = "present")]
    pub batch: Option<BatchSettings>,
}

/// Absent → `None` (through `#[serde(default)]`); written, even empty → `Some`.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Some(Option::<T>::deserialize(d)?.unwrap_or_default()))
}

/// `sending_queue::batch` as written; [`QueueSettings::batching`] resolves the defaults.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct BatchSettings {
    /// `enabled: false` turns a written section off (Go's optional-section convention).
    pub enabled: Option<bool>,
    #[serde(deserialize_with = "duration_opt")]
    pub flush_timeout: Option<Duration>,
    pub min_size: Option<i64>,
    pub max_size: Option<i64>,
    pub sizer: Option<Sizer>,
    pub partition: PartitionSettings,
}

/// `sending_queue::batch::partition`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PartitionSettings {
    pub metadata_keys: Vec<String>,
}

fn duration_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration::deserialize(d).map(Some)
}

/// Resolved batching of a sending queue: what the consumers wait for before sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// Send a batch this long after its oldest request entered the queue, whatever its size.
    pub flush_timeout: Duration,
    /// Send as soon as this much waits (in `sizer` units).
    pub min_size: u64,
    /// Split so no batch is larger; 0 is no limit.
    pub max_size: u64,
    /// `items` or `bytes`.
    pub sizer: Sizer,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            enabled: true,
            num_consumers: 10,
            queue_size: 1000,
            sizer: None,
            block_on_overflow: false,
            storage: None,
            wait_for_result: false,
            batch: None,
        }
    }
}

impl QueueSettings {
    /// A queue that is off (exporters like `file` and `debug` default to this).
    pub fn disabled() -> Self {
        QueueSettings {
            enabled: false,
            ..Default::default()
        }
    }

    /// What the queue measures its size in.
    pub fn sizer(&self) -> Sizer {
        self.sizer.unwrap_or_default()
    }

    /// The batching to apply, with Go's defaults (200ms, 8192, no maximum, `items`) and its
    /// sizer rule: a non-empty `batch` without `sizer` takes the queue's `sizer` when that is
    /// written, `items` otherwise. Batching needs the queue: without it, none.
    pub fn batching(&self) -> Result<Option<Batching>, ConfigError> {
        let Some(b) = self.batch.as_ref().filter(|b| b.enabled != Some(false)) else {
            return Ok(None);
        };
        if !self.enabled {
            return Ok(None);
        }
        let written = b.flush_timeout.is_some()
            || b.min_size.is_some()
            || b.max_size.is_some()
            || !b.partition.metadata_keys.is_empty();
        let sizer = match (b.sizer, self.sizer) {
            (Some(s), _) => s,
            (None, Some(q)) if written => q,
            _ => Sizer::Items,
        };
        let field =
            |k: &str, m: String| ConfigError::field(&format!("sending_queue::batch::{k}"), m);
        if sizer == Sizer::Requests {
            return Err(field(
                "sizer",
                "batching supports only the `items` or `bytes` sizer, found `requests` (taken from sending_queue::sizer when batch::sizer is not set)".into(),
            ));
        }
        let flush_timeout = b.flush_timeout.unwrap_or(Duration::from_millis(200));
        if flush_timeout.is_zero() {
            return Err(field("flush_timeout", "must be positive".into()));
        }
        let min_size = b.min_size.unwrap_or(8192);
        let max_size = b.max_size.unwrap_or(0);
        if min_size < 0 {
            return Err(field(
                "min_size",
                format!("must not be negative, found {min_size}"),
            ));
        }
        if max_size < 0 {
            return Err(field(
                "max_size",
                format!("must not be negative, found {max_size}"),
            ));
        }
        if max_size > 0 && max_size < min_size {
            return Err(field(
                "max_size",
                format!("({max_size}) must be greater than or equal to min_size ({min_size})"),
            ));
        }
        if sizer == self.sizer() && min_size as u64 > self.queue_size {
            return Err(field(
                "min_size",
                format!(
                    "({min_size}) must be less than or equal to sending_queue::queue_size ({}) when both are in {}: the queue could never hold a batch",
                    self.queue_size,
                    sizer.as_str()
                ),
            ));
        }
        if !b.partition.metadata_keys.is_empty() {
            // Partitioning needs one batch per metadata combination; not built yet, and
            // batching them together silently would mix tenants.
            return Err(field(
                "partition::metadata_keys",
                "partitioning batches by client metadata is not supported yet; use the batch processor's metadata_keys".into(),
            ));
        }
        Ok(Some(Batching {
            flush_timeout,
            min_size: min_size as u64,
            max_size: max_size as u64,
            sizer,
        }))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.batching()?;
        if self.enabled && self.num_consumers == 0 {
            return Err(ConfigError::field(
                "sending_queue::num_consumers",
                "must be at least 1",
            ));
        }
        if self.enabled && self.queue_size == 0 {
            return Err(ConfigError::field(
                "sending_queue::queue_size",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// `retry_on_failure`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrySettings {
    pub enabled: bool,
    #[serde(deserialize_with = "duration::deserialize")]
    pub initial_interval: Duration,
    pub randomization_factor: f64,
    pub multiplier: f64,
    #[serde(deserialize_with = "duration::deserialize")]
    pub max_interval: Duration,
    /// 0 means retry forever.
    #[serde(deserialize_with = "duration::deserialize")]
    pub max_elapsed_time: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            enabled: true,
            initial_interval: Duration::from_secs(5),
            randomization_factor: 0.5,
            multiplier: 1.5,
            max_interval: Duration::from_secs(30),
            max_elapsed_time: Duration::from_secs(300),
        }
    }
}

impl RetrySettings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(0.0..=1.0).contains(&self.randomization_factor) {
            return Err(ConfigError::field(
                "retry_on_failure::randomization_factor",
                "must be between 0 and 1",
            ));
        }
        if self.multiplier < 1.0 {
            return Err(ConfigError::field(
                "retry_on_failure::multiplier",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}
