use std::time::Duration;

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
    Tracer as _,
};
use opentelemetry::{Context, KeyValue, Value};
use tracing_subscriber::layer::SubscriberExt;

use super::{OpenTelemetrySpanExt, SetParentError};
use crate::{InMemoryExporter, Sampler, SpanData, TracerProvider};

fn setup(
    configure: impl FnOnce(
        super::OpenTelemetryLayer<tracing_subscriber::Registry>,
    ) -> super::OpenTelemetryLayer<tracing_subscriber::Registry>,
) -> (InMemoryExporter, TracerProvider, tracing::Dispatch) {
    let exporter = InMemoryExporter::new();
    let provider = TracerProvider::builder()
        .with_sampler(Sampler::parent_based(Sampler::AlwaysOn))
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = configure(super::layer(provider.tracer("bridge-test")));
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    (exporter, provider, dispatch)
}

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn by_name<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name} in {spans:#?}"))
}

#[test]
fn nested_spans_with_typed_fields() {
    let (exporter, _provider, dispatch) = setup(|l| l);
    tracing::dispatcher::with_default(&dispatch, || {
        let outer = tracing::info_span!("outer", count = 3i64, ok = true, ratio = 0.5, who = "me");
        let _o = outer.enter();
        let inner = tracing::debug_span!("inner", big = u64::MAX, list = ?[1, 2]);
        inner.in_scope(|| {});
    });
    let spans = exporter.spans();
    assert_eq!(spans.len(), 2);
    let outer = by_name(&spans, "outer");
    let inner = by_name(&spans, "inner");
    assert_eq!(outer.parent_span_id, SpanId::INVALID);
    assert_eq!(inner.parent_span_id, outer.span_context.span_id());
    assert_eq!(inner.span_context.trace_id(), outer.span_context.trace_id());
    assert_eq!(attr(outer, "count"), Some(&Value::I64(3)));
    assert_eq!(attr(outer, "ok"), Some(&Value::Bool(true)));
    assert_eq!(attr(outer, "ratio"), Some(&Value::F64(0.5)));
    assert_eq!(attr(outer, "who"), Some(&Value::from("me")));
    assert_eq!(attr(inner, "big"), Some(&Value::from(u64::MAX.to_string())));
    assert_eq!(attr(inner, "list"), Some(&Value::from("[1, 2]")));
    assert_eq!(attr(outer, "target"), Some(&Value::from(module_path!())));
    assert_eq!(attr(outer, "code.file.path"), Some(&Value::from(file!())));
    assert!(matches!(
        attr(outer, "code.line.number"),
        Some(Value::I64(_))
    ));
    assert!(matches!(attr(outer, "thread.id"), Some(Value::I64(_))));
    assert_eq!(attr(outer, "busy_ns"), None, "timings are off by default");
    assert_eq!(outer.kind, SpanKind::Internal);
    assert!(outer.end_time >= outer.start_time);
    assert!(outer.end_time >= inner.end_time);
}

#[test]
fn fields_recorded_later_and_otel_conventions() {
    let (exporter, _provider, dispatch) = setup(|l| l.with_location(false).with_threads(false));
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!(
            "handler",
            otel.name = tracing::field::Empty,
            otel.kind = "server",
            user = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            otel.status_message = tracing::field::Empty,
        );
        span.record("otel.name", "GET /orders");
        span.record("user", 42i64);
        let _e = span.enter();
        // Recorded after the span started: still reaches it.
        span.record("otel.status_message", "bad input");
        span.record("otel.status_code", "ERROR");
    });
    let spans = exporter.spans();
    let s = by_name(&spans, "GET /orders");
    assert_eq!(s.kind, SpanKind::Server);
    assert_eq!(attr(s, "user"), Some(&Value::I64(42)));
    assert_eq!(s.status, Status::error("bad input"));
    assert_eq!(attr(s, "code.file.path"), None);
    assert_eq!(attr(s, "thread.id"), None);
    assert_eq!(attr(s, "otel.kind"), None, "conventions are not attributes");

    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("ok", otel.status_code = "ok");
        span.in_scope(|| tracing::error!("ignored: Ok is final"));
    });
    assert_eq!(by_name(&exporter.spans(), "ok").status, Status::Ok);
}

#[derive(Debug)]
struct Outer(std::io::Error);
impl std::fmt::Display for Outer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("outer failed")
    }
}
impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn events_become_span_events_and_errors_mark_the_span() {
    let (exporter, _provider, dispatch) = setup(|l| l.with_location(false));
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!("outside any span: dropped");
        tracing::info_span!("plain").in_scope(|| {
            tracing::info!(items = 3u64, "loaded");
            tracing::warn!(target: "custom", reason = ?Some(1), "slow");
        });
        tracing::info_span!("failing").in_scope(|| {
            // What `#[instrument(err)]` emits.
            tracing::error!(error = "disk full");
        });
        tracing::info_span!("error_level").in_scope(|| tracing::error!("boom"));
        let err = Outer(std::io::Error::other("io"));
        let field = tracing::info_span!("field_error", error = tracing::field::Empty);
        field.record("error", &err as &(dyn std::error::Error + 'static));
        drop(field);
    });
    let spans = exporter.spans();
    assert_eq!(spans.len(), 4);
    let plain = by_name(&spans, "plain");
    assert_eq!(plain.status, Status::Unset);
    assert_eq!(plain.events.len(), 2);
    let e = &plain.events[0];
    assert_eq!(e.name, "loaded");
    assert!(e.attributes.contains(&KeyValue::new("level", "INFO")));
    assert!(
        e.attributes
            .contains(&KeyValue::new("target", module_path!()))
    );
    assert!(e.attributes.contains(&KeyValue::new("items", 3i64)));
    let e = &plain.events[1];
    assert_eq!(e.name, "slow");
    assert!(e.attributes.contains(&KeyValue::new("target", "custom")));
    assert!(e.attributes.contains(&KeyValue::new("reason", "Some(1)")));

    let failing = by_name(&spans, "failing");
    assert_eq!(failing.status, Status::error("disk full"));
    assert_eq!(failing.events[0].name, "exception");
    assert!(
        failing.events[0]
            .attributes
            .contains(&KeyValue::new("exception.message", "disk full"))
    );

    assert_eq!(by_name(&spans, "error_level").status, Status::error(""));

    let field = by_name(&spans, "field_error");
    assert_eq!(field.status, Status::error("outer failed"));
    assert_eq!(
        attr(field, "exception.message"),
        Some(&Value::from("outer failed"))
    );
    assert_eq!(attr(field, "error"), Some(&Value::from("outer failed")));
    assert!(attr(field, "exception.stacktrace").is_some());
}

#[test]
fn remote_parent_and_context_for_propagation() {
    let (exporter, _provider, dispatch) = setup(|l| l);
    let remote = SpanContext::new(
        TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736),
        SpanId::from(0x00f067aa0ba902b7),
        TraceFlags::SAMPLED,
        true,
        TraceState::from_key_value([("vendor", "v")]).unwrap(),
    );
    let extracted = Context::new().with_remote_span_context(remote.clone());
    let mut injected = None;
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("server", otel.kind = "server");
        assert_eq!(span.set_parent(extracted.clone()), Ok(()));
        let _e = span.enter();
        injected = Some(span.context().span().span_context().clone());
        assert_eq!(
            span.set_parent(Context::new()),
            Err(SetParentError::AlreadyStarted)
        );
        // An `opentelemetry` API span started while the tracing span is entered is its child.
        let api = opentelemetry::global::tracer("unused"); // global no-op: not ours
        drop(api);
        let tracer = _provider.tracer("api");
        let child = tracer.start("api-child");
        drop(child);
        tracing::info_span!("tracing-child").in_scope(|| {});
    });
    let spans = exporter.spans();
    let server = by_name(&spans, "server");
    assert_eq!(server.span_context.trace_id(), remote.trace_id());
    assert_eq!(server.parent_span_id, remote.span_id());
    assert!(server.parent_is_remote);
    assert_eq!(server.span_context.trace_state().get("vendor"), Some("v"));
    assert_eq!(injected.as_ref(), Some(&server.span_context));
    for name in ["api-child", "tracing-child"] {
        let child = by_name(&spans, name);
        assert_eq!(
            child.parent_span_id,
            server.span_context.span_id(),
            "{name}"
        );
        assert!(!child.parent_is_remote);
    }
    // Without the layer, set_parent says so.
    let none = tracing::Span::none();
    assert_eq!(
        none.set_parent(Context::new()),
        Err(SetParentError::SpanDisabled)
    );
}

#[test]
fn a_tracing_span_inside_an_attached_native_span_is_its_child() {
    let (exporter, provider, dispatch) = setup(|l| l);
    let tracer = provider.tracer("native");
    tracing::dispatcher::with_default(&dispatch, || {
        let parent = tracer.start_span("native-parent").attach();
        tracing::info_span!("tracing-child").in_scope(|| {});
        drop(parent);
    });
    let spans = exporter.spans();
    let parent = by_name(&spans, "native-parent");
    let child = by_name(&spans, "tracing-child");
    assert_eq!(child.parent_span_id, parent.span_context.span_id());
}

#[test]
fn timings_links_ext_methods_and_end_time() {
    let (exporter, _provider, dispatch) = setup(|l| l.with_timings(true));
    tracing::dispatcher::with_default(&dispatch, || {
        let first = tracing::info_span!("first");
        first.in_scope(|| {});
        let second = tracing::info_span!("second");
        second.follows_from(&first);
        second.set_attribute("ext.attr", 7i64);
        second.add_event("ext-event", vec![KeyValue::new("k", "v")]);
        second.set_status(Status::error("via ext"));
        second.in_scope(|| std::thread::sleep(Duration::from_millis(5)));
        let first_cx = first.context().span().span_context().clone();
        second.add_link(first_cx);
        // Closed well after its last exit: the end time is the exit's.
        std::thread::sleep(Duration::from_millis(20));
        drop(second);
    });
    let spans = exporter.spans();
    let first = by_name(&spans, "first");
    let second = by_name(&spans, "second");
    assert_eq!(second.links.len(), 2);
    assert_eq!(second.links[0].span_context, first.span_context);
    assert_eq!(attr(second, "ext.attr"), Some(&Value::I64(7)));
    assert_eq!(second.events[0].name, "ext-event");
    assert_eq!(second.status, Status::error("via ext"));
    let Some(Value::I64(busy)) = attr(second, "busy_ns") else {
        panic!("busy_ns missing: {second:#?}")
    };
    assert!(*busy >= 5_000_000, "busy {busy}");
    let Some(Value::I64(idle)) = attr(second, "idle_ns") else {
        panic!("idle_ns missing")
    };
    assert!(*idle >= 20_000_000, "idle {idle}");
    let duration = second.end_time.duration_since(second.start_time).unwrap();
    assert!(duration < Duration::from_millis(20), "{duration:?}");
}

#[test]
fn unsampled_and_disabled_record_nothing() {
    let exporter = InMemoryExporter::new();
    let provider = TracerProvider::builder()
        .with_sampler(Sampler::AlwaysOff)
        .with_simple_exporter(exporter.clone())
        .build();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry().with(super::layer(provider.tracer("t"))),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("dropped", a = 1);
        span.in_scope(|| tracing::info!("event"));
        // Unsampled spans still have ids to propagate (with the sampled flag off).
        let sc = span.context().span().span_context().clone();
        assert!(sc.is_valid());
        assert!(!sc.is_sampled());
    });
    assert!(exporter.spans().is_empty());

    let disabled = TracerProvider::builder()
        .with_disabled(true)
        .with_simple_exporter(exporter.clone())
        .build();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry().with(super::layer(disabled.tracer("t"))),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("disabled");
        assert_eq!(
            span.set_parent(Context::new()),
            Err(SetParentError::SpanDisabled)
        );
        span.in_scope(|| {});
        assert!(!span.context().has_active_span());
    });
    assert!(exporter.spans().is_empty());
}

/// A `Debug` value that uses `tracing` while the bridge formats it (with no lock held: the
/// span made there is recorded like any other); nothing deadlocks.
struct Noisy;

impl std::fmt::Debug for Noisy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = tracing::info_span!("made-while-formatting");
        inner.in_scope(|| tracing::info!("logged while formatting"));
        f.write_str("noisy")
    }
}

#[test]
fn the_span_store_empties_as_spans_close_on_any_thread() {
    let (exporter, _provider, dispatch) = setup(|l| l.with_timings(true));
    tracing::dispatcher::with_default(&dispatch, || {
        // Closed on other threads, entered on several.
        let spans: Vec<tracing::Span> = (0..64)
            .map(|i| tracing::info_span!("moved", i, later = tracing::field::Empty))
            .collect();
        spans[0].in_scope(|| {});
        let d = dispatch.clone();
        std::thread::scope(|s| {
            for chunk in spans.chunks(16) {
                let chunk = chunk.to_vec();
                let d = d.clone();
                s.spawn(move || {
                    tracing::dispatcher::with_default(&d, || {
                        for span in chunk {
                            span.in_scope(|| tracing::info!("on another thread"));
                            span.record("later", tracing::field::debug(Noisy));
                        }
                    })
                });
            }
        });
        drop(spans);
        // Never entered; recorded with a value that uses `tracing` itself.
        let quiet = tracing::info_span!("quiet", noisy = ?Noisy);
        quiet.record("noisy", tracing::field::debug(Noisy));
        drop(quiet);
    });
    let layer = dispatch
        .downcast_ref::<super::OpenTelemetryLayer<tracing_subscriber::Registry>>()
        .expect("the layer");
    assert_eq!(layer.store.len(), 0, "every closed span left the store");
    let spans = exporter.spans();
    assert_eq!(spans.iter().filter(|s| s.name == "moved").count(), 64);
    assert!(spans.iter().any(|s| s.name == "made-while-formatting"));
    let quiet = by_name(&spans, "quiet");
    assert_eq!(attr(quiet, "noisy"), Some(&Value::from("noisy")));
    let moved = spans.iter().find(|s| s.name == "moved").expect("moved");
    assert_eq!(attr(moved, "later"), Some(&Value::from("noisy")));
    assert_eq!(moved.events.len(), 1);
}

/// Drops the `tracing` spans it holds when a span starts: closes that arrive while the bridge
/// holds a shard (the processor runs during activation), some on that very shard.
struct DropsSpansOnStart(std::sync::Mutex<Vec<tracing::Span>>);

impl crate::SpanProcessor for DropsSpansOnStart {
    fn on_start(&self, _span: &crate::Span) {
        let held = std::mem::take(&mut *self.0.lock().unwrap());
        drop(held);
    }
    fn on_end(&self, _span: Box<SpanData>) {}
    fn force_flush(&self, _timeout: Duration) -> Result<(), crate::SdkError> {
        Ok(())
    }
    fn shutdown(&self, _timeout: Duration) -> Result<(), crate::SdkError> {
        Ok(())
    }
}

#[test]
fn spans_closed_from_inside_the_bridge_are_finished_later() {
    let exporter = InMemoryExporter::new();
    let dropper = std::sync::Arc::new(DropsSpansOnStart(Default::default()));
    struct Shared(std::sync::Arc<DropsSpansOnStart>);
    impl crate::SpanProcessor for Shared {
        fn on_start(&self, span: &crate::Span) {
            self.0.on_start(span)
        }
        fn on_end(&self, span: Box<SpanData>) {
            self.0.on_end(span)
        }
        fn force_flush(&self, t: Duration) -> Result<(), crate::SdkError> {
            self.0.force_flush(t)
        }
        fn shutdown(&self, t: Duration) -> Result<(), crate::SdkError> {
            self.0.shutdown(t)
        }
    }
    let provider = TracerProvider::builder()
        .with_sampler(Sampler::AlwaysOn)
        .with_span_processor(Shared(dropper.clone()))
        .with_simple_exporter(exporter.clone())
        .build();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry().with(super::layer(provider.tracer("t"))),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        // Entered once (so ended at that exit), then handed to the processor: 256 of them
        // cover every shard.
        let victims: Vec<tracing::Span> = (0..256)
            .map(|i| {
                let s = tracing::info_span!("victim", i);
                s.in_scope(|| {});
                s
            })
            .collect();
        *dropper.0.lock().unwrap() = victims;
        // Its activation runs the processor, which drops every victim.
        let trigger = tracing::info_span!("trigger");
        trigger.in_scope(|| {});
        drop(trigger);
    });
    let layer = dispatch
        .downcast_ref::<super::OpenTelemetryLayer<tracing_subscriber::Registry>>()
        .expect("the layer");
    assert_eq!(layer.store.len(), 0, "deferred closes were finished");
    let spans = exporter.spans();
    assert_eq!(spans.iter().filter(|s| s.name == "victim").count(), 256);
    assert_eq!(spans.iter().filter(|s| s.name == "trigger").count(), 1);
}
