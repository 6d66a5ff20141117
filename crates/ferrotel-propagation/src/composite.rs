//! Composite propagators and `OTEL_PROPAGATORS`.

use crate::{
    B3Encoding, B3Propagator, BaggagePropagator, JaegerPropagator, TraceContextPropagator,
};
use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};

/// `OTEL_PROPAGATORS`' default.
pub const DEFAULT_PROPAGATORS: &str = "tracecontext,baggage";

/// Runs several propagators in order: each injects its fields; each extracts into the context
/// the previous ones produced, so a later propagator's span context wins.
#[derive(Debug, Default)]
pub struct CompositePropagator {
    propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>>,
    fields: Vec<String>,
}

impl CompositePropagator {
    /// Combines `propagators`, in order.
    pub fn new(propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>>) -> Self {
        let mut fields: Vec<String> = Vec::new();
        for p in &propagators {
            for f in p.fields() {
                if !fields.iter().any(|x| x == f) {
                    fields.push(f.to_owned());
                }
            }
        }
        CompositePropagator {
            propagators,
            fields,
        }
    }

    /// How many propagators it runs.
    pub fn len(&self) -> usize {
        self.propagators.len()
    }

    /// Whether it runs none.
    pub fn is_empty(&self) -> bool {
        self.propagators.is_empty()
    }
}

impl TextMapPropagator for CompositePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        for p in &self.propagators {
            p.inject_context(cx, injector);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let mut out = cx.clone();
        for p in &self.propagators {
            out = p.extract_with_context(&out, extractor);
        }
        out
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// Propagates nothing (`OTEL_PROPAGATORS=none`).
#[derive(Clone, Debug, Default)]
pub struct NoopPropagator {
    _private: (),
}

impl NoopPropagator {
    /// A propagator that neither injects nor extracts.
    pub fn new() -> Self {
        Self::default()
    }
}

impl TextMapPropagator for NoopPropagator {
    fn inject_context(&self, _: &Context, _: &mut dyn Injector) {}

    fn extract_with_context(&self, cx: &Context, _: &dyn Extractor) -> Context {
        cx.clone()
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&[])
    }
}

/// Builds the propagator that `OTEL_PROPAGATORS` names (see [`from_names`]); unset or empty means
/// [`DEFAULT_PROPAGATORS`].
pub fn from_env() -> CompositePropagator {
    match std::env::var("OTEL_PROPAGATORS") {
        Ok(v) if !v.trim().is_empty() => from_names(&v),
        _ => from_names(DEFAULT_PROPAGATORS),
    }
}

/// Builds a composite from a comma-separated list of the spec's names: `tracecontext`,
/// `baggage`, `b3` (single header), `b3multi`, `jaeger`, `none`. Names are trimmed and matched
/// case-insensitively; repeats count once; an unknown name is logged and skipped, as the spec
/// asks. `none` anywhere in the list disables propagation (the others logged as ignored).
pub fn from_names(names: &str) -> CompositePropagator {
    let mut seen: Vec<String> = Vec::new();
    for name in names.split(',') {
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() || seen.contains(&name) {
            continue;
        }
        seen.push(name);
    }
    if seen.iter().any(|n| n == "none") {
        if seen.len() > 1 {
            tracing::warn!(
                propagators = names,
                "OTEL_PROPAGATORS has `none` with other names: propagation disabled"
            );
        }
        return CompositePropagator::default();
    }
    let mut propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>> = Vec::new();
    for name in &seen {
        match name.as_str() {
            "tracecontext" => propagators.push(Box::new(TraceContextPropagator::new())),
            "baggage" => propagators.push(Box::new(BaggagePropagator::new())),
            "b3" => propagators.push(Box::new(B3Propagator::with_encoding(
                B3Encoding::SingleHeader,
            ))),
            "b3multi" => propagators.push(Box::new(B3Propagator::with_encoding(
                B3Encoding::MultipleHeader,
            ))),
            "jaeger" => propagators.push(Box::new(JaegerPropagator::new())),
            other => tracing::warn!(
                propagator = other,
                "unknown propagator in OTEL_PROPAGATORS, skipped"
            ),
        }
    }
    CompositePropagator::new(propagators)
}
