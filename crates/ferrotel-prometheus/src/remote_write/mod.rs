//! Prometheus remote write both ways: the wire messages (`proto`), the `prometheusremotewrite`
//! exporter (OTLP → remote write 1.0) and receiver (remote write 1.0 and 2.0 → OTLP).

pub mod exporter;
pub mod proto;

pub use exporter::RemoteWriteExporterFactory;
pub mod receiver;

pub use receiver::RemoteWriteReceiverFactory;
