//! Refuse/accept transitions with an injected memory reading, admission, the background
//! check, limits and config errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use ferrotel_pdata::Signal;
use ferrotel_runtime::*;

use super::*;
use crate::testing::{Recorder, config, config_error, ctx, traces};

/// A limiter over a settable memory reading, counting allocator releases.
struct Rig {
    limiter: Arc<MemoryLimiter>,
    used: Arc<AtomicU64>,
    releases: Arc<AtomicUsize>,
    next: Arc<Recorder>,
    telemetry: Telemetry,
}

fn rig(yaml: &str) -> Rig {
    let cfg: MemoryLimiterConfig = config(yaml);
    cfg.validate().unwrap();
    let limits = cfg.limits(|| None).unwrap();
    let used = Arc::new(AtomicU64::new(0));
    let releases = Arc::new(AtomicUsize::new(0));
    let next = Recorder::new();
    let c = ctx("memory_limiter", Kind::Processor);
    let telemetry = c.telemetry.clone();
    let (u, r) = (used.clone(), releases.clone());
    let limiter = MemoryLimiter::new(
        &c,
        &cfg,
        limits,
        Signal::Traces,
        next.clone(),
        Box::new(move || Some(u.load(Ordering::Relaxed))),
        Box::new(move || {
            r.fetch_add(1, Ordering::Relaxed);
        }),
    );
    Rig {
        limiter: Arc::new(limiter),
        used,
        releases,
        next,
        telemetry,
    }
}

const MIB: u64 = 1024 * 1024;
const CFG: &str = "check_interval: 1s\nlimit_mib: 100\nspike_limit_mib: 20\n";

#[tokio::test]
async fn refuses_above_the_soft_limit_and_accepts_again_below() {
    let r = rig(CFG);
    assert_eq!(
        r.limiter.limits(),
        Limits {
            soft: 80 * MIB,
            hard: 100 * MIB
        }
    );
    r.used.store(50 * MIB, Ordering::Relaxed);
    r.limiter.check();
    assert!(!r.limiter.is_refusing());
    r.limiter
        .consume(traces("a", &["1", "2"]), Context::default())
        .await
        .unwrap();
    assert_eq!(r.next.items(), 2);

    // Above soft (80 MiB), below hard: refused, retryable, with a Retry-After.
    r.used.store(85 * MIB, Ordering::Relaxed);
    r.limiter.check();
    assert!(r.limiter.is_refusing());
    let e = r
        .limiter
        .consume(traces("a", &["3", "4", "5"]), Context::default())
        .await
        .unwrap_err();
    assert!(e.is_retryable());
    assert_eq!(e.message, REFUSED);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(r.next.items(), 2, "nothing passed on");
    assert_eq!(
        r.telemetry.sum(
            "otelcol_processor_refused_spans",
            &[("processor", "memory_limiter")]
        ),
        3
    );

    // Back below: accepted again.
    r.used.store(79 * MIB, Ordering::Relaxed);
    r.limiter.check();
    assert!(!r.limiter.is_refusing());
    r.limiter
        .consume(traces("a", &["6"]), Context::default())
        .await
        .unwrap();
    assert_eq!(r.next.items(), 3);
}

#[tokio::test]
async fn admit_refuses_before_the_body_is_read() {
    let r = rig(CFG);
    assert!(r.limiter.admit(Signal::Traces).is_ok());
    r.used.store(90 * MIB, Ordering::Relaxed);
    r.limiter.check();
    let e = r.limiter.admit(Signal::Traces).unwrap_err();
    assert!(e.is_retryable());
    assert!(e.retry_after().is_some());
    assert_eq!(
        r.telemetry.sum(
            "otelcol_processor_refused_requests",
            &[("processor", "memory_limiter")]
        ),
        1
    );
    r.used.store(10 * MIB, Ordering::Relaxed);
    r.limiter.check();
    assert!(r.limiter.admit(Signal::Traces).is_ok());
}

#[tokio::test]
async fn admit_forwards_the_next_stages_answer() {
    struct Full;
    impl Consumer for Full {
        fn consume(
            &self,
            _: ferrotel_pdata::Payload,
            _: Context,
        ) -> BoxFuture<'_, Result<(), ConsumeError>> {
            Box::pin(async { Ok(()) })
        }
        fn admit(&self, _: Signal) -> Result<(), ConsumeError> {
            Err(ConsumeError::retryable("downstream full", None))
        }
    }
    let cfg: MemoryLimiterConfig = config(CFG);
    let limiter = MemoryLimiter::new(
        &ctx("memory_limiter", Kind::Processor),
        &cfg,
        cfg.limits(|| None).unwrap(),
        Signal::Traces,
        Arc::new(Full),
        Box::new(|| Some(0)),
        Box::new(|| {}),
    );
    limiter.check();
    assert_eq!(
        limiter.admit(Signal::Traces).unwrap_err().message,
        "downstream full"
    );
}

#[test]
fn releases_memory_above_limits_at_the_configured_pace() {
    // Soft interval 10 s (default), hard interval 0: every check above hard releases.
    let r = rig(CFG);
    r.used.store(85 * MIB, Ordering::Relaxed);
    r.limiter.check();
    assert_eq!(
        r.releases.load(Ordering::Relaxed),
        1,
        "first time above soft"
    );
    r.limiter.check();
    assert_eq!(
        r.releases.load(Ordering::Relaxed),
        1,
        "soft: at most once per 10 s"
    );
    r.used.store(120 * MIB, Ordering::Relaxed);
    r.limiter.check();
    r.limiter.check();
    assert_eq!(r.releases.load(Ordering::Relaxed), 3, "hard: every check");
    r.used.store(10 * MIB, Ordering::Relaxed);
    r.limiter.check();
    assert_eq!(r.releases.load(Ordering::Relaxed), 3, "below soft: never");
}

#[test]
fn decides_on_usage_after_the_release() {
    let r = rig(CFG);
    // A release that frees enough: the limiter never starts refusing.
    let used = r.used.clone();
    let cfg: MemoryLimiterConfig = config(CFG);
    let limiter = MemoryLimiter::new(
        &ctx("memory_limiter", Kind::Processor),
        &cfg,
        cfg.limits(|| None).unwrap(),
        Signal::Traces,
        Recorder::new(),
        Box::new({
            let used = used.clone();
            move || Some(used.load(Ordering::Relaxed))
        }),
        Box::new(move || used.store(40 * MIB, Ordering::Relaxed)),
    );
    r.used.store(110 * MIB, Ordering::Relaxed);
    limiter.check();
    assert!(!limiter.is_refusing());
    assert_eq!(limiter.last_used(), 40 * MIB);
}

#[tokio::test(start_paused = true)]
async fn background_task_checks_every_interval() {
    let r = rig(CFG);
    r.used.store(95 * MIB, Ordering::Relaxed);
    r.limiter.start().await.unwrap();
    assert!(r.limiter.is_refusing(), "checked at start");
    r.used.store(10 * MIB, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(r.limiter.is_refusing(), "not yet re-checked");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!r.limiter.is_refusing(), "re-checked after check_interval");
    r.limiter.shutdown().await.unwrap();
    r.limiter.shutdown().await.unwrap();
    r.used.store(95 * MIB, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!r.limiter.is_refusing(), "no checks after shutdown");
}

#[test]
fn limits_defaults_and_percentages() {
    let cfg: MemoryLimiterConfig = config("check_interval: 1s\nlimit_mib: 1000\n");
    assert_eq!(
        cfg.limits(|| None).unwrap(),
        Limits {
            soft: 800 * MIB,
            hard: 1000 * MIB
        },
        "spike defaults to 20 % of the limit"
    );
    let cfg: MemoryLimiterConfig =
        config("check_interval: 1s\nlimit_percentage: 80\nspike_limit_percentage: 25\n");
    assert_eq!(
        cfg.limits(|| Some(1000 * MIB)).unwrap(),
        Limits {
            soft: 550 * MIB,
            hard: 800 * MIB
        }
    );
    let cfg: MemoryLimiterConfig = config("check_interval: 1s\nlimit_percentage: 50\n");
    assert_eq!(
        cfg.limits(|| Some(1000 * MIB)).unwrap(),
        Limits {
            soft: 400 * MIB,
            hard: 500 * MIB
        }
    );
    assert!(cfg.limits(|| None).is_err());
    assert_eq!(
        MemoryLimiterConfig::default().min_gc_interval_when_soft_limited,
        Duration::from_secs(10)
    );
}

#[test]
fn available_memory_from_cgroups_and_meminfo() {
    let dir = tempfile::tempdir().unwrap();
    let meminfo = dir.path().join("meminfo");
    std::fs::write(&meminfo, "MemTotal:        2048 kB\nMemFree: 1 kB\n").unwrap();
    let cg = dir.path().join("cg");
    std::fs::create_dir_all(cg.join("memory")).unwrap();
    // No cgroup files: the machine's total.
    assert_eq!(
        memory::available_memory_at(&cg, &meminfo),
        Some(2048 * 1024)
    );
    // v1 "unlimited" (a huge number): still the machine's total.
    std::fs::write(
        cg.join("memory/memory.limit_in_bytes"),
        "9223372036854771712\n",
    )
    .unwrap();
    assert_eq!(
        memory::available_memory_at(&cg, &meminfo),
        Some(2048 * 1024)
    );
    // v2 "max" falls through to v1; a v2 limit wins.
    std::fs::write(cg.join("memory.max"), "max\n").unwrap();
    assert_eq!(
        memory::available_memory_at(&cg, &meminfo),
        Some(2048 * 1024)
    );
    std::fs::write(cg.join("memory.max"), "1048576\n").unwrap();
    assert_eq!(memory::available_memory_at(&cg, &meminfo), Some(1048576));
}

#[test]
fn process_rss_is_measured() {
    let rss = memory::ProcessRss::new().used_bytes().unwrap();
    assert!(
        rss > 1024 * 1024,
        "a test process holds more than 1 MiB: {rss}"
    );
}

#[test]
fn config_errors_read_as_the_go_collector() {
    let err = config_error::<MemoryLimiterConfig>;
    assert_eq!(
        err("limit_mib: 100\n"),
        "check_interval: 'check_interval' must be greater than zero"
    );
    assert_eq!(
        err("check_interval: 1s\n"),
        "limit_mib: 'limit_mib' or 'limit_percentage' must be greater than zero"
    );
    assert_eq!(
        err("check_interval: 1s\nlimit_mib: 100\nspike_limit_mib: 100\n"),
        "spike_limit_mib: 'spike_limit_mib' must be smaller than 'limit_mib'"
    );
    assert_eq!(
        err("check_interval: 1s\nlimit_percentage: 101\n"),
        "limit_percentage: 'limit_percentage' and 'spike_limit_percentage' must be greater than zero and less than or equal to hundred"
    );
    assert_eq!(
        err("check_interval: 1s\nlimit_percentage: 50\nspike_limit_percentage: 50\n"),
        "spike_limit_percentage: 'spike_limit_percentage' must be smaller than 'limit_percentage'"
    );
    assert_eq!(
        err(
            "check_interval: 1s\nlimit_mib: 10\nmin_gc_interval_when_soft_limited: 1s\nmin_gc_interval_when_hard_limited: 2s\n"
        ),
        "min_gc_interval_when_soft_limited: 'min_gc_interval_when_soft_limited' should be larger than 'min_gc_interval_when_hard_limited'"
    );
    assert!(err("check_interval: 1s\nlimit_mib: -1\n").contains("limit_mib"));
    assert!(err("check_interval: 1s\nlimit_mb: 1\n").contains("unknown field `limit_mb`"));
}

#[test]
fn factory_builds_with_real_memory_readings() {
    let p = MemoryLimiterFactory
        .create(
            ctx("memory_limiter", Kind::Processor),
            config("check_interval: 1s\nlimit_percentage: 90\n"),
            Signal::Logs,
            Recorder::new(),
        )
        .unwrap();
    assert!(p.admit(Signal::Logs).is_ok());
}
