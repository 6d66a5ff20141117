//! Provider, tracer and span behaviour through both APIs.

use std::time::Duration;

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    Tracer as _,
};
use opentelemetry::{Context, KeyValue, Value};

use super::*;
use crate::export::InMemoryExporter;

fn provider(sampler: Sampler, limits: SpanLimits) -> (TracerProvider, InMemoryExporter) {
    let exporter = InMemoryExporter::new();
    let p = TracerProvider::builder()
        .with_resource(Resource::new([KeyValue::new("service.name", "t")]))
        .with_sampler(sampler)
        .with_span_limits(limits)
        .with_disabled(false)
        .with_simple_exporter(exporter.clone())
        .build();
    (p, exporter)
}

fn remote_parent(sampled: bool) -> SpanContext {
    SpanContext::new(
        TraceId::from(0x0af7651916cd43dd8448eb211c80319cu128),
        SpanId::from(0xb7ad6b7169203331u64),
        if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        },
        true,
        "vendor=x".parse::<TraceState>().unwrap(),
    )
}

#[test]
fn native_spans_nest_and_export() {
    let (p, e) = provider(Sampler::AlwaysOn, SpanLimits::default());
    let t = p.tracer("lib");
    let parent = t.span("parent").kind(SpanKind::Server).start().attach();
    let mut child = t.start_span("child");
    child.set_attribute(KeyValue::new("k", 1));
    child.set_attribute(KeyValue::new("k", 2));
    child.add_event("ev", vec![KeyValue::new("a", "b")]);
    child.set_status(Status::error("bad"));
    child.set_status(Status::Unset);
    child.end();
    let parent_cx = parent.span_context().clone();
    drop(parent);
    let spans = e.spans();
    assert_eq!(spans.len(), 2);
    let (c, pa) = (&spans[0], &spans[1]);
    assert_eq!(c.name, "child");
    assert_eq!(c.span_context.trace_id(), parent_cx.trace_id());
    assert_eq!(c.parent_span_id, parent_cx.span_id());
    assert!(!c.parent_is_remote);
    assert_eq!(c.attributes.len(), 1);
    assert_eq!(c.attributes[0].value, Value::I64(2));
    assert_eq!(c.events.len(), 1);
    assert_eq!(c.status, Status::error("bad"));
    assert_eq!(pa.kind, SpanKind::Server);
    assert_eq!(pa.parent_span_id, SpanId::INVALID);
    assert_eq!(pa.scope.name(), "lib");
    // Root spans carry the W3C random flag with the sampled flag.
    assert_eq!(pa.span_context.trace_flags().to_u8(), 0x03);
    assert!(pa.end_time >= pa.start_time);
    // After the guard, nothing is current.
    assert!(!Context::current().has_active_span());
}

#[test]
fn api_path_and_remote_parent() {
    let (p, e) = provider(
        Sampler::parent_based(Sampler::AlwaysOn),
        SpanLimits::default(),
    );
    let t = p.tracer("api");
    let cx = Context::new().with_remote_span_context(remote_parent(true));
    let span = t
        .span_builder("server")
        .with_kind(SpanKind::Server)
        .with_attributes([KeyValue::new("http.request.method", "GET")])
        .start_with_context(&t, &cx);
    let cx = cx.with_span(span);
    {
        let _g = cx.clone().attach();
        t.in_span("inner", |cx| {
            cx.span().set_attribute(KeyValue::new("x", true));
        });
    }
    cx.span().end();
    let spans = e.spans();
    assert_eq!(spans.len(), 2);
    let (inner, server) = (&spans[0], &spans[1]);
    assert_eq!(server.parent_span_id, SpanId::from(0xb7ad6b7169203331u64));
    assert!(server.parent_is_remote);
    assert_eq!(server.span_context.trace_state().header(), "vendor=x");
    assert_eq!(server.attributes[0].key.as_str(), "http.request.method");
    assert_eq!(inner.parent_span_id, server.span_context.span_id());
    assert_eq!(inner.attributes[0].value, Value::Bool(true));

    // A remote unsampled parent: parentbased drops, the context travels on.
    let span = t.start_span_with_parent("s", SpanKind::Server, &remote_parent(false));
    assert!(!span.is_recording());
    assert_eq!(
        span.span_context().trace_id(),
        remote_parent(false).trace_id()
    );
    assert!(!span.span_context().is_sampled());
}

#[test]
fn global_provider_emits_through_ferrotel() {
    let (p, e) = provider(Sampler::AlwaysOn, SpanLimits::default());
    opentelemetry::global::set_tracer_provider(p.clone());
    let t = opentelemetry::global::tracer("global-lib");
    t.in_span("via-global", |_| {});
    assert!(
        e.spans()
            .iter()
            .any(|s| s.name == "via-global" && s.scope.name() == "global-lib")
    );
}

#[test]
fn limits_drop_and_count() {
    let limits = SpanLimits {
        max_attributes_per_span: 2,
        max_attribute_value_length: Some(3),
        max_events_per_span: 1,
        max_links_per_span: 1,
        max_attributes_per_event: 1,
        max_attributes_per_link: 1,
    };
    let (p, e) = provider(Sampler::AlwaysOn, limits);
    let t = p.tracer("l");
    let mut s = t.start_span("s");
    s.set_attribute(KeyValue::new("a", "abcdef"));
    s.set_attribute(KeyValue::new("b", 1));
    s.set_attribute(KeyValue::new("c", 1));
    s.set_attribute(KeyValue::new("a", "xy")); // replacing is not dropping
    s.add_event("e1", vec![KeyValue::new("x", 1), KeyValue::new("y", 2)]);
    s.add_event("e2", vec![]);
    s.add_link(
        remote_parent(true),
        vec![KeyValue::new("x", 1), KeyValue::new("y", 2)],
    );
    s.add_link(remote_parent(true), vec![]);
    s.add_link(SpanContext::NONE, vec![]); // invalid: ignored
    s.end();
    let d = &e.spans()[0];
    assert_eq!(d.attributes.len(), 2);
    assert_eq!(d.attributes[0].value, Value::from("xy"));
    assert_eq!(d.dropped_attributes_count, 1);
    assert_eq!(d.events.len(), 1);
    assert_eq!(d.events[0].dropped_attributes_count, 1);
    assert_eq!(d.dropped_events_count, 1);
    assert_eq!(d.links.len(), 1);
    assert_eq!(d.links[0].dropped_attributes_count, 1);
    assert_eq!(d.dropped_links_count, 1);
    let mut s = t.start_span("s2");
    s.set_attribute(KeyValue::new("long", "abcdef"));
    s.end();
    assert_eq!(e.spans()[1].attributes[0].value, Value::from("abc"));
}

#[test]
fn status_ok_is_final() {
    let (p, e) = provider(Sampler::AlwaysOn, SpanLimits::default());
    let mut s = p.tracer("s").start_span("s");
    s.set_status(Status::Ok);
    s.set_status(Status::error("late"));
    s.update_name("renamed");
    s.end();
    s.set_attribute(KeyValue::new("after-end", 1));
    s.end();
    let spans = e.spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].status, Status::Ok);
    assert_eq!(spans[0].name, "renamed");
    assert!(spans[0].attributes.is_empty());
}

#[test]
fn disabled_sdk_records_nothing_and_keeps_the_parent() {
    let exporter = InMemoryExporter::new();
    let p = TracerProvider::builder()
        .with_disabled(true)
        .with_simple_exporter(exporter.clone())
        .build();
    let t = p.tracer("d");
    let s = t.start_span_with_parent("s", SpanKind::Server, &remote_parent(true));
    assert!(!s.is_recording());
    assert_eq!(s.span_context(), &remote_parent(true));
    drop(s);
    assert!(exporter.spans().is_empty());
    assert!(p.is_disabled());
}

#[test]
fn ratio_sampling_writes_th_in_the_spans_tracestate() {
    let (p, e) = provider(Sampler::trace_id_ratio(0.5), SpanLimits::default());
    let t = p.tracer("r");
    for _ in 0..200 {
        t.start_span("s").end();
    }
    let spans = e.spans();
    assert!(spans.len() > 40 && spans.len() < 160, "{}", spans.len());
    assert!(
        spans
            .iter()
            .all(|s| s.span_context.trace_state().header() == "ot=th:8")
    );
}

#[test]
fn shutdown_stops_recording_and_is_reported_once() {
    let (p, e) = provider(Sampler::AlwaysOn, SpanLimits::default());
    let t = p.tracer("s");
    p.shutdown_with_timeout(Duration::from_secs(1)).unwrap();
    t.start_span("after").end();
    assert!(e.spans().is_empty());
    assert_eq!(p.shutdown(), Err(SdkError::AlreadyShutdown));
}

#[test]
fn tracers_of_one_scope_share_it() {
    let (p, _) = provider(Sampler::AlwaysOn, SpanLimits::default());
    let a = p.tracer("same");
    let b = opentelemetry::trace::TracerProvider::tracer(&p, "same");
    assert!(std::ptr::eq(a.scope(), b.scope()));
}

#[test]
fn setting_a_key_again_replaces_its_value_even_past_the_inline_attributes() {
    let (p, exporter) = provider(Sampler::AlwaysOn, SpanLimits::default());
    let tracer = p.tracer("t");
    let mut span = tracer.start_span("s");
    // Same length and last byte: the key filter cannot tell them apart, the comparison must.
    span.set_attribute(KeyValue::new("ab1", 1));
    span.set_attribute(KeyValue::new("cb1", 2));
    for i in 0..20 {
        span.set_attribute(KeyValue::new(format!("k{i}"), i));
    }
    span.set_attribute(KeyValue::new("ab1", 10));
    span.set_attribute(KeyValue::new("k3", 30));
    span.set_attribute(KeyValue::new("k19", 190));
    span.end();
    let s = &exporter.spans()[0];
    assert_eq!(s.attributes.len(), 22);
    let get = |k: &str| {
        s.attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.clone())
    };
    assert_eq!(get("ab1"), Some(Value::I64(10)));
    assert_eq!(get("cb1"), Some(Value::I64(2)));
    assert_eq!(get("k3"), Some(Value::I64(30)));
    assert_eq!(get("k19"), Some(Value::I64(190)));
    assert_eq!(s.dropped_attributes_count, 0);
}

#[test]
fn a_natively_attached_span_is_current_for_the_api_and_propagators() {
    use opentelemetry::propagation::TextMapPropagator as _;
    let (p, e) = provider(Sampler::AlwaysOn, SpanLimits::default());
    let t = p.tracer("lib");
    let parent = t.start_span("parent").attach();
    let (trace_id, span_id) = (
        parent.span_context().trace_id(),
        parent.span_context().span_id(),
    );
    // `Context::current()` holds the span (what instrumentation libraries read)...
    let cx = Context::current();
    assert!(cx.has_active_span());
    assert_eq!(cx.span().span_context(), parent.span_context());
    // ...a propagator injects it...
    let mut headers = std::collections::HashMap::new();
    ferrotel_propagation::TraceContextPropagator::new().inject_context(&cx, &mut headers);
    assert_eq!(
        headers.get("traceparent").map(String::as_str),
        Some(format!("00-{trace_id}-{span_id}-03").as_str())
    );
    // ...and spans of both APIs started under it are its children.
    let mut api_child = opentelemetry::trace::Tracer::start(&t, "api-child");
    api_child.end();
    drop(api_child);
    t.start_span("native-child").end();
    drop(parent);
    assert!(!Context::current().has_active_span());
    let spans = e.spans();
    assert_eq!(spans.len(), 3);
    for child in &spans[..2] {
        assert_eq!(child.span_context.trace_id(), trace_id, "{}", child.name);
        assert_eq!(child.parent_span_id, span_id, "{}", child.name);
    }
}

/// Adds an attribute and a tracestate entry to every span it samples.
#[derive(Debug)]
struct Marking;

impl crate::sampler::ShouldSample for Marking {
    fn should_sample(
        &self,
        _params: &crate::sampler::SamplingParameters<'_>,
    ) -> crate::sampler::SamplingResult {
        crate::sampler::SamplingResult {
            decision: SamplingDecision::RecordAndSample,
            attributes: vec![KeyValue::new("sampler.mark", true)],
            trace_state: "m=1".parse().unwrap(),
        }
    }
    fn description(&self) -> String {
        "Marking".into()
    }
}

#[test]
fn plain_starts_keep_the_samplers_attributes_and_tracestate() {
    let (p, e) = provider(
        Sampler::Custom(std::sync::Arc::new(Marking)),
        SpanLimits::default(),
    );
    let t = p.tracer("lib");
    // Each way of starting a span without attributes, links or a start time.
    t.start_span("start_span").end();
    t.start_span_with_parent("with_parent", SpanKind::Client, &remote_parent(true))
        .end();
    t.span("builder").root().start().end();
    opentelemetry::trace::Tracer::start(&t, "api").end();
    let spans = e.spans();
    assert_eq!(spans.len(), 4);
    for s in &spans {
        assert_eq!(
            s.attributes.as_slice(),
            &[KeyValue::new("sampler.mark", true)],
            "{}",
            s.name
        );
        assert_eq!(s.span_context.trace_state().header(), "m=1", "{}", s.name);
    }
    assert_eq!(spans[1].parent_span_id, remote_parent(true).span_id());
    assert_eq!(spans[1].kind, SpanKind::Client);
}

#[test]
fn freeing_a_finished_span_drops_everything_it_owns() {
    use std::sync::Arc;
    // The no-op processor frees spans with `SpanData::free`: its shortcut (attributes inline,
    // no events, no links) and the plain drop must both release every attribute.
    let p = TracerProvider::builder()
        .with_sampler(Sampler::AlwaysOn)
        .with_span_limits(SpanLimits::default())
        .with_disabled(false)
        .with_span_processor(crate::NoopSpanProcessor)
        .build();
    let t = p.tracer("lib");
    let shared: Arc<str> = Arc::from("shared");
    let kv = || KeyValue::new(shared.clone(), shared.clone());
    type Fill = fn(&mut Span, &dyn Fn() -> KeyValue);
    let cases: [(&str, Fill); 4] = [
        ("inline attributes", |s, kv| s.set_attribute(kv())),
        ("spilled attributes", |s, kv| {
            for i in 0..20 {
                s.set_attribute(KeyValue::new(format!("k{i}"), kv().value));
            }
        }),
        ("an event", |s, kv| s.add_event("ev", vec![kv()])),
        ("a link", |s, kv| {
            s.add_link(remote_parent(true), vec![kv()])
        }),
    ];
    for (case, fill) in cases {
        let mut span = t.span(format!("owned name {case}")).start();
        fill(&mut span, &kv);
        span.set_status(Status::error(format!("owned {case}")));
        assert!(Arc::strong_count(&shared) > 1, "{case}");
        span.end();
        assert_eq!(Arc::strong_count(&shared), 1, "{case}");
    }
}
