//! Spans: the recording handle ([`Span`]) and what processors receive when it ends
//! ([`SpanData`]).
//!
//! A recording span keeps everything inline — up to 8 attributes in the span itself, no
//! allocation — and holds plain `&'static` references to its provider's core and its scope, so
//! creating and ending a span touches no reference count and no lock shared with other threads.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status};
use opentelemetry::{InstrumentationScope, KeyValue};
use smallvec::SmallVec;

use crate::tracer::Core;

/// A span's attributes: the first 8 live inline.
pub type Attributes = SmallVec<[KeyValue; 8]>;

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
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
    pub events: Vec<Event>,
    pub dropped_events_count: u32,
    pub links: Vec<Link>,
    pub dropped_links_count: u32,
    pub status: Status,
    /// The tracer's instrumentation scope (interned by the provider).
    pub scope: &'static InstrumentationScope,
}

/// The mutable part of a recording span.
#[derive(Debug)]
pub(crate) struct Recording {
    pub(crate) parent_span_id: SpanId,
    pub(crate) parent_is_remote: bool,
    pub(crate) kind: SpanKind,
    pub(crate) name: Cow<'static, str>,
    pub(crate) start_time: SystemTime,
    pub(crate) attributes: Attributes,
    pub(crate) dropped_attributes_count: u32,
    pub(crate) events: Vec<Event>,
    pub(crate) dropped_events_count: u32,
    pub(crate) links: Vec<Link>,
    pub(crate) dropped_links_count: u32,
    pub(crate) status: Status,
    pub(crate) scope: &'static InstrumentationScope,
}

/// A span. Ends when [`Span::end`] is called or when dropped. Every method is a no-op on a
/// span that is not recording (not sampled, SDK disabled, or already ended).
#[derive(Debug)]
pub struct Span {
    pub(crate) context: SpanContext,
    pub(crate) recording: Option<Recording>,
    pub(crate) core: Option<&'static Core>,
}

impl Span {
    /// A span that records nothing and carries `context` (how a non-sampled span, or a parent
    /// context from elsewhere, travels through APIs that take spans).
    pub fn non_recording(context: SpanContext) -> Span {
        Span {
            context,
            recording: None,
            core: None,
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
    #[inline]
    pub fn set_attribute(&mut self, mut kv: KeyValue) {
        let (Some(r), Some(core)) = (self.recording.as_mut(), self.core) else {
            return;
        };
        core.limits.truncate(&mut kv);
        if let Some(existing) = r.attributes.iter_mut().find(|a| a.key == kv.key) {
            existing.value = kv.value;
        } else if r.attributes.len() < core.limits.max_attributes_per_span as usize {
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
            self.add_event_with_timestamp(name, SystemTime::now(), attributes);
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
            self.end_with_timestamp(SystemTime::now());
        }
    }

    /// Ends the span at `end_time`.
    pub fn end_with_timestamp(&mut self, end_time: SystemTime) {
        let (Some(r), Some(core)) = (self.recording.take(), self.core) else {
            return;
        };
        core.on_end(SpanData {
            span_context: self.context.clone(),
            parent_span_id: r.parent_span_id,
            parent_is_remote: r.parent_is_remote,
            kind: r.kind,
            name: r.name,
            start_time: r.start_time,
            end_time,
            attributes: r.attributes,
            dropped_attributes_count: r.dropped_attributes_count,
            events: r.events,
            dropped_events_count: r.dropped_events_count,
            links: r.links,
            dropped_links_count: r.dropped_links_count,
            status: r.status,
            scope: r.scope,
        });
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        self.end();
    }
}
