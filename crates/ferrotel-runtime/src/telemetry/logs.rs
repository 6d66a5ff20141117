//! The collector's own logs, via `tracing`, configured by `service::telemetry::logs`: level,
//! encoding, output stream, zap's sampling, and `processors` that send the records as OTLP
//! logs (the senders start once the async runtime runs: [`LogExport::start`]).

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::hash::{Hash, Hasher};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::{Payload, Request, Signal};
use tokio::sync::{Notify, watch};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriterExt};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use super::export::{EXPORT_LOG_TARGET, OwnResource, SenderFactory, send_logged};
use crate::config::telemetry::{LogOutput, LogProcessor, LogSampling, LogsTelemetry};

/// Installs the global subscriber: `level` (debug|info|warn|error), `encoding` (console|json),
/// to the configured stream, sampled as zap samples, and queued for the log processors.
/// `FERROTEL_LOG` (an EnvFilter directive) overrides the level. Does nothing (and exports
/// nothing) if a subscriber is already installed (tests).
pub fn init(cfg: &LogsTelemetry) -> LogExport {
    let filter =
        EnvFilter::try_from_env("FERROTEL_LOG").unwrap_or_else(|_| EnvFilter::new(&cfg.level));
    let export = LogExport {
        queues: cfg
            .processors
            .iter()
            .map(|p| Arc::new(LogQueue::new(p.clone())))
            .collect(),
        running: Mutex::new(Vec::new()),
    };
    let otlp = (!export.queues.is_empty()).then(|| OtlpLayer {
        queues: export.queues.clone(),
    });
    // Colours only for a terminal (as the Go Collector's console encoder, none in files and
    // pipes); NO_COLOR turns them off there too.
    let ansi = std::env::var_os("NO_COLOR").is_none()
        && match cfg.output {
            LogOutput::Stderr => std::io::stderr().is_terminal(),
            LogOutput::Stdout | LogOutput::Both => std::io::stdout().is_terminal(),
            LogOutput::Nowhere => false,
        };
    let writer = match cfg.output {
        LogOutput::Stderr => BoxMakeWriter::new(std::io::stderr),
        LogOutput::Stdout => BoxMakeWriter::new(std::io::stdout),
        LogOutput::Both => BoxMakeWriter::new(std::io::stderr.and(std::io::stdout)),
        LogOutput::Nowhere => BoxMakeWriter::new(std::io::sink),
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .with_target(false);
    let fmt = if cfg.encoding == "json" {
        // zap's JSON shape, as the Go Collector writes it (see zap_json.rs).
        fmt.event_format(super::zap_json::ZapJson).boxed()
    } else {
        fmt.boxed()
    };
    let sampler = cfg.sampling.as_ref().map(Sampler::new);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(sampler)
        .with(fmt)
        .with(otlp)
        .try_init();
    export
}

/// zap's sampler: counters per level and hashed message, reset each tick. A record is kept if
/// it is among the first `initial` of its kind in the tick, or every `thereafter`-th after.
/// Collisions between messages share a counter, as in zap (fixed memory, no lock).
struct Sampler {
    cfg: LogSampling,
    base: Instant,
    /// (reset deadline in ns since `base`, count) per level and bucket.
    counters: Box<[(AtomicU64, AtomicU64)]>,
}

const BUCKETS: usize = 1024;

impl Sampler {
    fn new(cfg: &LogSampling) -> Self {
        Sampler {
            cfg: cfg.clone(),
            base: Instant::now(),
            counters: (0..BUCKETS * 5)
                .map(|_| (AtomicU64::new(0), AtomicU64::new(0)))
                .collect(),
        }
    }

    /// Counts one record of `key` at `now_ns`; whether it is kept.
    fn keep(&self, key: usize, now_ns: u64) -> bool {
        let (reset_at, count) = &self.counters[key % self.counters.len()];
        let deadline = reset_at.load(Ordering::Relaxed);
        let n = if deadline > now_ns {
            count.fetch_add(1, Ordering::Relaxed) + 1
        } else if reset_at
            .compare_exchange(
                deadline,
                now_ns + self.cfg.tick.as_nanos() as u64,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok()
        {
            count.store(1, Ordering::Relaxed);
            1
        } else {
            count.fetch_add(1, Ordering::Relaxed) + 1
        };
        n <= self.cfg.initial
            || (self.cfg.thereafter > 0
                && (n - self.cfg.initial).is_multiple_of(self.cfg.thereafter))
    }
}

/// Hashes an event's message without allocating.
struct MessageHasher<'a>(&'a mut std::collections::hash_map::DefaultHasher);

impl fmt::Write for MessageHasher<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        s.hash(self.0);
        Ok(())
    }
}

impl Visit for MessageHasher<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self, "{value:?}");
        }
    }
}

fn level_index(l: &Level) -> usize {
    match *l {
        Level::TRACE => 0,
        Level::DEBUG => 1,
        Level::INFO => 2,
        Level::WARN => 3,
        Level::ERROR => 4,
    }
}

impl<S: Subscriber> Layer<S> for Sampler {
    // Returning false here drops the event for every layer (stderr and OTLP alike), as zap's
    // sampling core sits in front of all its outputs.
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        event.record(&mut MessageHasher(&mut h));
        let bucket = (h.finish() as usize) % BUCKETS;
        let key = level_index(event.metadata().level()) * BUCKETS + bucket;
        self.keep(key, self.base.elapsed().as_nanos() as u64)
    }
}

/// The records waiting for one log processor.
struct LogQueue {
    cfg: LogProcessor,
    records: Mutex<VecDeque<LogRecord>>,
    notify: Notify,
    dropped: AtomicU64,
}

impl LogQueue {
    fn new(cfg: LogProcessor) -> Self {
        LogQueue {
            cfg,
            records: Mutex::new(VecDeque::new()),
            notify: Notify::new(),
            dropped: AtomicU64::new(0),
        }
    }

    fn push(&self, record: LogRecord) {
        let mut q = self.records.lock().unwrap_or_else(|e| e.into_inner());
        // Full (the endpoint is down or slow): drop the newest, as the SDK's batch processor.
        if q.len() >= self.cfg.max_queue_size {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        q.push_back(record);
        let wake = !self.cfg.batch || q.len() >= self.cfg.max_export_batch_size;
        drop(q);
        if wake {
            self.notify.notify_one();
        }
    }

    fn take(&self, max: usize) -> Vec<LogRecord> {
        let mut q = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let n = q.len().min(max);
        q.drain(..n).collect()
    }
}

/// Turns events into OTLP log records on the processors' queues.
struct OtlpLayer {
    queues: Vec<Arc<LogQueue>>,
}

/// An event's message as the body, its other fields as attributes.
#[derive(Default)]
struct RecordVisitor {
    body: Option<String>,
    attributes: Vec<KeyValue>,
}

impl RecordVisitor {
    fn put(&mut self, field: &Field, value: any_value::Value) {
        self.attributes.push(KeyValue {
            key: field.name().to_owned(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        });
    }
}

impl Visit for RecordVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.body = Some(value.to_owned());
        } else {
            self.put(field, any_value::Value::StringValue(value.to_owned()));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, any_value::Value::IntValue(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, any_value::Value::IntValue(value as i64));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, any_value::Value::DoubleValue(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, any_value::Value::BoolValue(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.body = Some(format!("{value:?}"));
        } else {
            self.put(field, any_value::Value::StringValue(format!("{value:?}")));
        }
    }
}

impl<S: Subscriber> Layer<S> for OtlpLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        // ferrotel's own records only: dependencies' (hyper, h2, rustls) debug events would
        // be noise, and those of the export itself would feed back into the queue.
        if !meta.target().starts_with("ferrotel") || meta.target() == EXPORT_LOG_TARGET {
            return;
        }
        let mut v = RecordVisitor::default();
        event.record(&mut v);
        // zap's level names and the OTLP severity numbers for them.
        let (number, text) = match *meta.level() {
            Level::TRACE => (1, "debug"),
            Level::DEBUG => (5, "debug"),
            Level::INFO => (9, "info"),
            Level::WARN => (13, "warn"),
            Level::ERROR => (17, "error"),
        };
        let now = super::export::unix_nanos(SystemTime::now());
        let record = LogRecord {
            time_unix_nano: now,
            observed_time_unix_nano: now,
            severity_number: number,
            severity_text: text.into(),
            body: v.body.map(|b| AnyValue {
                value: Some(any_value::Value::StringValue(b)),
            }),
            attributes: v.attributes,
            ..Default::default()
        };
        for q in &self.queues {
            q.push(record.clone());
        }
    }
}

/// The log processors' queues, filled from [`init`] on, and their export loops.
pub struct LogExport {
    queues: Vec<Arc<LogQueue>>,
    running: Mutex<Vec<(watch::Sender<bool>, tokio::task::JoinHandle<()>)>>,
}

impl LogExport {
    /// Whether any processor is configured (and the subscriber was ours to install).
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Starts one export loop per processor (within a Tokio runtime). Records logged before
    /// this wait in the queues.
    pub fn start(&self, factory: &SenderFactory, resource: Arc<OwnResource>) -> Result<(), String> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        for (i, q) in self.queues.iter().enumerate() {
            let sender = factory(&q.cfg.exporter, Signal::Logs)
                .map_err(|e| format!("service::telemetry::logs::processors[{i}]: {e}"))?;
            let (stop, mut stopped) = watch::channel(false);
            let (q, resource) = (q.clone(), resource.clone());
            let task = tokio::spawn(async move {
                let what = format!("service::telemetry::logs::processors[{i}]");
                let flush = |max: usize| {
                    let records = q.take(max);
                    let (q, resource, sender, what) =
                        (q.clone(), resource.clone(), sender.clone(), what.clone());
                    async move {
                        if records.is_empty() {
                            return false;
                        }
                        let payload = logs_request(&resource, records);
                        send_logged(&*sender, payload, q.cfg.export_timeout, &what).await;
                        true
                    }
                };
                loop {
                    let stop = tokio::select! {
                        _ = tokio::time::sleep(q.cfg.schedule_delay), if q.cfg.batch => false,
                        _ = q.notify.notified() => false,
                        _ = stopped.changed() => true,
                    };
                    while flush(q.cfg.max_export_batch_size).await {}
                    if stop {
                        break;
                    }
                }
                let dropped = q.dropped.load(Ordering::Relaxed);
                if dropped > 0 {
                    tracing::warn!(target: EXPORT_LOG_TARGET, dropped, "{what}: queue was full; log records dropped");
                }
            });
            running.push((stop, task));
        }
        Ok(())
    }

    /// Sends what is queued and stops the export loops.
    pub async fn shutdown(&self) {
        let running = std::mem::take(&mut *self.running.lock().unwrap_or_else(|e| e.into_inner()));
        for (stop, task) in running {
            let _ = stop.send(true);
            let _ = task.await;
        }
    }
}

fn logs_request(resource: &OwnResource, records: Vec<LogRecord>) -> Payload {
    Payload::from_request(Request::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource.to_proto()),
            scope_logs: vec![ScopeLogs {
                scope: Some(super::export::scope()),
                log_records: records,
                ..Default::default()
            }],
            schema_url: resource.schema_url.clone(),
        }],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sampler_keeps_initial_then_every_thereafter_per_tick() {
        let s = Sampler::new(&LogSampling {
            tick: Duration::from_secs(1),
            initial: 2,
            thereafter: 3,
        });
        let kept: Vec<bool> = (0..8).map(|_| s.keep(7, 1_000)).collect();
        // 1, 2 (initial), then the 5th and 8th (every 3rd after the initial 2).
        assert_eq!(kept, [true, true, false, false, true, false, false, true]);
        // Another message has its own counter; the next tick starts over.
        assert!(s.keep(8, 1_000));
        assert!(s.keep(7, 2_000_000_000));
        assert!(s.keep(7, 2_000_000_001));
        assert!(!s.keep(7, 2_000_000_002));
    }

    #[test]
    fn sampler_with_thereafter_zero_drops_the_rest() {
        let s = Sampler::new(&LogSampling {
            tick: Duration::from_secs(1),
            initial: 1,
            thereafter: 0,
        });
        assert!(s.keep(0, 5));
        assert!(!s.keep(0, 6));
        assert!(!s.keep(0, 7));
    }
}
