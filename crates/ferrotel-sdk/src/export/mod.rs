//! Span exporters: the OTLP one ([`otlp`]) and an in-memory one for tests.

pub mod encode;
pub mod otlp;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::SdkError;
use crate::resource::Resource;
use crate::span::SpanData;

/// Sends finished spans somewhere. Called from one thread at a time (the batch processor's
/// own thread, or under the simple processor's lock), so it may keep state without locks.
pub trait SpanExporter: Send + 'static {
    /// Exports a batch, giving up at `deadline`.
    fn export(&mut self, batch: Vec<Box<SpanData>>, deadline: Instant) -> Result<(), SdkError>;
    /// The provider's resource, given once before the first export.
    fn set_resource(&mut self, _resource: &Resource) {}
    /// Releases connections; later exports fail.
    fn shutdown(&mut self) {}
    /// Whether [`Self::export`] reads [`SpanData::shared_attributes`] and
    /// [`SpanData::inline_attributes`] itself (via [`SpanData::all_attributes`]). Exporters that
    /// do not say so get one plain `attributes` list: the SDK's processors call
    /// [`SpanData::resolve_attributes`] before handing them a batch, so an exporter written
    /// against `attributes` alone never misses a `tracing` span's fields.
    fn reads_held_attributes(&self) -> bool {
        false
    }
}

/// Gives exporters that read `attributes` alone one plain list (see
/// [`SpanExporter::reads_held_attributes`]).
pub(crate) fn prepare_batch(exporter: &dyn SpanExporter, batch: &mut [Box<SpanData>]) {
    if !exporter.reads_held_attributes() {
        for s in batch.iter_mut() {
            s.resolve_attributes();
        }
    }
}

/// Keeps exported spans in memory (tests and examples).
#[derive(Debug, Clone, Default)]
pub struct InMemoryExporter {
    spans: Arc<Mutex<Vec<SpanData>>>,
}

impl InMemoryExporter {
    pub fn new() -> Self {
        InMemoryExporter::default()
    }

    /// The spans exported so far, each with one plain `attributes` list.
    pub fn spans(&self) -> Vec<SpanData> {
        self.spans.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn clear(&self) {
        self.spans.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl SpanExporter for InMemoryExporter {
    fn export(&mut self, batch: Vec<Box<SpanData>>, _deadline: Instant) -> Result<(), SdkError> {
        self.spans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(batch.into_iter().map(|s| *s));
        Ok(())
    }
}
