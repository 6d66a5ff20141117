//! `pprof` extension: Go's `net/http/pprof` endpoints for ferrotel (default `localhost:1777`).
//! `/debug/pprof/profile?seconds=N` samples the whole process's CPU (SIGPROF, 99 Hz, only while
//! a profile is taken: nothing runs when unused) and answers a gzipped pprof `Profile`, the
//! format `go tool pprof` and Pyroscope read; `/debug/pprof/heap` what glibc's malloc reports
//! (bytes in use and mapped, no allocation stacks); `/debug/pprof/` lists them. `save_to_file`
//! writes a CPU profile of the whole run at shutdown, as the Go extension does.
//!
//! Sampling and symbolization are the `pprof` crate's (TiKV's, what Rust services use for
//! this); the profile encoding is ours (`profile.rs`, on the workspace's prost) so the crate's
//! older prost is not built too.

pub mod profile;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use prost::Message;
use serde::Deserialize;

use crate::extensions::http_server::ServerTask;

use ferrotel_runtime::config::{ConfigError, parse_endpoint};
use ferrotel_runtime::*;

/// Sampling frequency: 99 Hz, off the 100 Hz of other timers (as Go's 100 Hz nearly).
const FREQUENCY: i32 = 99;
/// Longest profile one request may ask for.
const MAX_SECONDS: u64 = 600;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PprofConfig {
    pub endpoint: String,
    /// Go runtime settings, accepted for compatibility; they have no Rust counterpart.
    pub block_profile_fraction: i64,
    pub mutex_profile_fraction: i64,
    /// Write a CPU profile of the whole run here at shutdown.
    pub save_to_file: String,
}

impl Default for PprofConfig {
    fn default() -> Self {
        PprofConfig {
            endpoint: "localhost:1777".into(),
            block_profile_fraction: 0,
            mutex_profile_fraction: 0,
            save_to_file: String::new(),
        }
    }
}

impl ComponentConfig for PprofConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        parse_endpoint(&self.endpoint).map_err(|e| ConfigError::field("endpoint", e))?;
        if self.block_profile_fraction < 0 {
            return Err(ConfigError::field("block_profile_fraction", "must be ≥ 0"));
        }
        if self.mutex_profile_fraction < 0 {
            return Err(ConfigError::field("mutex_profile_fraction", "must be ≥ 0"));
        }
        Ok(())
    }

    fn listen_addresses(&self) -> Vec<String> {
        vec![self.endpoint.clone()]
    }
}

/// Factory of the `pprof` extension.
pub struct PprofFactory;

impl ExtensionFactory for PprofFactory {
    type Config = PprofConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "pprof",
            "CPU and heap profiles of the collector in pprof format (/debug/pprof/)",
        )
        .stability(Stability::Beta)
    }

    fn create(
        &self,
        _ctx: CreateContext,
        config: Self::Config,
    ) -> Result<Arc<dyn Extension>, ComponentError> {
        Ok(Arc::new(Pprof {
            config,
            server: ServerTask::default(),
            whole_run: Mutex::new(None),
        }))
    }
}

struct Pprof {
    config: PprofConfig,
    server: ServerTask,
    /// `save_to_file`: the thread holding the run's profiler, told to stop at shutdown.
    whole_run: Mutex<Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)>>,
}

/// One CPU profiler per process (SIGPROF is process-wide).
static PROFILING: AtomicBool = AtomicBool::new(false);

/// Takes a CPU profile until `stop` returns; `Err` when one is already running.
fn cpu_profile(stop: impl FnOnce()) -> Result<Vec<u8>, String> {
    if PROFILING.swap(true, Ordering::AcqRel) {
        return Err("Could not enable CPU profiling: cpu profiling already in use".into());
    }
    let result = (|| {
        let guard = pprof::ProfilerGuardBuilder::default()
            .frequency(FREQUENCY)
            .blocklist(&["libc", "libgcc", "pthread", "vdso"])
            .build()
            .map_err(|e| format!("Could not enable CPU profiling: {e}"))?;
        stop();
        let report = guard
            .report()
            .build()
            .map_err(|e| format!("building the profile: {e}"))?;
        Ok(gzip(&profile::cpu(&report).encode_to_vec()))
    })();
    PROFILING.store(false, Ordering::Release);
    result
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

/// glibc's counters: (bytes in use, bytes mapped).
fn malloc_stats() -> (i64, i64) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads the allocator's counters.
        let m = unsafe { libc::mallinfo2() };
        ((m.uordblks + m.hblkhd) as i64, (m.arena + m.hblkhd) as i64)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        (0, 0)
    }
}

/// `seconds` from the query string: Go's default 30, at most [`MAX_SECONDS`].
fn seconds(query: Option<&str>) -> Result<u64, String> {
    let Some(v) = query
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("seconds="))
    else {
        return Ok(30);
    };
    match v.parse::<u64>() {
        Ok(n) if (1..=MAX_SECONDS).contains(&n) => Ok(n),
        _ => Err(format!(
            "bad seconds {v:?}: a whole number of seconds from 1 to {MAX_SECONDS}"
        )),
    }
}

const INDEX: &str = "<!DOCTYPE html>\n<html><head><title>/debug/pprof/</title></head><body>\n\
<p>/debug/pprof/</p>\n<p>Profiles:</p>\n<ul>\n\
<li><a href=\"profile?seconds=30\">profile</a>: CPU profile (pprof format, gzipped); <code>?seconds=N</code> sets its length</li>\n\
<li><a href=\"heap\">heap</a>: bytes in use and mapped, as glibc's malloc reports them (no allocation stacks)</li>\n\
</ul>\n</body></html>\n";

fn respond(status: u16, content_type: &str, body: Vec<u8>) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("valid response")
}

async fn route(req: http::Request<hyper::body::Incoming>) -> http::Response<Full<Bytes>> {
    let text = "text/plain; charset=utf-8";
    match req.uri().path() {
        "/debug/pprof/" | "/debug/pprof" => respond(200, "text/html; charset=utf-8", INDEX.into()),
        "/debug/pprof/profile" => {
            let secs = match seconds(req.uri().query()) {
                Ok(s) => s,
                Err(e) => return respond(400, text, e.into_bytes()),
            };
            let taken = tokio::task::spawn_blocking(move || {
                cpu_profile(|| std::thread::sleep(Duration::from_secs(secs)))
            })
            .await;
            match taken {
                Ok(Ok(body)) => {
                    let mut r = respond(200, "application/octet-stream", body);
                    r.headers_mut().insert(
                        "content-disposition",
                        http::HeaderValue::from_static("attachment; filename=\"profile\""),
                    );
                    r
                }
                Ok(Err(e)) => respond(500, text, e.into_bytes()),
                Err(e) => respond(500, text, format!("profiler task: {e}").into_bytes()),
            }
        }
        "/debug/pprof/heap" => {
            let (in_use, mapped) = malloc_stats();
            respond(
                200,
                "application/octet-stream",
                gzip(&profile::heap(in_use, mapped).encode_to_vec()),
            )
        }
        _ => respond(404, text, b"404 page not found\n".to_vec()),
    }
}

impl Lifecycle for Pprof {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            self.server
                .start(&self.config.endpoint, None, |req| async move {
                    route(req).await
                })
                .await?;
            if !self.config.save_to_file.is_empty() {
                let path = self.config.save_to_file.clone();
                let (tx, rx) = std::sync::mpsc::channel::<()>();
                // Start returns once the profiler runs (as Go's StartCPUProfile in the
                // extension's Start): the profile covers the run from here, not from whenever
                // the thread got going (setting the profiler up takes ~1 s on a loaded machine).
                let (started_tx, mut started) =
                    tokio::sync::mpsc::unbounded_channel::<Result<(), String>>();
                let failed = started_tx.clone();
                let thread = std::thread::Builder::new()
                    .name("pprof-save".into())
                    .spawn(move || {
                        match cpu_profile(|| {
                            let _ = started_tx.send(Ok(()));
                            let _ = rx.recv();
                        }) {
                            Ok(body) => {
                                if let Err(e) = std::fs::write(&path, body) {
                                    tracing::error!("pprof: cannot write {path}: {e}");
                                }
                            }
                            Err(e) => {
                                let _ = failed.send(Err(e));
                            }
                        }
                    })
                    .map_err(|e| ComponentError::new(format!("profiler thread: {e}")))?;
                match started.recv().await {
                    Some(Ok(())) => {}
                    Some(Err(e)) => {
                        let _ = thread.join();
                        return Err(ComponentError::new(format!("save_to_file: {e}")));
                    }
                    None => {
                        return Err(ComponentError::new(
                            "save_to_file: the profiler thread ended",
                        ));
                    }
                }
                *self.whole_run.lock().unwrap_or_else(|e| e.into_inner()) = Some((tx, thread));
            }
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            self.server.stop();
            let whole_run = self
                .whole_run
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some((stop, thread)) = whole_run {
                let _ = stop.send(());
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
            Ok(())
        })
    }
}

impl Extension for Pprof {}

#[cfg(test)]
mod tests;
