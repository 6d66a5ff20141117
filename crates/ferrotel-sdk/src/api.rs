//! The `opentelemetry` API crate's traits, so instrumentation written against the API emits
//! through ferrotel (`opentelemetry::global::set_tracer_provider(provider)`).

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{self as api, SpanBuilder, SpanContext, SpanKind, Status};
use opentelemetry::{Context, InstrumentationScope, KeyValue};

use crate::span::Span;
use crate::tracer::{Tracer, TracerProvider, with_parent};

impl api::TracerProvider for TracerProvider {
    type Tracer = Tracer;

    fn tracer_with_scope(&self, scope: InstrumentationScope) -> Tracer {
        TracerProvider::tracer_with_scope(self, scope)
    }
}

impl api::Tracer for Tracer {
    type Span = Span;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> Span {
        let SpanBuilder {
            span_kind,
            name,
            start_time,
            attributes,
            events,
            links,
        } = builder;
        if start_time.is_none() && attributes.is_none() && links.is_none() && events.is_none() {
            let kind = span_kind.unwrap_or(SpanKind::Internal);
            return with_parent(parent_cx, |parent| self.start_plain(name, kind, parent));
        }
        with_parent(parent_cx, |parent| {
            self.start_inner(
                name,
                span_kind.unwrap_or(SpanKind::Internal),
                parent,
                start_time,
                attributes.unwrap_or_default(),
                links.unwrap_or_default(),
                events,
            )
        })
    }
}

impl api::Span for Span {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        Span::add_event_with_timestamp(self, name, timestamp, attributes)
    }

    fn span_context(&self) -> &SpanContext {
        Span::span_context(self)
    }

    fn is_recording(&self) -> bool {
        Span::is_recording(self)
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        Span::set_attribute(self, attribute)
    }

    fn set_status(&mut self, status: Status) {
        Span::set_status(self, status)
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        Span::update_name(self, new_name)
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        Span::add_link(self, span_context, attributes)
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        Span::end_with_timestamp(self, timestamp)
    }
}
