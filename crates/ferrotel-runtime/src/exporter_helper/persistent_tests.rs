//! `QueuedExporter` with a persistent queue: acknowledged data survives a restart and is sent
//! first, shutdown keeps what is undelivered, capacity and drops are counted.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, any_value};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::{Payload, Request, Signal};

use super::*;
use crate::queue::{DiskQueueOptions, QueueStorage};
use crate::telemetry::Telemetry;

fn log(body: &str) -> Payload {
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(body.into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Payload::from_proto(Signal::Logs, Request::Logs(req).encode_proto()).unwrap()
}

fn body_of(p: &Payload) -> String {
    let Request::Logs(r) = p.to_request().unwrap() else {
        panic!("not logs")
    };
    match &r.resource_logs[0].scope_logs[0].log_records[0].body {
        Some(AnyValue {
            value: Some(any_value::Value::StringValue(s)),
        }) => s.clone(),
        _ => panic!("no body"),
    }
}

/// Records what it sends; refuses (retryably) while `down`.
#[derive(Default)]
struct FakeSender {
    got: Mutex<Vec<String>>,
    down: AtomicBool,
}

impl Sender for FakeSender {
    fn send(&self, payload: Payload, _ctx: Context) -> BoxFuture<'_, Result<(), SendFailure>> {
        Box::pin(async move {
            if self.down.load(Ordering::SeqCst) {
                return Err(SendFailure::retryable("down"));
            }
            self.got.lock().unwrap().push(body_of(&payload));
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

fn ctx(dir: &std::path::Path, telemetry: &Telemetry) -> CreateContext {
    let ext: Arc<dyn Extension> = Arc::new(Storage(dir.to_path_buf()));
    CreateContext {
        id: "otlp/x".parse().unwrap(),
        kind: Kind::Exporter,
        pipeline: None,
        telemetry: telemetry.clone(),
        extensions: Arc::new(vec![("file_storage".parse().unwrap(), ext)]),
    }
}

fn settings(size: u64) -> QueueSettings {
    QueueSettings {
        num_consumers: 1,
        queue_size: size,
        storage: Some("file_storage".parse().unwrap()),
        ..Default::default()
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
async fn undelivered_data_survives_restart_and_goes_first() {
    let dir = tempfile::tempdir().unwrap();
    let t = Telemetry::new();
    let sender = Arc::new(FakeSender::default());
    sender.down.store(true, Ordering::SeqCst);
    let e = QueuedExporter::new(
        &ctx(dir.path(), &t),
        sender.clone(),
        &settings(10),
        retry(),
        Duration::from_secs(1),
    )
    .unwrap();
    e.start().await.unwrap();
    for i in 0..4 {
        e.consume(log(&format!("old{i}")), Context::default())
            .await
            .unwrap();
    }
    assert_eq!(
        t.value("otelcol_exporter_queue_size", &[("exporter", "otlp/x")]),
        Some(4)
    );
    e.shutdown().await.unwrap();
    assert!(sender.got.lock().unwrap().is_empty());
    assert_eq!(
        t.sum("otelcol_exporter_send_failed_log_records", &[]),
        0,
        "kept, not dropped"
    );

    // Restart with the destination back: the old requests come first, then new ones.
    let t = Telemetry::new();
    let sender = Arc::new(FakeSender::default());
    let e = QueuedExporter::new(
        &ctx(dir.path(), &t),
        sender.clone(),
        &settings(10),
        retry(),
        Duration::from_secs(1),
    )
    .unwrap();
    e.start().await.unwrap();
    e.consume(log("new"), Context::default()).await.unwrap();
    wait_for("5 sent", || sender.got.lock().unwrap().len() == 5).await;
    assert_eq!(
        *sender.got.lock().unwrap(),
        ["old0", "old1", "old2", "old3", "new"]
    );
    wait_for("queue empty", || {
        t.value("otelcol_exporter_queue_size", &[("exporter", "otlp/x")]) == Some(0)
    })
    .await;
    e.shutdown().await.unwrap();

    // Everything was acknowledged: nothing replays.
    let sender = Arc::new(FakeSender::default());
    let e = QueuedExporter::new(
        &ctx(dir.path(), &Telemetry::new()),
        sender.clone(),
        &settings(10),
        retry(),
        Duration::from_secs(1),
    )
    .unwrap();
    e.start().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(sender.got.lock().unwrap().is_empty());
    e.shutdown().await.unwrap();
}

#[tokio::test]
async fn full_persistent_queue_refuses_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let t = Telemetry::new();
    let sender = Arc::new(FakeSender::default());
    sender.down.store(true, Ordering::SeqCst);
    let e = QueuedExporter::new(
        &ctx(dir.path(), &t),
        sender.clone(),
        &settings(3),
        retry(),
        Duration::from_secs(1),
    )
    .unwrap();
    e.start().await.unwrap();
    let mut refused = 0;
    for i in 0..5 {
        if e.consume(log(&format!("r{i}")), Context::default())
            .await
            .is_err()
        {
            refused += 1;
        }
    }
    // Capacity counts requests until they are delivered, in flight included.
    assert_eq!(refused, 2);
    assert_eq!(t.sum("otelcol_exporter_enqueue_failed_log_records", &[]), 2);
    assert_eq!(
        t.value("otelcol_exporter_queue_capacity", &[("exporter", "otlp/x")]),
        Some(3)
    );
    sender.down.store(false, Ordering::SeqCst);
    wait_for("3 sent", || sender.got.lock().unwrap().len() == 3).await;
    e.shutdown().await.unwrap();
}

#[tokio::test]
async fn missing_storage_extension_fails_the_build() {
    let t = Telemetry::new();
    let mut c = ctx(std::path::Path::new("/nonexistent"), &t);
    c.extensions = Arc::new(Vec::new());
    let err = QueuedExporter::new(
        &c,
        Arc::new(FakeSender::default()),
        &settings(3),
        retry(),
        Duration::from_secs(1),
    )
    .err()
    .expect("must fail");
    assert!(err.to_string().contains("file_storage"), "{err}");
}

#[tokio::test]
async fn consume_before_start_is_refused_retryably() {
    let dir = tempfile::tempdir().unwrap();
    let t = Telemetry::new();
    let e = QueuedExporter::new(
        &ctx(dir.path(), &t),
        Arc::new(FakeSender::default()),
        &settings(3),
        retry(),
        Duration::from_secs(1),
    )
    .unwrap();
    let err = e.consume(log("x"), Context::default()).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(
        t.value("otelcol_exporter_queue_size", &[("exporter", "otlp/x")]),
        Some(0)
    );
}
