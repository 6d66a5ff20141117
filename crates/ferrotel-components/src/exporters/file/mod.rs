//! `file` exporter: writes requests to a file as OTLP/JSON lines or length-prefixed protobuf,
//! with optional zstd, size-based rotation with backup pruning, and periodic flushing.

pub mod config;

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ferrotel_pdata::{Payload, Signal};
use ferrotel_runtime::exporter_helper::{QueuedExporter, RetrySettings, SendFailure, Sender};
use ferrotel_runtime::*;

pub use config::{FileConfig, Format};

/// Factory of the `file` exporter.
pub struct FileExporterFactory;

impl ExporterFactory for FileExporterFactory {
    type Config = FileConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "file",
            "Writes OTLP/JSON lines or length-prefixed protobuf to a file",
        )
        .all_signals(Stability::Alpha)
    }

    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        _signals: &[Signal],
    ) -> Result<Arc<dyn Exporter>, ComponentError> {
        let sender = Arc::new(FileSender::new(config.clone()));
        let retry = RetrySettings {
            enabled: false,
            ..Default::default()
        };
        Ok(Arc::new(FileExporter {
            inner: QueuedExporter::new(
                &ctx,
                sender.clone(),
                &config.sending_queue,
                retry,
                Duration::from_secs(30),
            )?,
            sender,
            flusher: Mutex::new(None),
        }))
    }
}

struct Output {
    writer: BufWriter<File>,
    written: u64,
}

/// Writes records; shared by the queue consumers and the flush timer.
pub struct FileSender {
    config: FileConfig,
    out: Mutex<Option<Output>>,
}

fn io_err(path: &str, e: std::io::Error) -> SendFailure {
    SendFailure::permanent(format!("file {path:?}: {e}"))
}

impl FileSender {
    fn new(config: FileConfig) -> Self {
        FileSender {
            config,
            out: Mutex::new(None),
        }
    }

    fn open(&self) -> std::io::Result<Output> {
        let path = Path::new(&self.config.path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(self.config.append)
            .truncate(!self.config.append)
            .open(path)?;
        let written = file.metadata()?.len();
        Ok(Output {
            writer: BufWriter::with_capacity(256 * 1024, file),
            written,
        })
    }

    /// Encodes one request as this exporter's record bytes.
    fn record(&self, payload: &Payload) -> Result<Vec<u8>, SendFailure> {
        let body: Vec<u8> = match self.config.format {
            Format::Json => {
                let request = payload
                    .to_request()
                    .map_err(|e| SendFailure::permanent(e.to_string()))?;
                let mut j = ferrotel_pdata::json::encode(&request);
                if self.config.compression.is_empty() {
                    j.push(b'\n');
                    return Ok(j);
                }
                j
            }
            Format::Proto => payload.to_proto().to_vec(),
        };
        let body = if self.config.compression == "zstd" {
            zstd::bulk::compress(&body, 3)
                .map_err(|e| SendFailure::permanent(format!("zstd: {e}")))?
        } else {
            body
        };
        let mut rec = Vec::with_capacity(body.len() + 4);
        rec.extend_from_slice(&(body.len() as u32).to_be_bytes());
        rec.extend_from_slice(&body);
        Ok(rec)
    }

    fn write(&self, rec: &[u8]) -> Result<(), SendFailure> {
        let path = &self.config.path;
        let mut guard = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(self.open().map_err(|e| io_err(path, e))?);
        }
        let out = guard.as_mut().expect("opened above");
        if let Some(rot) = &self.config.rotation {
            let max = if rot.max_megabytes == 0 {
                100
            } else {
                rot.max_megabytes
            } << 20;
            if out.written > 0 && out.written + rec.len() as u64 > max {
                out.writer.flush().map_err(|e| io_err(path, e))?;
                *guard = None;
                rotate(Path::new(path), rot).map_err(|e| io_err(path, e))?;
                *guard = Some(self.open().map_err(|e| io_err(path, e))?);
            }
        }
        let out = guard.as_mut().expect("opened above");
        out.writer.write_all(rec).map_err(|e| io_err(path, e))?;
        out.written += rec.len() as u64;
        Ok(())
    }

    /// Flushes buffered records to the OS.
    pub fn flush(&self) -> std::io::Result<()> {
        if let Some(out) = self.out.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            out.writer.flush()?;
        }
        Ok(())
    }
}

/// Renames the current file to `name-<UTC time>.ext` and prunes old backups.
fn rotate(path: &Path, rot: &config::Rotation) -> std::io::Result<()> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("data")
        .to_string();
    let ext = path
        .extension()
        .and_then(|s| s.to_str())
        .map(|e| format!(".{e}"))
        .unwrap_or_default();
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    std::fs::rename(path, dir.join(format!("{stem}-{nanos}{ext}")))?;
    let prefix = format!("{stem}-");
    let mut backups: Vec<(PathBuf, SystemTime)> = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .filter(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            n.starts_with(&prefix)
                && n.ends_with(&ext)
                && n[prefix.len()..n.len() - ext.len()]
                    .bytes()
                    .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| Some((e.path(), e.metadata().ok()?.modified().ok()?)))
        .collect();
    backups.sort_by_key(|(p, _)| std::cmp::Reverse(p.clone()));
    for (i, (p, modified)) in backups.iter().enumerate() {
        let too_many = rot.max_backups > 0 && i as u64 >= rot.max_backups;
        let too_old = rot.max_days > 0
            && modified.elapsed().unwrap_or_default() > Duration::from_secs(rot.max_days * 86400);
        if too_many || too_old {
            std::fs::remove_file(p)?;
        }
    }
    Ok(())
}

impl Sender for FileSender {
    fn send(&self, payload: Payload, _ctx: Context) -> BoxFuture<'_, Result<(), SendFailure>> {
        Box::pin(async move {
            let rec = self.record(&payload)?;
            self.write(&rec)
        })
    }

    fn close(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let mut guard = self.out.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(mut out) = guard.take() {
                out.writer.flush().map_err(|e| {
                    ComponentError::new(format!("file {:?}: {e}", self.config.path))
                })?;
                out.writer.get_ref().sync_all().map_err(|e| {
                    ComponentError::new(format!("file {:?}: {e}", self.config.path))
                })?;
            }
            Ok(())
        })
    }
}

/// The file exporter: the queued exporter plus a flush timer.
pub struct FileExporter {
    inner: QueuedExporter,
    sender: Arc<FileSender>,
    flusher: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Consumer for FileExporter {
    fn consume(&self, payload: Payload, ctx: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        self.inner.consume(payload, ctx)
    }
}

impl Lifecycle for FileExporter {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            // Open (create/truncate) now so a bad path fails at startup, not at the first export.
            {
                let mut out = self.sender.out.lock().unwrap_or_else(|e| e.into_inner());
                if out.is_none() {
                    *out = Some(self.sender.open().map_err(|e| {
                        ComponentError::new(format!("path {:?}: {e}", self.sender.config.path))
                    })?);
                }
            }
            self.inner.start().await?;
            let sender = self.sender.clone();
            let every = self.sender.config.flush_interval;
            *self.flusher.lock().unwrap_or_else(|e| e.into_inner()) = Some(tokio::spawn(
                async move {
                    let mut tick = tokio::time::interval(every);
                    loop {
                        tick.tick().await;
                        if let Err(e) = sender.flush() {
                            tracing::error!(path = %sender.config.path, error = %e, "file exporter flush failed");
                        }
                    }
                },
            ));
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            if let Some(f) = self
                .flusher
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
            {
                f.abort();
            }
            self.inner.shutdown().await
        })
    }
}

impl Exporter for FileExporter {}

#[cfg(test)]
mod tests;
