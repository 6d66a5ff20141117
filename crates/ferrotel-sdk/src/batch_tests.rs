//! Batch processor behaviour, all on plain threads (no tokio runtime anywhere).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::InstrumentationScope;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};

use super::*;
use crate::span::Attributes;

fn span(i: u64) -> Box<SpanData> {
    static SCOPE: std::sync::OnceLock<InstrumentationScope> = std::sync::OnceLock::new();
    Box::new(SpanData {
        span_context: SpanContext::new(
            TraceId::from(u128::from(i) + 1),
            SpanId::from(i + 1),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ),
        parent_span_id: SpanId::INVALID,
        parent_is_remote: false,
        kind: SpanKind::Internal,
        name: "s".into(),
        start_time: std::time::SystemTime::now(),
        end_time: std::time::SystemTime::now(),
        attributes: Attributes::new(),
        shared_attributes: Default::default(),
        inline_attributes: Default::default(),
        dropped_attributes_count: 0,
        events: Vec::new(),
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        status: Status::Unset,
        scope: SCOPE.get_or_init(|| InstrumentationScope::builder("t").build()),
    })
}

/// Records batch sizes; optionally stalls each export (ignoring its deadline, like a broken
/// exporter would).
#[derive(Clone, Default)]
struct Recorder {
    batches: Arc<Mutex<Vec<usize>>>,
    stall: Option<Duration>,
}

impl SpanExporter for Recorder {
    fn export(&mut self, batch: Vec<Box<SpanData>>, _deadline: Instant) -> Result<(), SdkError> {
        if let Some(d) = self.stall {
            std::thread::sleep(d);
        }
        self.batches.lock().unwrap().push(batch.len());
        Ok(())
    }
}

impl Recorder {
    fn total(&self) -> usize {
        self.batches.lock().unwrap().iter().sum()
    }
}

fn config(delay_ms: u64, queue: usize, batch: usize) -> BatchConfig {
    BatchConfig {
        schedule_delay: Duration::from_millis(delay_ms),
        max_queue_size: queue,
        max_export_batch_size: batch,
        export_timeout: Duration::from_secs(5),
    }
}

#[test]
fn no_early_export_below_the_batch_size_then_flush() {
    let rec = Recorder::default();
    let p = BatchSpanProcessor::builder(rec.clone())
        .with_config(config(60_000, 100, 5))
        .build();
    for i in 0..3 {
        p.on_end(span(i));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(rec.total(), 0, "exported before a full batch or the delay");
    p.force_flush(Duration::from_secs(5)).unwrap();
    assert_eq!(*rec.batches.lock().unwrap(), vec![3]);
}

#[test]
fn a_full_batch_is_exported_without_waiting_for_the_delay() {
    let rec = Recorder::default();
    let p = BatchSpanProcessor::builder(rec.clone())
        .with_config(config(60_000, 100, 4))
        .build();
    for i in 0..9 {
        p.on_end(span(i));
    }
    let start = Instant::now();
    while rec.total() < 8 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(*rec.batches.lock().unwrap(), vec![4, 4]);
    p.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(*rec.batches.lock().unwrap(), vec![4, 4, 1]);
}

#[test]
fn the_schedule_delay_exports_a_partial_batch() {
    let rec = Recorder::default();
    let p = BatchSpanProcessor::builder(rec.clone())
        .with_config(config(50, 100, 50))
        .build();
    p.on_end(span(1));
    let start = Instant::now();
    while rec.total() < 1 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(rec.total(), 1);
}

#[test]
fn a_full_queue_drops_and_counts_without_blocking() {
    let rec = Recorder {
        stall: Some(Duration::from_millis(300)),
        ..Default::default()
    };
    let p = BatchSpanProcessor::builder(rec.clone())
        .with_config(config(10, 10, 5))
        .build();
    let stats = p.stats_handle();
    let start = Instant::now();
    for i in 0..10_000 {
        p.on_end(span(i));
    }
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(250),
        "on_end blocked: {took:?}"
    );
    let s = stats.get();
    assert!(s.dropped >= 9_980, "{s:?}");
    assert!(s.queued <= 10, "{s:?}");
    p.shutdown(Duration::from_secs(5)).unwrap();
    let s = stats.get();
    assert_eq!(s.dropped + s.exported, 10_000, "{s:?}");
    assert_eq!(s.queued, 0);
}

#[test]
fn shutdown_returns_within_its_timeout_when_the_exporter_stalls() {
    let rec = Recorder {
        stall: Some(Duration::from_secs(3)),
        ..Default::default()
    };
    let p = BatchSpanProcessor::builder(rec)
        .with_config(config(60_000, 100, 10))
        .build();
    for i in 0..5 {
        p.on_end(span(i));
    }
    let start = Instant::now();
    let r = p.shutdown(Duration::from_millis(200));
    assert!(matches!(r, Err(SdkError::Timeout(_))), "{r:?}");
    assert!(start.elapsed() < Duration::from_millis(1000));
    // After shutdown, spans are dropped and counted, never queued.
    p.on_end(span(9));
    assert_eq!(p.stats_handle().get().dropped, 1);
    assert_eq!(
        p.shutdown(Duration::from_millis(10)),
        Err(SdkError::AlreadyShutdown)
    );
}

#[test]
fn unsampled_spans_are_not_exported() {
    let rec = Recorder::default();
    let p = BatchSpanProcessor::builder(rec.clone())
        .with_config(config(60_000, 100, 10))
        .build();
    let mut s = span(1);
    s.span_context = SpanContext::new(
        TraceId::from(1u128),
        SpanId::from(1u64),
        TraceFlags::default(),
        false,
        TraceState::NONE,
    );
    p.on_end(s);
    p.shutdown(Duration::from_secs(1)).unwrap();
    assert_eq!(rec.total(), 0);
}

#[test]
fn many_threads_at_once() {
    let rec = Recorder::default();
    let p = Arc::new(
        BatchSpanProcessor::builder(rec.clone())
            .with_config(config(20, 100_000, 512))
            .build(),
    );
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let p = p.clone();
            s.spawn(move || {
                for i in 0..2000 {
                    p.on_end(span(t * 10_000 + i));
                }
            });
        }
    });
    p.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(rec.total(), 16_000);
    assert!(rec.batches.lock().unwrap().iter().all(|b| *b <= 512));
}

#[test]
fn env_config() {
    use crate::env::lookup_from;
    let c = BatchConfig::from_lookup(&lookup_from(&[
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "128"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "250"),
    ]));
    assert_eq!(c, config(100, 64, 64).with_timeout(250));
    assert_eq!(
        BatchConfig::from_lookup(&lookup_from(&[])),
        BatchConfig::default()
    );
}

impl BatchConfig {
    fn with_timeout(mut self, ms: u64) -> Self {
        self.export_timeout = Duration::from_millis(ms);
        self
    }
}
