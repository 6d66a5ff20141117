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

    /// The spans exported so far, their shared attributes copied into `attributes`.
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
            .extend(batch.into_iter().map(|mut s| {
                // One plain list, as tests read it.
                s.resolve_attributes();
                *s
            }));
        Ok(())
    }
}
