//! `sending_queue::batch`: the settings as the Go exporterhelper resolves them, batches by
//! size and time, splitting by `max_size`, draining at shutdown, and a persistent queue that
//! acknowledges a request only once every batch holding it was sent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, any_value};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::{Payload, Request, Signal};

use super::*;
use crate::config::decode;
use crate::config::node::parse_yaml;
use crate::queue::{DiskQueueOptions, QueueStorage};
use crate::telemetry::Telemetry;

fn settings(yaml: &str) -> Result<QueueSettings, String> {
    let node = parse_yaml(yaml, "test").map_err(|e| e.to_string())?;
    let q: QueueSettings = decode(&node).map_err(|e| e.to_string())?;
    q.validate().map_err(|e| e.to_string())?;
    Ok(q)
}

fn batching(yaml: &str) -> Option<Batching> {
    settings(yaml).unwrap().batching().unwrap()
}

#[test]
fn batch_settings_resolve_as_the_go_exporterhelper() {
    // Absent: off (Go's default while its queueBatchEnabled gate is alpha).
    assert_eq!(batching("enabled: true"), None);
    let defaults = Batching {
        flush_timeout: Duration::from_millis(200),
        min_size: 8192,
        max_size: 0,
        sizer: Sizer::Items,
    };
    // Empty: on with the defaults, also when the queue's sizer is written.
    assert_eq!(batching("batch:"), Some(defaults));
    assert_eq!(batching("batch: {}"), Some(defaults));
    assert_eq!(
        batching("sizer: bytes\nqueue_size: 100000\nbatch:"),
        Some(defaults)
    );
    // Non-empty without its own sizer: the queue's written sizer, else items.
    assert_eq!(
        batching("sizer: bytes\nqueue_size: 2000\nbatch:\n  min_size: 100"),
        Some(Batching {
            min_size: 100,
            sizer: Sizer::Bytes,
            ..defaults
        })
    );
    assert_eq!(
        batching("queue_size: 2000\nbatch:\n  min_size: 100"),
        Some(Batching {
            min_size: 100,
            ..defaults
        })
    );
    assert_eq!(
        batching("batch:\n  flush_timeout: 1s\n  min_size: 10\n  max_size: 20\n  sizer: bytes"),
        Some(Batching {
            flush_timeout: Duration::from_secs(1),
            min_size: 10,
            max_size: 20,
            sizer: Sizer::Bytes,
        })
    );
    // Go's optional-section switch, and no batching without the queue.
    assert_eq!(batching("batch:\n  enabled: false"), None);
    assert_eq!(batching("enabled: false\nbatch:"), None);
}

#[test]
fn bad_batch_settings_say_what_and_where() {
    let err = |yaml: &str| settings(yaml).unwrap_err();
    assert!(
        err("sizer: requests\nbatch:\n  min_size: 10").contains(
            "sending_queue::batch::sizer: batching supports only the `items` or `bytes` sizer, found `requests`"
        ),
        "{}",
        err("sizer: requests\nbatch:\n  min_size: 10")
    );
    assert!(err("batch:\n  sizer: requests").contains("found `requests`"));
    assert!(
        err("batch:\n  flush_timeout: 0s")
            .contains("sending_queue::batch::flush_timeout: must be positive")
    );
    assert!(err("batch:\n  min_size: 100\n  max_size: 10").contains(
        "sending_queue::batch::max_size: (10) must be greater than or equal to min_size (100)"
    ));
    assert!(
        err("batch:\n  min_size: -1")
            .contains("sending_queue::batch::min_size: must not be negative")
    );
    assert!(
        err("sizer: items\nqueue_size: 10\nbatch:\n  min_size: 100").contains(
            "sending_queue::batch::min_size: (100) must be less than or equal to sending_queue::queue_size (10)"
        )
    );
    assert!(err("batch:\n  flush_timeout: soon").contains("flush_timeout"));
    assert!(err("batch:\n  min_items: 5").contains("unknown field `min_items`"));
    assert!(
        err("batch:\n  partition:\n    metadata_keys: [tenant]")
            .contains("sending_queue::batch::partition::metadata_keys")
    );
}

/// A log request of `n` records with bodies `first`, `first+1`, ...
fn logs(first: usize, n: usize) -> Payload {
    let records = (first..first + n)
        .map(|i| LogRecord {
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(i.to_string())),
            }),
            ..Default::default()
        })
        .collect();
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Payload::from_proto(Signal::Logs, Request::Logs(req).encode_proto()).unwrap()
}

fn bodies(p: &Payload) -> Vec<usize> {
    let Request::Logs(r) = p.to_request().unwrap() else {
        panic!("not logs")
    };
    r.resource_logs
        .iter()
        .flat_map(|rl| &rl.scope_logs)
        .flat_map(|sl| &sl.log_records)
        .map(|l| match &l.body {
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(s)),
            }) => s.parse().unwrap(),
            _ => panic!("no body"),
        })
        .collect()
}

/// Records each request it is sent (its bodies, and when); refuses retryably while `down`.
#[derive(Default)]
struct Sink {
    got: Mutex<Vec<(Vec<usize>, tokio::time::Instant)>>,
    down: AtomicBool,
}

impl Sink {
    fn sizes(&self) -> Vec<usize> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(b, _)| b.len())
            .collect()
    }
    fn all(&self) -> Vec<usize> {
        let mut all: Vec<usize> = self
            .got
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(b, _)| b.clone())
            .collect();
        all.sort_unstable();
        all
    }
}

impl Sender for Sink {
    fn send(&self, payload: Payload, _ctx: Context) -> BoxFuture<'_, Result<(), SendFailure>> {
        Box::pin(async move {
            if self.down.load(Ordering::SeqCst) {
                return Err(SendFailure::retryable("down"));
            }
            self.got
                .lock()
                .unwrap()
                .push((bodies(&payload), tokio::time::Instant::now()));
            Ok(())
        })
    }
}

struct Storage(std::path::PathBuf);

impl Extension for Storage {
    fn capabilities(&self) -> Vec<Box<dyn std::any::Any + Send + Sync>> {
        let s: Arc<dyn QueueStorage> = Arc::new(Storage(self.0.clone()));
        vec![Box::new(s)]
    }
}
impl Lifecycle for Storage {}
impl QueueStorage for Storage {
    fn queue_options(&self, owner: &ComponentId) -> Result<DiskQueueOptions, ComponentError> {
        Ok(DiskQueueOptions::new(
            self.0.join(owner.to_string().replace('/', "_")),
        ))
    }
}

fn create_ctx(storage: Option<&std::path::Path>) -> CreateContext {
    let extensions: Vec<(ComponentId, Arc<dyn Extension>)> = storage
        .map(|d| {
            let ext: Arc<dyn Extension> = Arc::new(Storage(d.to_path_buf()));
            vec![("file_storage".parse().unwrap(), ext)]
        })
        .unwrap_or_default();
    CreateContext {
        id: "otlp/batched".parse().unwrap(),
        kind: Kind::Exporter,
        pipeline: None,
        telemetry: Telemetry::new(),
        extensions: Arc::new(extensions),
    }
}

fn retry() -> RetrySettings {
    RetrySettings {
        initial_interval: Duration::from_millis(10),
        max_interval: Duration::from_millis(20),
        max_elapsed_time: Duration::ZERO,
        ..Default::default()
    }
}

async fn exporter(
    yaml: &str,
    sink: &Arc<Sink>,
    storage: Option<&std::path::Path>,
) -> QueuedExporter {
    let q = settings(yaml).unwrap();
    let e = QueuedExporter::new(
        &create_ctx(storage),
        sink.clone(),
        &q,
        retry(),
        Duration::from_secs(5),
    )
    .unwrap();
    e.start().await.unwrap();
    e
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn single_item_requests_arrive_in_batches_of_min_size_then_by_timeout() {
    let sink = Arc::new(Sink::default());
    let e = exporter(
        "num_consumers: 2\nbatch:\n  flush_timeout: 300ms\n  min_size: 10\n  max_size: 15",
        &sink,
        None,
    )
    .await;
    let start = tokio::time::Instant::now();
    for i in 0..25 {
        e.consume(logs(i, 1), Context::default()).await.unwrap();
    }
    wait_for("two full batches", || sink.sizes().len() >= 2).await;
    assert_eq!(sink.sizes(), vec![10, 10], "full batches go at min_size");
    assert!(
        start.elapsed() < Duration::from_millis(300),
        "full batches do not wait for the timeout"
    );
    wait_for("the rest, by the timeout", || sink.sizes().len() == 3).await;
    assert_eq!(sink.sizes(), vec![10, 10, 5]);
    let last = sink.got.lock().unwrap()[2].1;
    assert!(
        last - start >= Duration::from_millis(300),
        "a short batch waits flush_timeout"
    );
    assert_eq!(sink.all(), (0..25).collect::<Vec<_>>());
    e.shutdown().await.unwrap();
}

#[tokio::test]
async fn requests_are_split_to_max_size() {
    let sink = Arc::new(Sink::default());
    let e = exporter(
        "num_consumers: 1\nsizer: items\nqueue_size: 1000\nbatch:\n  flush_timeout: 10s\n  min_size: 10\n  max_size: 10",
        &sink,
        None,
    )
    .await;
    // 7 + 7 + 7 + 30 = 51 items: five batches of exactly 10, one left that waits.
    let mut next = 0;
    for n in [7, 7, 7, 30] {
        e.consume(logs(next, n), Context::default()).await.unwrap();
        next += n;
    }
    wait_for("five batches", || sink.sizes().len() == 5).await;
    assert_eq!(sink.sizes(), vec![10; 5]);
    // Order is kept within the one consumer.
    let first: Vec<usize> = sink.got.lock().unwrap()[0].0.clone();
    assert_eq!(first, (0..10).collect::<Vec<_>>());
    // Shutdown sends the last item without waiting for the timeout.
    tokio::time::timeout(Duration::from_secs(2), e.shutdown())
        .await
        .expect("shutdown drains without waiting for flush_timeout")
        .unwrap();
    assert_eq!(sink.sizes(), vec![10, 10, 10, 10, 10, 1]);
    assert_eq!(sink.all(), (0..51).collect::<Vec<_>>());
}

#[tokio::test]
async fn bytes_sizer_bounds_the_encoded_size() {
    let sink = Arc::new(Sink::default());
    let one = measure(Sizer::Bytes, &logs(100, 1)) as i64;
    let e = exporter(
        &format!(
            "num_consumers: 1\nbatch:\n  sizer: bytes\n  flush_timeout: 10s\n  min_size: {}\n  max_size: {}",
            one * 4,
            one * 6
        ),
        &sink,
        None,
    )
    .await;
    e.consume(logs(100, 40), Context::default()).await.unwrap();
    e.shutdown().await.unwrap();
    let got = sink.got.lock().unwrap().clone();
    assert!(got.len() > 1, "split: {:?}", sink.sizes());
    for (b, _) in &got {
        let size = measure(Sizer::Bytes, &logs(100, b.len())) as i64;
        assert!(size <= one * 6, "batch of {size} bytes over max_size");
    }
    assert_eq!(sink.all(), (100..140).collect::<Vec<_>>());
}

#[tokio::test]
async fn persistent_queue_acknowledges_only_sent_batches() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "num_consumers: 1\nstorage: file_storage\nbatch:\n  flush_timeout: 50ms\n  min_size: 5\n  max_size: 5";
    let sink = Arc::new(Sink::default());
    sink.down.store(true, Ordering::SeqCst);
    let e = exporter(yaml, &sink, Some(dir.path())).await;
    // 3 + 3 + 3 + 3: batches split the second and fourth requests.
    for i in 0..4 {
        e.consume(logs(i * 3, 3), Context::default()).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    // The destination is down: shutdown keeps every request on disk.
    e.shutdown().await.unwrap();
    drop(e);
    assert!(sink.sizes().is_empty());

    // Restart with the destination up: everything arrives, in batches of at most 5.
    sink.down.store(false, Ordering::SeqCst);
    let e = exporter(yaml, &sink, Some(dir.path())).await;
    wait_for("all 12 items", || sink.all().len() == 12).await;
    assert_eq!(sink.all(), (0..12).collect::<Vec<_>>());
    assert!(sink.sizes().iter().all(|&n| n <= 5), "{:?}", sink.sizes());
    e.shutdown().await.unwrap();
    drop(e);

    // All were acknowledged: a third start replays nothing.
    let again = Arc::new(Sink::default());
    let e = exporter(yaml, &again, Some(dir.path())).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    e.shutdown().await.unwrap();
    assert!(again.sizes().is_empty(), "replayed {:?}", again.sizes());
}
