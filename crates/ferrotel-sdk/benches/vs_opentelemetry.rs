//! ferrotel-sdk against opentelemetry-rust 0.33 (`opentelemetry_sdk`), same process, same run.
//!
//! `cargo bench -p ferrotel-sdk --bench vs_opentelemetry` prints per case the time per span of
//! both SDKs and `ratio: <case> = <ferrotel / opentelemetry-rust>`. Each case alternates the
//! two SDKs over several rounds and keeps each one's median, so load from other processes on
//! the machine hits both alike; times are the thread's CPU time, so time spent descheduled on
//! a shared machine does not count. Both providers sample with `AlwaysOn` (or `AlwaysOff` for the
//! unsampled case) into a processor that drops the finished span.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ferrotel_sdk::opentelemetry::trace::{
    Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _, mark_span_as_active,
};
use ferrotel_sdk::opentelemetry::{Context, KeyValue};

mod otel {
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanData, SpanProcessor};

    /// Drops every span: the cost measured is the SDK's.
    #[derive(Debug)]
    pub struct Drop;
    impl SpanProcessor for Drop {
        fn on_start(&self, _span: &mut Span, _cx: &ferrotel_sdk::opentelemetry::Context) {}
        fn on_end(&self, span: SpanData) {
            std::hint::black_box(span);
        }
        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }
        fn shutdown_with_timeout(&self, _t: std::time::Duration) -> OTelSdkResult {
            Ok(())
        }
    }

    pub fn provider(sampled: bool) -> SdkTracerProvider {
        use opentelemetry_sdk::trace::Sampler;
        SdkTracerProvider::builder()
            .with_sampler(if sampled {
                Sampler::AlwaysOn
            } else {
                Sampler::AlwaysOff
            })
            .with_span_processor(Drop)
            .build()
    }
}

fn ferrotel_provider(sampled: bool) -> ferrotel_sdk::TracerProvider {
    use ferrotel_sdk::{NoopSpanProcessor, Resource, Sampler, TracerProvider};
    TracerProvider::builder()
        .with_resource(Resource::default())
        .with_sampler(if sampled {
            Sampler::AlwaysOn
        } else {
            Sampler::AlwaysOff
        })
        .with_span_processor(NoopSpanProcessor)
        .build()
}

/// This thread's CPU time: time spent descheduled (the machine is shared) does not count.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer and the clock id exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

const ROUNDS: usize = 15;
const ITERS: u64 = 200_000;

/// Rounds and iterations per round: `BENCH_ITERS=N` runs one round of `N` (for callgrind: the
/// difference of two runs' instruction counts, over the difference of their iterations, is the
/// cost of one, setup excluded; each run also warms up with `N / 4 + 1`).
fn rounds_iters() -> (usize, u64) {
    match std::env::var("BENCH_ITERS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        Some(n) => (1, n),
        None => (ROUNDS, ITERS),
    }
}

/// Runs both sides alternately and prints the figures and the ratio.
fn compare(case: &str, mut ferrotel: impl FnMut(), mut otel: impl FnMut()) -> f64 {
    compare_n(
        case,
        |n| {
            for _ in 0..n {
                ferrotel()
            }
        },
        |n| {
            for _ in 0..n {
                otel()
            }
        },
    )
}

/// [`compare`] with closures that run `n` iterations themselves (to set up a `tracing`
/// dispatcher once per round rather than per span).
fn compare_n(case: &str, mut ferrotel: impl FnMut(u64), mut otel: impl FnMut(u64)) -> f64 {
    // `BENCH_ONLY=ferrotel` (or `opentelemetry`) runs one side only, `BENCH_CASE=<case>` that
    // case only: for profilers (scripts/sdk-instructions).
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if std::env::var("BENCH_CASE").is_ok_and(|c| c != case) {
        return f64::NAN;
    }
    let time = |iters: u64, f: &mut dyn FnMut(u64)| {
        let start = thread_cpu_ns();
        f(iters);
        (thread_cpu_ns() - start) as f64 / iters as f64
    };
    // Warm-up (caches, allocator, thread-locals).
    let (rounds, iters) = rounds_iters();
    let (run_a, run_b) = match only.as_str() {
        "ferrotel" => (iters, 1),
        "opentelemetry" => (1, iters),
        _ => (iters, iters),
    };
    time(run_a / 4 + 1, &mut ferrotel);
    time(run_b / 4 + 1, &mut otel);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        a.push(time(run_a, &mut ferrotel));
        b.push(time(run_b, &mut otel));
    }
    let (a, b) = (median(a), median(b));
    println!("{case}: ferrotel {a:.1} ns/span, opentelemetry-rust {b:.1} ns/span");
    println!("ratio: {case} = {:.3}", a / b);
    a / b
}

macro_rules! five_attrs {
    ($span:expr) => {
        if $span.is_recording() {
            $span.set_attribute(KeyValue::new("key1", false));
            $span.set_attribute(KeyValue::new("key2", "hello"));
            $span.set_attribute(KeyValue::new("key3", 123.456));
            $span.set_attribute(KeyValue::new("key4", "world"));
            $span.set_attribute(KeyValue::new("key5", 123));
        }
    };
}

/// Spans per second with `threads` threads creating spans at once for `dur`.
fn throughput(
    threads: usize,
    dur: Duration,
    make: impl Fn() -> Box<dyn FnMut() + Send> + Sync,
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let mut total = 0u64;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let mut f = make();
                let stop = stop.clone();
                s.spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..256 {
                            f();
                        }
                        n += 256;
                    }
                    n
                })
            })
            .collect();
        std::thread::sleep(dur);
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            total += h.join().unwrap_or(0);
        }
    });
    total as f64 / dur.as_secs_f64()
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects groups of cases by substring
    // (or by the name of a case in the group: `span_with_context_attach_via_api`).
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let run = |group: &str| {
        filter
            .as_deref()
            .is_none_or(|f| group.contains(f) || f.starts_with(group))
    };

    let f_on = ferrotel_provider(true);
    let f_off = ferrotel_provider(false);
    let o_on = otel::provider(true);
    let o_off = otel::provider(false);
    let ft = f_on.tracer("bench");
    let ft_off = f_off.tracer("bench");
    let ot = o_on.tracer("bench");
    let ot_off = o_off.tracer("bench");

    if run("span_sampled_5_attrs") {
        // Native API on the ferrotel side.
        compare(
            "span_sampled_5_attrs",
            || {
                let mut span = ft.start_span("span-name");
                five_attrs!(span);
                span.end();
                black_box(&span);
            },
            || {
                let mut span = ot.start("span-name");
                five_attrs!(span);
                span.end();
                black_box(&span);
            },
        );
        // The same through the `opentelemetry` API traits on both sides.
        compare(
            "span_sampled_5_attrs_via_api",
            || {
                let mut span = ferrotel_sdk::opentelemetry::trace::Tracer::start(&ft, "span-name");
                five_attrs!(span);
                span.end();
                black_box(&span);
            },
            || {
                let mut span = ot.start("span-name");
                five_attrs!(span);
                span.end();
                black_box(&span);
            },
        );
    }
    if run("span_unsampled") {
        compare(
            "span_unsampled",
            || {
                let mut span = ft_off.start_span("span-name");
                five_attrs!(span);
                span.end();
                black_box(&span);
            },
            || {
                let mut span = ot_off.start("span-name");
                five_attrs!(span);
                span.end();
                black_box(&span);
            },
        );
    }
    if run("span_with_context_attach") {
        // A span made current, a child started under it, both ended.
        compare(
            "span_with_context_attach",
            || {
                let guard = ft.start_span("parent").attach();
                let mut child = ft.start_span("child");
                child.end();
                black_box(&child);
                drop(guard);
            },
            || {
                let guard = mark_span_as_active(ot.start("parent"));
                let mut child = ot.start("child");
                child.end();
                black_box(&child);
                drop(guard);
            },
        );
        compare(
            "span_with_context_attach_via_api",
            || {
                let guard = mark_span_as_active(ferrotel_sdk::opentelemetry::trace::Tracer::start(
                    &ft, "parent",
                ));
                let mut child = ferrotel_sdk::opentelemetry::trace::Tracer::start(&ft, "child");
                child.end();
                black_box(&child);
                drop(guard);
            },
            || {
                let guard = mark_span_as_active(ot.start("parent"));
                let mut child = ot.start("child");
                child.end();
                black_box(&child);
                drop(guard);
            },
        );
        let _ = Context::current().has_active_span();
    }
    if run("tracing_span_3_fields") {
        // A `tracing` span with 3 fields, entered, exited and closed, through ferrotel's bridge
        // and through tracing-opentelemetry into opentelemetry_sdk. Same attributes on both
        // sides: code location, thread, target; busy/idle timings off on both (they are off by
        // default in the bridge, on in tracing-opentelemetry).
        use tracing_subscriber::layer::SubscriberExt;
        let f_dispatch = tracing::Dispatch::new(
            tracing_subscriber::registry().with(ferrotel_sdk::bridge::layer(ft.clone())),
        );
        let o_dispatch = tracing::Dispatch::new(
            tracing_subscriber::registry().with(
                tracing_opentelemetry::layer()
                    .with_tracer(ot.clone())
                    .with_tracked_inactivity(false),
            ),
        );
        fn one() {
            let span = tracing::info_span!("span-name", user = 42i64, route = "/orders", ok = true);
            let guard = span.enter();
            black_box(&guard);
            drop(guard);
            drop(span);
        }
        // What both pay before either layer runs: the registry and dispatch, with a layer that
        // does nothing (a bare registry never frees its spans: only a layered one closes them).
        let registry = tracing::Dispatch::new(
            tracing_subscriber::registry().with(tracing_subscriber::layer::Identity::new()),
        );
        let floor = compare_n(
            "tracing_registry_alone",
            |n| tracing::dispatcher::with_default(&registry, || (0..n).for_each(|_| one())),
            |n| tracing::dispatcher::with_default(&o_dispatch, || (0..n).for_each(|_| one())),
        );
        println!(
            "tracing_span_3_fields: the registry alone is {floor:.3} of tracing-opentelemetry's time (the floor of the ratio)"
        );
        compare_n(
            "tracing_span_3_fields",
            |n| tracing::dispatcher::with_default(&f_dispatch, || (0..n).for_each(|_| one())),
            |n| tracing::dispatcher::with_default(&o_dispatch, || (0..n).for_each(|_| one())),
        );
    }
    if run("threads_8") {
        let dur = Duration::from_secs(2);
        let a = throughput(8, dur, || {
            let t = ft.clone();
            Box::new(move || {
                let mut span = t.start_span("span-name");
                five_attrs!(span);
                span.end();
            })
        });
        let b = throughput(8, dur, || {
            let t = o_on.tracer("bench");
            Box::new(move || {
                let mut span = t.start("span-name");
                five_attrs!(span);
                span.end();
            })
        });
        println!(
            "threads_8_spans_per_second: ferrotel {a:.0}, opentelemetry-rust {b:.0} (8 threads on {} cores)",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        );
        println!("ratio: threads_8_time_per_span = {:.3}", b / a);
    }
}
