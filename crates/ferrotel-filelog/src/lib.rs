//! The `filelog` receiver (issue 22): tails files into OTLP logs, config-compatible with the Go
//! Collector's `filelog` receiver (`pkg/stanza/fileconsumer`).
//!
//! - `config`: the typed config, key for key the Go receiver's, with its defaults.
//! - `discover`: the include/exclude globs, compiled once, one `readdir` per directory.
//! - `index`: finding a known file again by (device, inode), else by fingerprint.
//! - `reader`: fingerprints, rotation and truncation, the read loop.
//! - `split`: records from bytes (newline, multiline, max_log_size, encodings, trimming).
//! - `emit`: records → OTLP (directly, or through the stanza `operators:`), batches, retries.
//! - `checkpoint`: offsets kept in the `storage` extension's directory across restarts.
//!
//! A receiver runs one OS thread that polls: file reads are blocking system calls, and the
//! thread hands each batch to the pipeline and waits for it to be accepted (back-pressure: a
//! slow pipeline slows reading, it does not grow memory).

pub mod checkpoint;
pub mod config;
pub mod discover;
pub mod emit;
pub mod index;
pub mod reader;
pub mod split;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ferrotel_pdata::Signal;
use ferrotel_runtime::config::ComponentId;
use ferrotel_runtime::queue::QueueStorage;
use ferrotel_runtime::*;
use ferrotel_stanza::Pipeline;

pub use config::FileLogConfig;

/// Factory of the `filelog` receiver.
pub struct FileLogReceiverFactory;

impl ReceiverFactory for FileLogReceiverFactory {
    type Config = FileLogConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "filelog",
            "tails log files (rotation, checkpoints, multiline, encodings, gzip) into OTLP logs",
        )
        .signal(Signal::Logs, Stability::Alpha)
    }

    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        outputs: SignalOutputs,
    ) -> Result<Arc<dyn Receiver>, ComponentError> {
        let next = outputs
            .into_iter()
            .find(|(s, _)| *s == Signal::Logs)
            .map(|(_, c)| c)
            .ok_or_else(|| ComponentError::new("the filelog receiver produces only logs"))?;
        // Build what can fail now, so a bad config is reported at startup.
        if !config.operators.is_empty() {
            Pipeline::build(&config.operators)
                .map_err(|e| ComponentError::new(format!("filelog: {e}")))?;
        }
        reader::build_parts(&config).map_err(|e| ComponentError::new(format!("filelog: {e}")))?;
        let checkpoint_dir = match &config.storage {
            Some(id) => Some(checkpoint_dir(&ctx, id)?),
            None => None,
        };
        Ok(Arc::new(FileLogReceiver {
            config: Arc::new(config),
            next,
            checkpoint_dir,
            running: Mutex::new(None),
        }))
    }
}

/// The checkpoint directory in the `file_storage` extension `id`: next to the queues' own
/// directories, named `receiver_filelog[_name]` as the Go extension names its files.
fn checkpoint_dir(
    ctx: &CreateContext,
    storage: &ComponentId,
) -> Result<std::path::PathBuf, ComponentError> {
    let s: Arc<dyn QueueStorage> = ctx.extension_capability(storage, "storage")?;
    // The extension only offers queue directories; its root is their parent.
    let queue_dir = s.queue_options(&ctx.id)?.directory;
    let root = queue_dir
        .parent()
        .ok_or_else(|| ComponentError::new("filelog: storage directory has no parent"))?;
    let name: String = format!("receiver_{}", ctx.id.to_string().replace('/', "_"))
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '~'
            }
        })
        .collect();
    Ok(root.join(name))
}

struct Running {
    stop: mpsc::Sender<()>,
    stopping: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

pub struct FileLogReceiver {
    config: Arc<FileLogConfig>,
    next: ConsumerRef,
    checkpoint_dir: Option<std::path::PathBuf>,
    running: Mutex<Option<Running>>,
}

impl Lifecycle for FileLogReceiver {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            if running.is_some() {
                return Ok(());
            }
            let store = match &self.checkpoint_dir {
                Some(d) => Some(checkpoint::Store::new(d).map_err(ComponentError::new)?),
                None => None,
            };
            // With a header, records go through the stanza path too (they carry its attributes).
            let pipeline = if self.config.operators.is_empty() && self.config.header.is_none() {
                None
            } else {
                Some(
                    Pipeline::build(&self.config.operators)
                        .map_err(|e| ComponentError::new(format!("filelog: {e}")))?,
                )
            };
            let stopping = Arc::new(AtomicBool::new(false));
            let emitter = emit::Emitter::new(
                self.next.clone(),
                tokio::runtime::Handle::current(),
                clone_retry(&self.config.retry_on_failure),
                pairs(&self.config.attributes),
                pairs(&self.config.resource),
                pipeline,
                stopping.clone(),
            );
            let mut tracker = reader::Tracker::new(&self.config, emitter, store)
                .map_err(|e| ComponentError::new(format!("filelog: {e}")))?;
            let (stop, stopped) = mpsc::channel::<()>();
            let interval = self.config.poll_interval.max(Duration::from_millis(1));
            let thread = std::thread::Builder::new()
                .name("filelog".into())
                .spawn(move || {
                    loop {
                        let started = Instant::now();
                        tracker.poll();
                        let wait = interval.saturating_sub(started.elapsed());
                        match stopped.recv_timeout(wait) {
                            Err(mpsc::RecvTimeoutError::Timeout) => {}
                            _ => break,
                        }
                        tracker.emitter().flush_expired();
                    }
                    tracker.stop();
                })
                .map_err(|e| ComponentError::new(format!("filelog: cannot start thread: {e}")))?;
            *running = Some(Running {
                stop,
                stopping,
                thread,
            });
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let running = self
                .running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(r) = running {
                r.stopping.store(true, Ordering::Relaxed);
                let _ = r.stop.send(());
                let _ = tokio::task::spawn_blocking(move || r.thread.join()).await;
            }
            Ok(())
        })
    }
}

impl Receiver for FileLogReceiver {}

fn pairs(m: &std::collections::BTreeMap<String, String>) -> Vec<(String, String)> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn clone_retry(r: &config::RetryOnFailure) -> config::RetryOnFailure {
    config::RetryOnFailure {
        enabled: r.enabled,
        initial_interval: r.initial_interval,
        max_interval: r.max_interval,
        max_elapsed_time: r.max_elapsed_time,
    }
}

#[cfg(test)]
mod tests;
