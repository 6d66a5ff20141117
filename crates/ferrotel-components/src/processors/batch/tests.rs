use std::time::Duration;

use ferrotel_pdata::Signal;
use ferrotel_runtime::*;

use super::*;
use crate::testing::{Recorder, ctx, traces};

fn batch(cfg: BatchConfig, next: std::sync::Arc<Recorder>) -> std::sync::Arc<dyn Processor> {
    BatchProcessorFactory
        .create(ctx("batch", Kind::Processor), cfg, Signal::Traces, next)
        .unwrap()
}

#[tokio::test]
async fn sends_when_size_is_reached_and_preserves_order() {
    let rec = Recorder::new();
    let p = batch(
        BatchConfig {
            send_batch_size: 4,
            timeout: Duration::from_secs(3600),
            ..Default::default()
        },
        rec.clone(),
    );
    p.start().await.unwrap();
    p.consume(traces("a", &["1", "2"]), Context::default())
        .await
        .unwrap();
    assert_eq!(rec.items(), 0, "below send_batch_size nothing is sent");
    p.consume(traces("b", &["3", "4", "5"]), Context::default())
        .await
        .unwrap();
    assert_eq!(rec.got.lock().unwrap().len(), 1, "one merged batch");
    assert_eq!(rec.span_names(), ["1", "2", "3", "4", "5"]);
    p.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn sends_after_timeout() {
    let rec = Recorder::new();
    let p = batch(
        BatchConfig {
            send_batch_size: 100,
            timeout: Duration::from_millis(200),
            ..Default::default()
        },
        rec.clone(),
    );
    p.start().await.unwrap();
    p.consume(traces("a", &["1"]), Context::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(rec.items(), 0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(rec.items(), 1);
    p.shutdown().await.unwrap();
}

#[tokio::test]
async fn splits_by_max_size() {
    let rec = Recorder::new();
    let p = batch(
        BatchConfig {
            send_batch_size: 3,
            send_batch_max_size: 3,
            timeout: Duration::from_secs(3600),
            ..Default::default()
        },
        rec.clone(),
    );
    p.start().await.unwrap();
    p.consume(
        traces("a", &["1", "2", "3", "4", "5", "6", "7"]),
        Context::default(),
    )
    .await
    .unwrap();
    let sizes = || -> Vec<usize> { rec.got.lock().unwrap().iter().map(|p| p.items()).collect() };
    // As in Go, the tail smaller than send_batch_size waits for more data or the timeout.
    assert_eq!(sizes(), [3, 3]);
    p.consume(traces("b", &["8", "9"]), Context::default())
        .await
        .unwrap();
    assert_eq!(
        sizes(),
        [3, 3, 3],
        "the tail went out first with the next data"
    );
    p.consume(traces("c", &["10"]), Context::default())
        .await
        .unwrap();
    p.shutdown().await.unwrap();
    assert_eq!(sizes(), [3, 3, 3, 1]);
    assert_eq!(
        rec.span_names(),
        ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]
    );
}

#[tokio::test(start_paused = true)]
async fn split_tail_is_sent_by_the_timeout() {
    let rec = Recorder::new();
    let p = batch(
        BatchConfig {
            send_batch_size: 2,
            send_batch_max_size: 2,
            timeout: Duration::from_millis(200),
            ..Default::default()
        },
        rec.clone(),
    );
    p.start().await.unwrap();
    p.consume(traces("a", &["1", "2", "3"]), Context::default())
        .await
        .unwrap();
    assert_eq!(rec.items(), 2);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(rec.items(), 3);
    p.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_flushes_pending_data() {
    let rec = Recorder::new();
    let p = batch(
        BatchConfig {
            send_batch_size: 100,
            timeout: Duration::from_secs(3600),
            ..Default::default()
        },
        rec.clone(),
    );
    p.start().await.unwrap();
    p.consume(traces("a", &["1", "2"]), Context::default())
        .await
        .unwrap();
    p.shutdown().await.unwrap();
    assert_eq!(rec.items(), 2);
    assert!(
        p.consume(traces("a", &["x"]), Context::default())
            .await
            .unwrap_err()
            .is_retryable()
    );
}

#[tokio::test]
async fn separate_batches_per_metadata_value() {
    let rec = Recorder::new();
    let cfg = BatchConfig {
        send_batch_size: 2,
        timeout: Duration::from_secs(3600),
        metadata_keys: vec!["tenant".into()],
        ..Default::default()
    };
    let p = batch(cfg, rec.clone());
    p.start().await.unwrap();
    let tenant = |t: &str| Context {
        client: Some(std::sync::Arc::new(ClientInfo {
            metadata: vec![("tenant".into(), t.into())],
            ..Default::default()
        })),
    };
    p.consume(traces("a", &["a1"]), tenant("a")).await.unwrap();
    p.consume(traces("b", &["b1"]), tenant("b")).await.unwrap();
    assert_eq!(rec.items(), 0, "one item per tenant: below the size");
    p.consume(traces("a", &["a2"]), tenant("a")).await.unwrap();
    assert_eq!(rec.span_names(), ["a1", "a2"]);
    p.shutdown().await.unwrap();
    assert_eq!(rec.items(), 3);
}

fn with_metadata(pairs: &[(&str, &str)]) -> Context {
    Context {
        client: Some(std::sync::Arc::new(ClientInfo {
            metadata: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        })),
    }
}

/// Go: "Empty value and unset metadata are treated as distinct cases"; several values of a
/// key are kept apart from one value holding a comma; keys are case-insensitive.
#[tokio::test]
async fn metadata_unset_empty_and_multiple_values_are_distinct() {
    let rec = Recorder::new();
    let cfg = BatchConfig {
        send_batch_size: 2,
        timeout: Duration::from_secs(3600),
        metadata_keys: vec!["tenant".into(), "zone".into()],
        ..Default::default()
    };
    let p = batch(cfg, rec.clone());
    p.start().await.unwrap();
    let contexts = [
        Context::default(),
        with_metadata(&[("tenant", "")]),
        with_metadata(&[("tenant", "a,b")]),
        with_metadata(&[("tenant", "a"), ("tenant", "b")]),
        with_metadata(&[("zone", "a")]),
        with_metadata(&[("tenant", "a")]),
    ];
    for (i, c) in contexts.iter().enumerate() {
        p.consume(traces("s", &[&i.to_string()]), c.clone())
            .await
            .unwrap();
    }
    assert_eq!(rec.items(), 0, "six keys, one item each");
    // The same keys again, spelled in another case: each batch reaches 2.
    p.consume(
        traces("s", &["x"]),
        with_metadata(&[("TENANT", "a"), ("Tenant", "b")]),
    )
    .await
    .unwrap();
    assert_eq!(rec.span_names(), ["3", "x"]);
    p.shutdown().await.unwrap();
    assert_eq!(rec.items(), 7);
}

/// `metadata_cardinality_limit` counts combinations over the process's lifetime (Go never
/// forgets a shard) and refuses new ones permanently; 0 is no limit.
#[tokio::test]
async fn metadata_cardinality_limit_is_for_the_lifetime() {
    let rec = Recorder::new();
    let cfg = BatchConfig {
        send_batch_size: 1,
        timeout: Duration::from_secs(3600),
        metadata_keys: vec!["tenant".into()],
        metadata_cardinality_limit: 2,
        ..Default::default()
    };
    let p = batch(cfg.clone(), rec.clone());
    p.start().await.unwrap();
    let t = |v: &str| with_metadata(&[("tenant", v)]);
    p.consume(traces("s", &["a"]), t("a")).await.unwrap();
    p.consume(traces("s", &["b"]), t("b")).await.unwrap();
    assert_eq!(rec.items(), 2, "both sent: nothing is pending any more");
    let e = p.consume(traces("s", &["c"]), t("c")).await.unwrap_err();
    assert!(!e.is_retryable(), "{e:?}");
    assert!(e.message.contains("metadata_cardinality_limit 2"), "{e:?}");
    p.consume(traces("s", &["a2"]), t("a")).await.unwrap();
    p.shutdown().await.unwrap();
    assert_eq!(rec.span_names(), ["a", "b", "a2"]);

    let unlimited = batch(
        BatchConfig {
            metadata_cardinality_limit: 0,
            ..cfg
        },
        Recorder::new(),
    );
    unlimited.start().await.unwrap();
    for i in 0..50 {
        unlimited
            .consume(traces("s", &["x"]), t(&i.to_string()))
            .await
            .unwrap();
    }
    unlimited.shutdown().await.unwrap();
}

#[test]
fn duplicate_metadata_keys_are_a_config_error() {
    let e = crate::testing::config_error::<BatchConfig>("metadata_keys: [tenant, zone, Tenant]\n");
    assert!(
        e.contains("metadata_keys[2]")
            && e.contains("duplicate entry in metadata_keys: \"tenant\""),
        "{e}"
    );
}

#[tokio::test]
async fn refused_batches_are_counted_not_silent() {
    let rec = Recorder::new();
    *rec.fail.lock().unwrap() = Some(ConsumeError::permanent("backend says no"));
    let c = ctx("batch", Kind::Processor);
    let telemetry = c.telemetry.clone();
    let p = BatchProcessorFactory
        .create(
            c,
            BatchConfig {
                send_batch_size: 1,
                timeout: Duration::from_secs(3600),
                ..Default::default()
            },
            Signal::Traces,
            rec.clone(),
        )
        .unwrap();
    p.start().await.unwrap();
    p.consume(traces("a", &["1", "2"]), Context::default())
        .await
        .unwrap();
    assert_eq!(
        telemetry.sum("otelcol_processor_dropped_items", &[("processor", "batch")]),
        2
    );
    let by = |reason| {
        telemetry.sum(
            "otelcol_processor_batch_dropped_items",
            &[("processor", "batch"), ("reason", reason)],
        )
    };
    assert_eq!(by("refused_permanent"), 2);
    // A retryable refusal cannot be retried by the batch either: dropped, counted apart.
    *rec.fail.lock().unwrap() = Some(ConsumeError::retryable("busy", None));
    p.consume(traces("a", &["3"]), Context::default())
        .await
        .unwrap();
    assert_eq!(by("refused_retryable"), 1);
    assert_eq!(by("refused_permanent"), 2);
    assert_eq!(by("split_failed"), 0);
    p.shutdown().await.unwrap();
}

/// Profiles requests with dictionaries cannot be merged at the byte level: the batch sends
/// them one by one, losing nothing.
#[tokio::test]
async fn unmergeable_profiles_are_sent_unmerged() {
    use ferrotel_pdata::proto::collector::profiles::v1development::ExportProfilesServiceRequest;
    use ferrotel_pdata::proto::profiles::v1development::{
        Profile, ProfilesDictionary, ResourceProfiles, ScopeProfiles,
    };
    use ferrotel_pdata::{Payload, Request};
    let req = |name: &str| {
        Payload::from_request(Request::Profiles(ExportProfilesServiceRequest {
            resource_profiles: vec![ResourceProfiles {
                scope_profiles: vec![ScopeProfiles {
                    profiles: vec![Profile::default()],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            dictionary: Some(ProfilesDictionary {
                string_table: vec![String::new(), name.into()],
                ..Default::default()
            }),
        }))
    };
    let rec = Recorder::new();
    let p = BatchProcessorFactory
        .create(
            ctx("batch", Kind::Processor),
            BatchConfig {
                send_batch_size: 2,
                timeout: Duration::from_secs(3600),
                ..Default::default()
            },
            Signal::Profiles,
            rec.clone(),
        )
        .unwrap();
    p.start().await.unwrap();
    p.consume(req("a"), Context::default()).await.unwrap();
    p.consume(req("b"), Context::default()).await.unwrap();
    assert_eq!(rec.got.lock().unwrap().len(), 2, "sent as two requests");
    assert_eq!(rec.items(), 2);
    p.shutdown().await.unwrap();
}
