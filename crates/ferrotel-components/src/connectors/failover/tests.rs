//! Failing over to lower levels, returning to a recovered level after a retry round, giving up
//! on a level after `max_retries`, whole-level failure, and config errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use ferrotel_pdata::{Payload, Signal};
use ferrotel_runtime::*;

use super::*;
use crate::testing::{config, config_error, ctx, traces};

/// A pipeline that counts what it is offered and can be switched to refuse.
#[derive(Default)]
struct Pipe {
    offered: AtomicUsize,
    accepted: AtomicUsize,
    down: AtomicBool,
}

impl Consumer for Pipe {
    fn consume(&self, _p: Payload, _c: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            self.offered.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err(ConsumeError::retryable("down", None));
            }
            self.accepted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }
}

fn setup(yaml: &str, n: usize) -> (Failover, Vec<Arc<Pipe>>) {
    let c: FailoverConfig = config(yaml);
    c.validate().unwrap();
    let pipes: Vec<Arc<Pipe>> = (0..n).map(|_| Arc::new(Pipe::default())).collect();
    let routes: Vec<(PipelineId, ConsumerRef)> = pipes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                format!("traces/p{i}").parse().unwrap(),
                p.clone() as ConsumerRef,
            )
        })
        .collect();
    let f = Failover::build(
        &ctx("failover", Kind::Connector),
        &c,
        Signal::Traces,
        &|id| routes.iter().find(|(p, _)| p == id).map(|(_, c)| c.clone()),
    )
    .unwrap();
    (f, pipes)
}

fn accepted(p: &[Arc<Pipe>]) -> Vec<usize> {
    p.iter()
        .map(|p| p.accepted.load(Ordering::SeqCst))
        .collect()
}

async fn send(f: &Failover) -> Result<(), ConsumeError> {
    f.consume(traces("s", &["x"]), Context::default()).await
}

#[tokio::test]
async fn fails_over_at_once_and_stays() {
    let (f, p) = setup("priority_levels: [[traces/p0], [traces/p1, traces/p2]]", 3);
    send(&f).await.unwrap();
    assert_eq!(accepted(&p), vec![1, 0, 0]);
    p[0].down.store(true, Ordering::SeqCst);
    // The payload that found p0 down is delivered to the whole next level.
    send(&f).await.unwrap();
    assert_eq!(accepted(&p), vec![1, 1, 1]);
    p[0].down.store(false, Ordering::SeqCst);
    send(&f).await.unwrap();
    assert_eq!(
        accepted(&p),
        vec![1, 2, 2],
        "no retry before retry_interval"
    );
    assert_eq!(f.levels_in_use(), (1, 1));
}

#[tokio::test]
async fn a_level_fails_when_one_of_its_pipelines_fails() {
    let (f, p) = setup("priority_levels: [[traces/p0, traces/p1], [traces/p2]]", 3);
    p[1].down.store(true, Ordering::SeqCst);
    send(&f).await.unwrap();
    assert_eq!(accepted(&p), vec![1, 0, 1]);
}

#[tokio::test]
async fn every_level_down_is_an_error() {
    let (f, p) = setup("priority_levels: [[traces/p0], [traces/p1]]", 2);
    p[0].down.store(true, Ordering::SeqCst);
    p[1].down.store(true, Ordering::SeqCst);
    let e = send(&f).await.unwrap_err();
    assert!(e.is_retryable());
    assert!(
        e.message
            .starts_with("failover: All provided pipelines return errors"),
        "{e}"
    );
}

#[tokio::test]
async fn returns_to_a_recovered_level_after_a_retry_round() {
    let (f, p) = setup(
        "priority_levels: [[traces/p0], [traces/p1]]\nretry_interval: 200ms\nretry_gap: 50ms",
        2,
    );
    f.start().await.unwrap();
    p[0].down.store(true, Ordering::SeqCst);
    send(&f).await.unwrap();
    assert_eq!(f.levels_in_use(), (1, 1));
    p[0].down.store(false, Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while f.levels_in_use().0 != 0 {
        assert!(std::time::Instant::now() < deadline, "no retry of level 0");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    send(&f).await.unwrap();
    assert_eq!(
        f.levels_in_use(),
        (0, 0),
        "level 0 took the data and is stable again"
    );
    assert_eq!(accepted(&p), vec![1, 1]);
    f.shutdown().await.unwrap();
    f.shutdown().await.unwrap();
}

#[tokio::test]
async fn gives_up_on_a_level_after_max_retries() {
    let (f, p) = setup(
        "priority_levels: [[traces/p0], [traces/p1]]\nretry_interval: 60ms\nretry_gap: 20ms\nmax_retries: 2",
        2,
    );
    f.start().await.unwrap();
    p[0].down.store(true, Ordering::SeqCst);
    // Keep traffic flowing: each retry of p0 fails and sends the data to p1.
    let deadline = std::time::Instant::now() + Duration::from_millis(1500);
    while std::time::Instant::now() < deadline {
        send(&f).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // 1 first failure + 2 failed retries, then never again.
    assert_eq!(p[0].offered.load(Ordering::SeqCst), 3);
    assert_eq!(f.levels_in_use(), (1, 1));
    f.shutdown().await.unwrap();
}

#[test]
fn config_errors() {
    let e = |y: &str| config_error::<FailoverConfig>(y);
    assert_eq!(
        e("{}"),
        "priority_levels: No pipelines are defined in the priority list"
    );
    assert_eq!(
        e("priority_levels: [[traces/a], []]"),
        "priority_levels[1]: a priority level needs at least one pipeline"
    );
    assert_eq!(
        e("priority_levels: [[traces/a], [traces/b]]\nretry_interval: 1m\nretry_gap: 30s"),
        "retry_interval: Retry interval must be positive, and retry_interval must be greater than retry_gap times the length of the priority list"
    );
    assert!(e("priority_levels: [[spans/a]]").starts_with("priority_levels[0][0]:"));
    let c = FailoverConfig::default();
    assert_eq!(
        (c.retry_interval, c.retry_gap, c.max_retries),
        (Duration::from_secs(600), Duration::from_secs(30), 10)
    );
}
