//! The tracer provider, its tracers and span creation.
//!
//! A provider's shared state ([`Core`]: sampler, limits, processors, resource) is allocated
//! once and never freed, so every span refers to it with a plain `&'static` — no reference
//! count to bump on a cache line that all threads share. Providers are made once per process
//! (or a handful in tests); what a shut-down provider keeps is a few hundred bytes. Scopes are
//! interned the same way, bounded by the number of distinct scopes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{Event, Link, SpanContext, SpanKind, Status, TraceFlags};
use opentelemetry::{Context, InstrumentationScope, KeyValue};

use crate::SdkError;
use crate::batch::BatchSpanProcessor;
use crate::clock;
use crate::env;
use crate::export::SpanExporter;
use crate::ids;
use crate::inline::InlineAttributes;
use crate::limits::SpanLimits;
use crate::processor::{SimpleSpanProcessor, SpanProcessor};
use crate::resource::Resource;
use crate::sampler::{Sampler, SamplingDecision, SamplingParameters};
use crate::shared::SharedAttributes;
use crate::span::{Attributes, Span, SpanData};

/// The W3C Trace Context level 2 "random" flag: the trace id's low 56 bits are random.
pub const RANDOM_TRACE_ID_FLAG: TraceFlags = TraceFlags::new(0x02);

/// How long dropping the last provider handle waits for its processors to flush.
const DROP_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// A provider's shared, immutable-after-build state.
pub(crate) struct Core {
    pub(crate) sampler: Sampler,
    pub(crate) limits: SpanLimits,
    pub(crate) processors: Vec<Box<dyn SpanProcessor>>,
    /// Whether the bridge may keep its metadata attributes as [`crate::SharedAttributes`].
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) shares_attributes: bool,
    pub(crate) resource: Resource,
    /// `OTEL_SDK_DISABLED`: every span is non-recording, nothing is exported.
    pub(crate) disabled: bool,
    pub(crate) is_shutdown: AtomicBool,
    scopes: Mutex<HashMap<InstrumentationScope, &'static InstrumentationScope>>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("sampler", &self.sampler)
            .field("limits", &self.limits)
            .field("processors", &self.processors.len())
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

impl Core {
    #[inline]
    pub(crate) fn on_end(&self, span: Box<SpanData>) {
        if self.is_shutdown.load(Ordering::Relaxed) {
            return span.free();
        }
        match self.processors.split_last() {
            None => {}
            Some((last, rest)) => {
                for p in rest {
                    p.on_end(span.clone());
                }
                last.on_end(span);
            }
        }
    }

    fn scope(&self, scope: InstrumentationScope) -> &'static InstrumentationScope {
        // A poisoned lock only means another thread panicked while inserting: the map is
        // still consistent (insert is the only mutation).
        let mut map = self.scopes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = map.get(&scope) {
            return s;
        }
        let leaked: &'static InstrumentationScope = Box::leak(Box::new(scope.clone()));
        map.insert(scope, leaked);
        leaked
    }

    fn shutdown(&self, timeout: Duration) -> Result<(), SdkError> {
        if self.is_shutdown.swap(true, Ordering::AcqRel) {
            return Err(SdkError::AlreadyShutdown);
        }
        let deadline = std::time::Instant::now() + timeout;
        let mut result = Ok(());
        for p in &self.processors {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if let Err(e) = p.shutdown(left) {
                result = Err(e);
            }
        }
        result
    }

    fn force_flush(&self, timeout: Duration) -> Result<(), SdkError> {
        let deadline = std::time::Instant::now() + timeout;
        let mut result = Ok(());
        for p in &self.processors {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if let Err(e) = p.force_flush(left) {
                result = Err(e);
            }
        }
        result
    }
}

/// The last handle shuts the provider down when dropped.
struct Handle {
    core: &'static Core,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.core.shutdown(DROP_SHUTDOWN_TIMEOUT);
    }
}

/// Creates tracers; owns the processors. Cheap to clone (all clones are one provider); the
/// provider shuts down when [`TracerProvider::shutdown`] is called or the last clone (and the
/// last tracer) is dropped.
#[derive(Clone)]
pub struct TracerProvider {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for TracerProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.handle.core.fmt(f)
    }
}

impl Default for TracerProvider {
    /// A provider configured from the environment, with no processor.
    fn default() -> Self {
        TracerProvider::builder().build()
    }
}

impl TracerProvider {
    pub fn builder() -> TracerProviderBuilder {
        TracerProviderBuilder::default()
    }

    /// A tracer for this instrumentation scope (name only).
    pub fn tracer(&self, name: impl Into<Cow<'static, str>>) -> Tracer {
        self.tracer_with_scope(InstrumentationScope::builder(name).build())
    }

    /// A tracer for this instrumentation scope. Tracers of equal scopes share it.
    pub fn tracer_with_scope(&self, scope: InstrumentationScope) -> Tracer {
        let core = self.handle.core;
        Tracer {
            core,
            scope: core.scope(scope),
            _handle: self.handle.clone(),
        }
    }

    /// Flushes every processor and shuts them down, waiting at most `timeout` in total. Spans
    /// ending afterwards are dropped.
    pub fn shutdown_with_timeout(&self, timeout: Duration) -> Result<(), SdkError> {
        self.handle.core.shutdown(timeout)
    }

    /// [`Self::shutdown_with_timeout`] with 5 s.
    pub fn shutdown(&self) -> Result<(), SdkError> {
        self.shutdown_with_timeout(DROP_SHUTDOWN_TIMEOUT)
    }

    /// Exports what every processor holds, waiting at most `timeout`.
    pub fn force_flush_with_timeout(&self, timeout: Duration) -> Result<(), SdkError> {
        self.handle.core.force_flush(timeout)
    }

    /// [`Self::force_flush_with_timeout`] with 5 s.
    pub fn force_flush(&self) -> Result<(), SdkError> {
        self.force_flush_with_timeout(DROP_SHUTDOWN_TIMEOUT)
    }

    /// The resource every span of this provider is exported with.
    pub fn resource(&self) -> &Resource {
        &self.handle.core.resource
    }

    /// Whether `OTEL_SDK_DISABLED` (or [`TracerProviderBuilder::with_disabled`]) turned the SDK
    /// off.
    pub fn is_disabled(&self) -> bool {
        self.handle.core.disabled
    }
}

/// Builds a [`TracerProvider`]. What is not set comes from the environment: the resource
/// ([`Resource::default`]), the sampler (`OTEL_TRACES_SAMPLER`), the limits
/// (`OTEL_SPAN_*`), `OTEL_SDK_DISABLED`.
#[derive(Default)]
pub struct TracerProviderBuilder {
    resource: Option<Resource>,
    sampler: Option<Sampler>,
    limits: Option<SpanLimits>,
    processors: Vec<Box<dyn SpanProcessor>>,
    disabled: Option<bool>,
}

impl TracerProviderBuilder {
    pub fn with_resource(mut self, resource: Resource) -> Self {
        self.resource = Some(resource);
        self
    }

    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = Some(sampler);
        self
    }

    pub fn with_span_limits(mut self, limits: SpanLimits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Adds a processor; processors see spans in the order added.
    pub fn with_span_processor(mut self, processor: impl SpanProcessor) -> Self {
        self.processors.push(Box::new(processor));
        self
    }

    /// Adds a [`SimpleSpanProcessor`]: each span exported as it ends (tests, debugging).
    pub fn with_simple_exporter(self, exporter: impl SpanExporter) -> Self {
        self.with_span_processor(SimpleSpanProcessor::new(exporter))
    }

    /// Adds a [`BatchSpanProcessor`] configured from `OTEL_BSP_*`.
    pub fn with_batch_exporter(self, exporter: impl SpanExporter) -> Self {
        self.with_span_processor(BatchSpanProcessor::builder(exporter).build())
    }

    /// Overrides `OTEL_SDK_DISABLED`.
    pub fn with_disabled(mut self, disabled: bool) -> Self {
        self.disabled = Some(disabled);
        self
    }

    pub fn build(self) -> TracerProvider {
        // Chooses the span clock once (a TSC calibration of ~2 ms), before any span needs it.
        clock::init();
        let lookup = &env::process_env;
        let resource = self.resource.unwrap_or_default();
        let mut processors = self.processors;
        for p in &mut processors {
            p.set_resource(&resource);
        }
        let sampler = self.sampler.unwrap_or_else(|| Sampler::from_lookup(lookup));
        let limits = self
            .limits
            .unwrap_or_else(|| SpanLimits::from_lookup(lookup));
        // Shared attributes are exported as they are: only when no limit would cut one, and
        // no sampler reads the attributes they would be missing from.
        let shares_attributes = limits.max_attribute_value_length.is_none()
            && limits.max_attributes_per_span as usize >= crate::shared::KEYS.len()
            && !sampler.reads_attributes();
        let core: &'static Core = Box::leak(Box::new(Core {
            sampler,
            limits,
            shares_attributes,
            processors,
            resource,
            disabled: self
                .disabled
                .unwrap_or_else(|| env::get_bool(lookup, "OTEL_SDK_DISABLED").unwrap_or(false)),
            is_shutdown: AtomicBool::new(false),
            scopes: Mutex::new(HashMap::new()),
        }));
        TracerProvider {
            handle: Arc::new(Handle { core }),
        }
    }
}

/// Creates spans for one instrumentation scope. Cheap to clone.
#[derive(Clone)]
pub struct Tracer {
    core: &'static Core,
    scope: &'static InstrumentationScope,
    _handle: Arc<Handle>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("scope", &self.scope.name())
            .finish()
    }
}

/// The options of a span being started (native API, see [`Tracer::span`]).
pub struct SpanStart<'t> {
    tracer: &'t Tracer,
    name: Cow<'static, str>,
    kind: SpanKind,
    parent: ParentChoice<'t>,
    start_time: Option<SystemTime>,
    attributes: Vec<KeyValue>,
    links: Vec<Link>,
}

enum ParentChoice<'a> {
    /// The current `opentelemetry::Context`'s span.
    Current,
    Explicit(&'a SpanContext),
    Root,
}

impl<'t> SpanStart<'t> {
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// The parent: a local span's context, or a remote one a propagator extracted (with
    /// `is_remote` set). An invalid context makes a root span.
    pub fn parent(mut self, parent: &'t SpanContext) -> Self {
        self.parent = ParentChoice::Explicit(parent);
        self
    }

    /// A new trace, whatever the current context holds.
    pub fn root(mut self) -> Self {
        self.parent = ParentChoice::Root;
        self
    }

    pub fn start_time(mut self, t: SystemTime) -> Self {
        self.start_time = Some(t);
        self
    }

    /// Attributes known at start (samplers see them).
    pub fn attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.attributes.extend(attributes);
        self
    }

    /// Links known at start (samplers see them).
    pub fn links(mut self, links: impl IntoIterator<Item = Link>) -> Self {
        self.links.extend(links);
        self
    }

    pub fn start(self) -> Span {
        let SpanStart {
            tracer,
            name,
            kind,
            parent,
            start_time,
            attributes,
            links,
        } = self;
        if start_time.is_none() && attributes.capacity() == 0 && links.capacity() == 0 {
            forget_empty(attributes);
            forget_empty(links);
            return match parent {
                ParentChoice::Explicit(p) => tracer.start_plain(name, kind, Some(p)),
                ParentChoice::Root => tracer.start_plain(name, kind, None),
                ParentChoice::Current => Context::map_current(|cx| {
                    with_parent(cx, |p| tracer.start_plain(name, kind, p))
                }),
            };
        }
        match parent {
            ParentChoice::Explicit(p) => {
                tracer.start_inner(name, kind, Some(p), start_time, attributes, links, None)
            }
            ParentChoice::Root => {
                tracer.start_inner(name, kind, None, start_time, attributes, links, None)
            }
            ParentChoice::Current => Context::map_current(|cx| {
                with_parent(cx, |p| {
                    tracer.start_inner(name, kind, p, start_time, attributes, links, None)
                })
            }),
        }
    }
}

/// The boxed data of a span starting, written field by field into its allocation:
/// `Box::new(SpanData { .. })` assembles the ~700-byte struct on the stack and copies it.
#[inline]
fn new_span_data(
    scope: &'static InstrumentationScope,
    name: Cow<'static, str>,
    kind: SpanKind,
    (parent_span_id, parent_is_remote): (opentelemetry::trace::SpanId, bool),
    start_time: SystemTime,
) -> Box<SpanData> {
    use std::ptr::addr_of_mut;
    let mut b = Box::<SpanData>::new_uninit();
    let p = b.as_mut_ptr();
    // SAFETY: `p` points to a fresh, aligned allocation for a `SpanData`; each field is written
    // exactly once (no read of uninitialised memory, nothing dropped) before `assume_init`.
    unsafe {
        addr_of_mut!((*p).span_context).write(SpanContext::NONE);
        addr_of_mut!((*p).parent_span_id).write(parent_span_id);
        addr_of_mut!((*p).parent_is_remote).write(parent_is_remote);
        addr_of_mut!((*p).kind).write(kind);
        addr_of_mut!((*p).name).write(name);
        addr_of_mut!((*p).start_time).write(start_time);
        addr_of_mut!((*p).end_time).write(SystemTime::UNIX_EPOCH);
        addr_of_mut!((*p).attributes).write(Attributes::new());
        addr_of_mut!((*p).shared_attributes).write(SharedAttributes::default());
        InlineAttributes::write_empty(addr_of_mut!((*p).inline_attributes));
        addr_of_mut!((*p).dropped_attributes_count).write(0);
        addr_of_mut!((*p).events).write(Vec::new());
        addr_of_mut!((*p).dropped_events_count).write(0);
        addr_of_mut!((*p).links).write(Vec::new());
        addr_of_mut!((*p).dropped_links_count).write(0);
        addr_of_mut!((*p).status).write(Status::Unset);
        addr_of_mut!((*p).scope).write(scope);
        b.assume_init()
    }
}

/// Ids and the sampling decision of a span about to start: its context, the decision and the
/// sampler's extra attributes.
#[inline]
pub(crate) fn decide(
    core: &Core,
    parent: Option<&SpanContext>,
    name: &str,
    kind: &SpanKind,
    attributes: &[KeyValue],
    links: &[Link],
) -> (SpanContext, SamplingDecision, Vec<KeyValue>) {
    // The span id is drawn with the trace id: one access to the generator (the sampler does
    // not see it).
    let (trace_id, span_id, random_flag) = match parent {
        Some(p) => {
            let (trace_id, span_id) = ids::new_ids(Some(p.trace_id()));
            let flag = p.trace_flags().to_u8() & RANDOM_TRACE_ID_FLAG.to_u8();
            (trace_id, span_id, flag)
        }
        None => {
            let (trace_id, span_id) = ids::new_ids(None);
            (trace_id, span_id, RANDOM_TRACE_ID_FLAG.to_u8())
        }
    };
    let (decision, trace_state, extra) = core.sampler.decide(&SamplingParameters {
        parent,
        trace_id,
        name,
        kind,
        attributes,
        links,
    });
    let sampled = decision == SamplingDecision::RecordAndSample;
    let flags = TraceFlags::new(random_flag | u8::from(sampled));
    let context = SpanContext::new(trace_id, span_id, flags, false, trace_state);
    (context, decision, extra)
}

/// Drops a vector, skipping the (out-of-line) drop call when it never allocated: the plain
/// start passes and gets empty attribute, link and sampler-attribute lists.
#[inline(always)]
fn forget_empty<T>(v: Vec<T>) {
    if v.capacity() == 0 {
        // Nothing allocated, nothing in it: nothing to drop.
        std::mem::forget(v);
    } else {
        drop(v);
    }
}

/// The parent span id and whether the parent is remote, as a span records them.
#[inline]
pub(crate) fn parent_ids(parent: Option<&SpanContext>) -> (opentelemetry::trace::SpanId, bool) {
    match parent {
        Some(p) => (p.span_id(), p.is_remote()),
        None => (opentelemetry::trace::SpanId::INVALID, false),
    }
}

/// Calls `f` with the span context of a context's active span, if any (a closure because the
/// API's `SpanRef` lends the context only for its own lifetime).
#[inline]
pub(crate) fn with_parent<T>(cx: &Context, f: impl FnOnce(Option<&SpanContext>) -> T) -> T {
    use opentelemetry::trace::TraceContextExt;
    if cx.has_active_span() {
        let span = cx.span();
        f(Some(span.span_context()))
    } else {
        f(None)
    }
}

impl Tracer {
    /// Starts a span with options (native API): `tracer.span("GET /").kind(Server).start()`.
    /// Its parent is the current `opentelemetry::Context`'s span unless set.
    pub fn span(&self, name: impl Into<Cow<'static, str>>) -> SpanStart<'_> {
        SpanStart {
            tracer: self,
            name: name.into(),
            kind: SpanKind::Internal,
            parent: ParentChoice::Current,
            start_time: None,
            attributes: Vec::new(),
            links: Vec::new(),
        }
    }

    /// Starts an internal span under the current context's span (native API).
    #[inline]
    pub fn start_span(&self, name: impl Into<Cow<'static, str>>) -> Span {
        let name = name.into();
        Context::map_current(|cx| {
            with_parent(cx, |p| self.start_plain(name, SpanKind::Internal, p))
        })
    }

    /// Starts a span under `parent` (a local span's context or one a propagator extracted).
    #[inline]
    pub fn start_span_with_parent(
        &self,
        name: impl Into<Cow<'static, str>>,
        kind: SpanKind,
        parent: &SpanContext,
    ) -> Span {
        self.start_plain(name.into(), kind, Some(parent))
    }

    /// The instrumentation scope.
    pub fn scope(&self) -> &InstrumentationScope {
        self.scope
    }

    /// The common start: no attributes, links, events nor start time to apply, so none of
    /// [`Self::start_inner`]'s lists to pass, test and drop.
    #[inline]
    pub(crate) fn start_plain(
        &self,
        name: Cow<'static, str>,
        kind: SpanKind,
        parent: Option<&SpanContext>,
    ) -> Span {
        let core = self.core;
        let parent = parent.filter(|p| p.is_valid());
        if core.disabled {
            return Span::non_recording(parent.cloned().unwrap_or(SpanContext::NONE));
        }
        let (context, decision, extra) = decide(core, parent, &name, &kind, &[], &[]);
        if decision == SamplingDecision::Drop {
            forget_empty(extra);
            return Span::non_recording(context);
        }
        let data = new_span_data(self.scope, name, kind, parent_ids(parent), clock::now());
        let mut span = Span::recording(context, data, core);
        if extra.capacity() == 0 {
            forget_empty(extra);
        } else {
            span.set_attributes(extra);
        }
        for p in &core.processors {
            p.on_start(&span);
        }
        span
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start_inner(
        &self,
        name: Cow<'static, str>,
        kind: SpanKind,
        parent: Option<&SpanContext>,
        start_time: Option<SystemTime>,
        attributes: Vec<KeyValue>,
        links: Vec<Link>,
        events: Option<Vec<Event>>,
    ) -> Span {
        let core = self.core;
        let parent = parent.filter(|p| p.is_valid());
        if core.disabled {
            // The API's no-op behaviour: the parent's context travels on, nothing records.
            return Span::non_recording(parent.cloned().unwrap_or(SpanContext::NONE));
        }
        let (context, decision, extra) = decide(core, parent, &name, &kind, &attributes, &links);
        let (parent_span_id, parent_is_remote) = parent_ids(parent);
        if decision == SamplingDecision::Drop {
            forget_empty(attributes);
            forget_empty(extra);
            forget_empty(links);
            return Span::non_recording(context);
        }
        self.record(
            context,
            new_span_data(
                self.scope,
                name,
                kind,
                (parent_span_id, parent_is_remote),
                start_time.unwrap_or_else(clock::now),
            ),
            attributes,
            extra,
            links,
            events,
        )
    }

    /// Whether the bridge may give its spans [`crate::SharedAttributes`].
    #[cfg(feature = "tracing")]
    pub(crate) fn shares_attributes(&self) -> bool {
        self.core.shares_attributes
    }

    /// A span for the `tracing` bridge: recording, with its start time, but no ids and no
    /// sampling decision yet ([`Span::activate`] gives them), because a `tracing` span may get
    /// its parent (`set_parent`), kind and attributes after creation, before it is first used.
    #[cfg(feature = "tracing")]
    pub(crate) fn pending_span(&self, name: Cow<'static, str>, start_time: SystemTime) -> Span {
        if self.core.disabled {
            return Span::non_recording(SpanContext::NONE);
        }
        Span::recording(
            SpanContext::NONE,
            new_span_data(
                self.scope,
                name,
                SpanKind::Internal,
                (opentelemetry::trace::SpanId::INVALID, false),
                start_time,
            ),
            self.core,
        )
    }

    fn record(
        &self,
        context: SpanContext,
        recording: Box<SpanData>,
        attributes: Vec<KeyValue>,
        extra: Vec<KeyValue>,
        links: Vec<Link>,
        events: Option<Vec<Event>>,
    ) -> Span {
        let mut span = Span::recording(context, recording, self.core);
        // The common start has none of these: no iterator over (nor drop of) empty vectors.
        let mut set_all = |list: Vec<KeyValue>| {
            if list.capacity() == 0 {
                forget_empty(list);
            } else {
                for kv in list {
                    span.set_attribute(kv);
                }
            }
        };
        set_all(attributes);
        set_all(extra);
        if links.capacity() == 0 {
            forget_empty(links);
        } else {
            for l in links {
                span.add_link(l.span_context, l.attributes);
            }
        }
        if let Some(events) = events {
            for e in events {
                span.add_event_with_timestamp(e.name, e.timestamp, e.attributes);
            }
        }
        for p in &self.core.processors {
            p.on_start(&span);
        }
        span
    }
}

#[cfg(test)]
#[path = "tracer_tests.rs"]
mod tests;
