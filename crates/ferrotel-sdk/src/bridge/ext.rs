//! What tracing-opentelemetry's `OpenTelemetrySpanExt` offers, for `tracing` spans recorded by
//! the bridge: continue a remote trace (`set_parent`), get the context to inject
//! (`context`), and record OTel data on a `tracing` span.

use std::borrow::Cow;

use opentelemetry::trace::{SpanContext, Status};
use opentelemetry::{Context, Key, KeyValue, Value};

use super::WithState;

/// Why [`OpenTelemetrySpanExt::set_parent`] did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SetParentError {
    /// The span is not recorded by the bridge's layer (no layer, or filtered out).
    #[error("the span is not recorded by the ferrotel tracing layer")]
    LayerNotFound,
    /// The span was already entered (or its context taken): its ids are fixed.
    #[error("the span already started: its parent can no longer change")]
    AlreadyStarted,
    /// The span is disabled (SDK disabled or span filtered).
    #[error("the span is disabled")]
    SpanDisabled,
}

/// OTel operations on a `tracing::Span` recorded by [`super::OpenTelemetryLayer`].
pub trait OpenTelemetrySpanExt {
    /// Makes `cx`'s span (a propagator's extraction) the parent. Call it before the span is
    /// first entered: its ids are drawn then.
    fn set_parent(&self, cx: Context) -> Result<(), SetParentError>;
    /// The OTel context holding this span: what propagators inject, or the parent to give
    /// `opentelemetry` API spans. An empty context when the layer does not record the span.
    fn context(&self) -> Context;
    /// Adds a link to another span.
    fn add_link(&self, cx: SpanContext);
    /// Sets an attribute.
    fn set_attribute(&self, key: impl Into<Key>, value: impl Into<Value>);
    /// Sets the status.
    fn set_status(&self, status: Status);
    /// Adds an event now.
    fn add_event(&self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>);
}

fn with_state(span: &tracing::Span, f: &mut dyn FnMut(&mut super::SpanState)) -> bool {
    span.with_subscriber(
        |(id, dispatch)| match dispatch.downcast_ref::<WithState>() {
            Some(w) => {
                w.with(dispatch, id, f);
                true
            }
            None => false,
        },
    )
    .unwrap_or(false)
}

impl OpenTelemetrySpanExt for tracing::Span {
    fn set_parent(&self, cx: Context) -> Result<(), SetParentError> {
        let mut cx = Some(cx);
        let mut result = Err(SetParentError::LayerNotFound);
        if self.is_disabled() {
            return Err(SetParentError::SpanDisabled);
        }
        with_state(self, &mut |s| {
            if let Some(cx) = cx.take() {
                result = s.set_parent(cx);
            }
        });
        result
    }

    fn context(&self) -> Context {
        let mut out = None;
        with_state(self, &mut |s| out = Some(s.context().clone()));
        out.unwrap_or_default()
    }

    fn add_link(&self, cx: SpanContext) {
        let mut cx = Some(cx);
        with_state(self, &mut |s| {
            if let Some(cx) = cx.take() {
                s.span_mut().add_link(cx, Vec::new());
            }
        });
    }

    fn set_attribute(&self, key: impl Into<Key>, value: impl Into<Value>) {
        let mut kv = Some(KeyValue::new(key, value));
        with_state(self, &mut |s| {
            if let Some(kv) = kv.take() {
                s.span_mut().set_attribute(kv);
            }
        });
    }

    fn set_status(&self, status: Status) {
        let mut status = Some(status);
        with_state(self, &mut |s| {
            if let Some(status) = status.take() {
                s.span_mut().set_status(status);
            }
        });
    }

    fn add_event(&self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) {
        let mut event = Some((name.into(), attributes));
        with_state(self, &mut |s| {
            if let Some((name, attributes)) = event.take() {
                s.span_mut().add_event(name, attributes);
            }
        });
    }
}
