//! Spans: the recording handle ([`Span`]) and what processors receive when it ends
//! ([`SpanData`]).
//!
//! A recording span keeps everything inline — up to 10 attributes in the span itself, no
//! allocation — and holds plain `&'static` references to its provider's core and its scope, so
//! creating and ending a span touches no reference count and no lock shared with other threads.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status};
use opentelemetry::{InstrumentationScope, KeyValue};
use smallvec::SmallVec;

use crate::inline::InlineAttributes;
#[cfg(feature = "tracing")]
use crate::inline::InlineValue;
use crate::shared::SharedAttributes;
use crate::tracer::Core;

/// A span's attributes: the first 10 live inline. Ten, not more: a boxed [`SpanData`] then stays
/// under 1 KiB, which glibc's allocator serves from its per-thread cache (a larger one costs
/// about 200 instructions more to allocate and free). A `tracing` span through the bridge keeps
/// its metadata attributes and small fields apart ([`SharedAttributes`], [`InlineAttributes`]).
pub type Attributes = SmallVec<[KeyValue; 10]>;

/// A finished span, as processors and exporters receive it.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanData {
    pub span_context: SpanContext,
    /// `SpanId::INVALID` for a root span.
    pub parent_span_id: SpanId,
    pub parent_is_remote: bool,
    pub kind: SpanKind,
    pub name: Cow<'static, str>,
    pub start_time: SystemTime,
    pub end_time: SystemTime,
    /// The attributes set on the span; on a `tracing` span, after its
    /// [`Self::shared_attributes`] and [`Self::inline_attributes`].
    pub attributes: Attributes,
    /// Attributes shared with other spans (a `tracing` span's callsite and thread), kept by
    /// reference; exported first. [`Self::all_attributes`] gives every attribute in order.
    pub shared_attributes: SharedAttributes,
    /// Small values kept inline (a `tracing` span's fields); exported after the shared ones.
    pub inline_attributes: InlineAttributes,
    pub dropped_attributes_count: u32,
    pub events: Vec<Event>,
    pub dropped_events_count: u32,
    pub links: Vec<Link>,
    pub dropped_links_count: u32,
    pub status: Status,
    /// The tracer's instrumentation scope (interned by the provider).
    pub scope: &'static InstrumentationScope,
}

impl SpanData {
    /// Every attribute, in order: the shared ones, the inline ones, then the others.
    pub fn all_attributes(&self) -> impl Iterator<Item = KeyValue> + '_ {
        self.shared_attributes
            .iter()
            .chain(self.inline_attributes.iter())
            .chain(self.attributes.iter().cloned())
    }

    /// How many attributes are held outside [`Self::attributes`].
    #[inline]
    fn held_attributes(&self) -> usize {
        self.shared_attributes.len() + self.inline_attributes.len()
    }

    /// Copies the shared and inline attributes into [`Self::attributes`] (before the others),
    /// for code that reads that list alone.
    pub fn resolve_attributes(&mut self) {
        if self.held_attributes() != 0 {
            let shared = std::mem::take(&mut self.shared_attributes);
            let held: Attributes = shared.iter().chain(self.inline_attributes.iter()).collect();
            self.inline_attributes.clear();
            self.attributes.insert_many(0, held);
        }
    }

    /// Frees a finished span: what dropping it does, minus the out-of-line drop calls for the
    /// lists most spans leave empty or inline (no events, no links, attributes inline). The SDK
    /// frees the spans it owns this way (the no-op processor, the OTLP exporter after encoding
    /// a batch).
    #[inline]
    pub fn free(mut self: Box<Self>) {
        if self.events.capacity() != 0 || self.links.capacity() != 0 || self.attributes.spilled() {
            return drop(self);
        }
        if !self.attributes.is_empty() {
            // Inline: cleared, they own nothing.
            self.attributes.clear();
        }
        // Exhaustive, so a field added later must be considered here: the fields below that
        // may own memory are taken out (and dropped normally), the others own nothing now.
        let SpanData {
            span_context,
            parent_span_id: _,
            parent_is_remote: _,
            kind: _,
            name,
            start_time: _,
            end_time: _,
            attributes: _,
            shared_attributes: _,
            inline_attributes: _,
            dropped_attributes_count: _,
            events: _,
            dropped_events_count: _,
            links: _,
            dropped_links_count: _,
            status,
            scope: _,
        } = &mut *self;
        let owned = (
            std::mem::replace(span_context, SpanContext::NONE),
            std::mem::replace(name, Cow::Borrowed("")),
            std::mem::replace(status, Status::Unset),
        );
        // SAFETY: `ManuallyDrop<SpanData>` has `SpanData`'s layout (`repr(transparent)`), so the
        // allocation is freed with the layout it was made with; no field drop runs, and none
        // owns memory any more (checked and taken out above), so nothing leaks.
        drop(unsafe {
            Box::from_raw(Box::into_raw(self).cast::<std::mem::ManuallyDrop<SpanData>>())
        });
        drop(owned);
    }
}

/// Key equality, cheapest test first: keys set on one span usually differ in length or in
/// their last character (`key1`, `key2`), which avoids a `memcmp` call per comparison.
#[inline]
fn same_key(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.last() == b.last() && a == b
}

/// A span. Ends when [`Span::end`] is called or when dropped. Every method is a no-op on a
/// span that is not recording (not sampled, SDK disabled, or already ended).
#[derive(Debug)]
pub struct Span {
    pub(crate) context: SpanContext,
    /// Boxed: a span moves as a few words, and the finished span reaches the processors
    /// (and the batch queue) as a pointer. `span_context` inside is filled at end.
    pub(crate) recording: Option<Box<SpanData>>,
    pub(crate) core: Option<&'static Core>,
    /// A 64-bit filter of the attribute keys set so far: a key whose bit is clear is new, so
    /// most `set_attribute` calls push without comparing against every key already there.
    key_bits: u64,
}

/// The key's bit in `Span::key_bits` (length and last byte: keys of one span usually differ
/// in one or the other).
#[inline]
const fn key_bit(key: &str) -> u64 {
    let b = key.as_bytes();
    let last = if b.is_empty() { 0 } else { b[b.len() - 1] };
    let h = b.len().wrapping_mul(7) ^ last as usize;
    1u64 << (h & 63)
}

/// The bits of every key a [`SharedAttributes`] may hold.
#[cfg(feature = "tracing")]
const SHARED_KEY_BITS: u64 = {
    let mut bits = 0;
    let mut i = 0;
    while i < crate::shared::KEYS.len() {
        bits |= key_bit(crate::shared::KEYS[i]);
        i += 1;
    }
    bits
};

impl Span {
    /// A span that records nothing and carries `context` (how a non-sampled span, or a parent
    /// context from elsewhere, travels through APIs that take spans).
    pub fn non_recording(context: SpanContext) -> Span {
        Span {
            context,
            recording: None,
            core: None,
            key_bits: 0,
        }
    }

    /// A recording span.
    #[inline]
    pub(crate) fn recording(
        context: SpanContext,
        data: Box<SpanData>,
        core: &'static Core,
    ) -> Span {
        Span {
            context,
            recording: Some(data),
            core: Some(core),
            key_bits: 0,
        }
    }

    /// This span's context (ids, flags, tracestate): what propagators inject and what children
    /// take as parent.
    #[inline]
    pub fn span_context(&self) -> &SpanContext {
        &self.context
    }

    /// Whether the span records (attributes, events... are kept).
    #[inline]
    pub fn is_recording(&self) -> bool {
        self.recording.is_some()
    }

    /// Sets an attribute, replacing the value of an existing one with the same key; past the
    /// count limit it is dropped and counted.
    // Always inlined: the caller then builds the `KeyValue` where it is stored, rather than on
    // its stack for a call to copy (a store-forwarding stall per attribute).
    #[inline(always)]
    pub fn set_attribute(&mut self, mut kv: KeyValue) {
        let (Some(r), Some(core)) = (self.recording.as_mut(), self.core) else {
            return;
        };
        core.limits.truncate(&mut kv);
        let key = kv.key.as_str();
        let bit = key_bit(key);
        let seen = self.key_bits & bit != 0;
        self.key_bits |= bit;
        let max = core.limits.max_attributes_per_span as usize;
        let held = r.held_attributes();
        if held != 0
            && ((seen
                && (r.shared_attributes.contains_key(key)
                    || r.inline_attributes.contains_key(key)))
                || r.attributes.len() + held >= max)
        {
            // Replacing a held attribute, or at the limit: as if they had been set first.
            r.resolve_attributes();
        }
        if let Some(existing) = seen
            .then(|| {
                r.attributes
                    .iter_mut()
                    .find(|a| same_key(a.key.as_str(), key))
            })
            .flatten()
        {
            existing.value = kv.value;
        } else if r.attributes.len() < max {
            r.attributes.push(kv);
        } else {
            r.dropped_attributes_count = r.dropped_attributes_count.saturating_add(1);
        }
    }

    /// Gives the span attributes shared with other spans (the bridge's, on a new span, with
    /// the provider's [`Core::shares_attributes`]); their keys count as set. Fields may then
    /// be kept inline up to the count limit ([`Self::push_inline`]).
    #[cfg(feature = "tracing")]
    #[inline]
    pub(crate) fn set_shared_attributes(&mut self, shared: SharedAttributes) {
        if let (Some(r), Some(core)) = (self.recording.as_mut(), self.core) {
            debug_assert!(r.attributes.is_empty() && r.shared_attributes.is_empty());
            let max = core.limits.max_attributes_per_span as usize;
            // Counting the shared ones only matters when the limit could stop the inline ones.
            let room = if max >= crate::shared::KEYS.len() + crate::inline::INLINE_ATTRIBUTES {
                crate::inline::INLINE_ATTRIBUTES
            } else {
                max.saturating_sub(shared.len())
            };
            r.inline_attributes.allow(room);
            r.shared_attributes = shared;
            self.key_bits |= SHARED_KEY_BITS;
        }
    }

    /// Keeps a `tracing` field's value inline, when it can be exported as if set last: no
    /// other attribute set yet, a new key, room left (the array's and the count limit's, see
    /// [`Self::set_shared_attributes`]). `false`: not taken (set it with
    /// [`Self::set_attribute`]).
    #[cfg(feature = "tracing")]
    #[inline]
    pub(crate) fn push_inline(&mut self, key: &'static str, value: InlineValue) -> bool {
        let Some(r) = self.recording.as_mut() else {
            return true;
        };
        let bit = key_bit(key);
        if self.key_bits & bit != 0
            || !r.attributes.is_empty()
            || !r.inline_attributes.push(key, value)
        {
            return false;
        }
        self.key_bits |= bit;
        true
    }

    /// Adds an attribute whose key the caller knows is not set yet (the bridge's metadata
    /// attributes, set first): no search for an earlier value; the limits still apply.
    #[cfg(feature = "tracing")]
    #[inline(always)]
    pub(crate) fn push_new_attribute(&mut self, mut kv: KeyValue) {
        let (Some(r), Some(core)) = (self.recording.as_mut(), self.core) else {
            return;
        };
        core.limits.truncate(&mut kv);
        self.key_bits |= key_bit(kv.key.as_str());
        if r.attributes.len() < core.limits.max_attributes_per_span as usize {
            r.attributes.push(kv);
        } else {
            r.dropped_attributes_count = r.dropped_attributes_count.saturating_add(1);
        }
    }

    /// Sets several attributes.
    pub fn set_attributes(&mut self, attributes: impl IntoIterator<Item = KeyValue>) {
        if self.recording.is_none() {
            return;
        }
        for kv in attributes {
            self.set_attribute(kv);
        }
    }

    /// Adds an event now.
    pub fn add_event(&mut self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) {
        if self.recording.is_some() {
            self.add_event_with_timestamp(name, crate::clock::now(), attributes);
        }
    }

    /// Adds an event at `timestamp`.
    pub fn add_event_with_timestamp(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        timestamp: SystemTime,
        mut attributes: Vec<KeyValue>,
    ) {
        let (Some(r), Some(core)) = (self.recording.as_mut(), self.core) else {
            return;
        };
        if r.events.len() >= core.limits.max_events_per_span as usize {
            r.dropped_events_count = r.dropped_events_count.saturating_add(1);
            return;
        }
        let dropped = core
            .limits
            .limit_list(&mut attributes, core.limits.max_attributes_per_event);
        r.events
            .push(Event::new(name, timestamp, attributes, dropped));
    }

    /// Records an error as an `exception` event (the semantic conventions' attributes).
    pub fn record_error(&mut self, err: &dyn std::error::Error) {
        if self.recording.is_some() {
            self.add_event(
                "exception",
                vec![KeyValue::new("exception.message", err.to_string())],
            );
        }
    }

    /// Adds a link to another span.
    pub fn add_link(&mut self, span_context: SpanContext, mut attributes: Vec<KeyValue>) {
        let (Some(r), Some(core)) = (self.recording.as_mut(), self.core) else {
            return;
        };
        if !span_context.is_valid() {
            return;
        }
        if r.links.len() >= core.limits.max_links_per_span as usize {
            r.dropped_links_count = r.dropped_links_count.saturating_add(1);
            return;
        }
        let dropped = core
            .limits
            .limit_list(&mut attributes, core.limits.max_attributes_per_link);
        r.links.push(Link::new(span_context, attributes, dropped));
    }

    /// Sets the status: `Ok` is final, `Unset` never overrides, `Error` overrides `Unset` and
    /// an earlier `Error` (the specification's order).
    pub fn set_status(&mut self, status: Status) {
        if let Some(r) = self.recording.as_mut()
            && r.status != Status::Ok
            && status != Status::Unset
        {
            r.status = status;
        }
    }

    /// Renames the span.
    pub fn update_name(&mut self, name: impl Into<Cow<'static, str>>) {
        if let Some(r) = self.recording.as_mut() {
            r.name = name.into();
        }
    }

    /// Ends the span now. Later calls do nothing.
    #[inline]
    pub fn end(&mut self) {
        if self.recording.is_some() {
            self.end_with_timestamp(crate::clock::now());
        }
    }

    /// Ends the span at `end_time`.
    pub fn end_with_timestamp(&mut self, end_time: SystemTime) {
        let (Some(mut r), Some(core)) = (self.recording.take(), self.core) else {
            return;
        };
        if !self.context.is_valid() {
            // A bridge span that never got its ids (see `Tracer::pending_span`): nothing a
            // processor could use.
            return;
        }
        r.span_context = self.context.clone();
        // Never before the start: a clock re-anchored between the two may step back by µs.
        r.end_time = end_time.max(r.start_time);
        core.on_end(r);
    }
}

#[cfg(feature = "tracing")]
impl Span {
    /// Whether the span still waits for [`Span::activate`] (bridge spans only).
    #[inline]
    pub(crate) fn is_pending(&self) -> bool {
        self.recording.is_some() && !self.context.is_valid()
    }

    /// Gives a pending span (`Tracer::pending_span`) its ids and sampling decision under
    /// `parent`, the sampler seeing what the span recorded so far; the processors then see it
    /// start. Does nothing to a span that is not pending.
    pub(crate) fn activate(&mut self, parent: Option<&SpanContext>) {
        if !self.is_pending() {
            return;
        }
        let (Some(r), Some(core)) = (self.recording.as_mut(), self.core) else {
            return;
        };
        let parent = parent.filter(|p| p.is_valid());
        let (context, decision, extra) =
            crate::tracer::decide(core, parent, &r.name, &r.kind, &r.attributes, &r.links);
        (r.parent_span_id, r.parent_is_remote) = crate::tracer::parent_ids(parent);
        self.context = context;
        if decision == crate::sampler::SamplingDecision::Drop {
            self.recording = None;
            return;
        }
        if extra.capacity() == 0 {
            // Never allocated, empty: nothing to drop.
            std::mem::forget(extra);
        } else {
            for kv in extra {
                self.set_attribute(kv);
            }
        }
        for p in &core.processors {
            p.on_start(self);
        }
    }

    /// Sets the kind (bridge: `otel.kind` may be recorded after the span was created).
    pub(crate) fn set_kind(&mut self, kind: SpanKind) {
        if let Some(r) = self.recording.as_mut() {
            r.kind = kind;
        }
    }

    /// The status so far (bridge: an `ERROR` event sets an error only over `Unset`).
    pub(crate) fn status(&self) -> Option<&Status> {
        self.recording.as_ref().map(|r| &r.status)
    }
}

/// A span made the current one (native API): children started on this thread, through the
/// native API or the `opentelemetry` API, take it as parent, and propagators inject it. On drop
/// the previous context comes back and the span ends.
///
/// Cheaper than the API's `mark_span_as_active` because the span stays here rather than boxed
/// behind a mutex in the context: the context carries only its [`SpanContext`]. The trade-off:
/// `opentelemetry::trace::get_active_span(|s| s.set_attribute(..))` does not reach it; use
/// `Deref`/`DerefMut` on this guard instead, or the API path where instrumentation you do not
/// own must record on the current span.
#[must_use = "the span is current only while the guard lives"]
pub struct AttachedSpan {
    // Dropped first: the context is restored before the span ends.
    _guard: opentelemetry::ContextGuard,
    span: Span,
}

impl Span {
    /// Makes this span the current one until the returned guard drops (see [`AttachedSpan`]).
    pub fn attach(self) -> AttachedSpan {
        use opentelemetry::trace::TraceContextExt;
        let cx = opentelemetry::Context::map_current(|cx| {
            cx.with_remote_span_context(self.context.clone())
        });
        AttachedSpan {
            _guard: cx.attach(),
            span: self,
        }
    }
}

impl std::ops::Deref for AttachedSpan {
    type Target = Span;
    fn deref(&self) -> &Span {
        &self.span
    }
}

impl std::ops::DerefMut for AttachedSpan {
    fn deref_mut(&mut self) -> &mut Span {
        &mut self.span
    }
}

impl std::fmt::Debug for AttachedSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.span.fmt(f)
    }
}

impl Drop for Span {
    // Inlined: most spans are dropped after they ended, when this is one test.
    #[inline]
    fn drop(&mut self) {
        self.end();
    }
}
