//! Span processors: what happens to a span when it starts and ends.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::SdkError;
use crate::export::SpanExporter;
use crate::resource::Resource;
use crate::span::{Span, SpanData};

/// Sees every recording span start and end. Called on the application's threads: must not
/// block (the batch processor hands spans to its own thread).
pub trait SpanProcessor: Send + Sync + 'static {
    /// A span started (it may still be changed by the application).
    fn on_start(&self, _span: &Span) {}
    /// A recording span ended (sampled or not: check `span_context.is_sampled()`).
    fn on_end(&self, span: Box<SpanData>);
    /// Exports what is held, within `timeout`.
    fn force_flush(&self, timeout: Duration) -> Result<(), SdkError>;
    /// Flushes and stops, within `timeout`; later spans are ignored.
    fn shutdown(&self, timeout: Duration) -> Result<(), SdkError>;
    /// The provider's resource, given once when the provider is built.
    fn set_resource(&mut self, _resource: &Resource) {}
}

/// Exports each sampled span as it ends, on the thread that ends it. For tests and debugging:
/// the application waits for every export. Use [`crate::BatchSpanProcessor`] in production.
pub struct SimpleSpanProcessor {
    exporter: Mutex<Box<dyn SpanExporter>>,
    timeout: Duration,
}

impl SimpleSpanProcessor {
    pub fn new(exporter: impl SpanExporter) -> Self {
        SimpleSpanProcessor {
            exporter: Mutex::new(Box::new(exporter)),
            timeout: Duration::from_secs(30),
        }
    }
}

impl SpanProcessor for SimpleSpanProcessor {
    fn on_end(&self, span: Box<SpanData>) {
        if !span.span_context.is_sampled() {
            return;
        }
        let mut e = self.exporter.lock().unwrap_or_else(|e| e.into_inner());
        let mut batch = vec![span];
        crate::export::prepare_batch(&**e, &mut batch);
        if let Err(err) = e.export(batch, Instant::now() + self.timeout) {
            tracing::warn!(error = %err, "span export failed");
        }
    }

    fn force_flush(&self, _timeout: Duration) -> Result<(), SdkError> {
        Ok(())
    }

    fn shutdown(&self, _timeout: Duration) -> Result<(), SdkError> {
        self.exporter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .shutdown();
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.exporter
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .set_resource(resource);
    }
}

/// Discards every span: measures the cost of creating spans (benchmarks).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopSpanProcessor;

impl SpanProcessor for NoopSpanProcessor {
    #[inline]
    fn on_end(&self, span: Box<SpanData>) {
        span.free();
    }
    fn force_flush(&self, _timeout: Duration) -> Result<(), SdkError> {
        Ok(())
    }
    fn shutdown(&self, _timeout: Duration) -> Result<(), SdkError> {
        Ok(())
    }
}
