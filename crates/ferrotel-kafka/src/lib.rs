//! Kafka between collector tiers (issue 24): the `kafka` exporter and the `kafka` receiver,
//! with the Go Collector's configuration keys, on librdkafka through `rdkafka`
//! (docs/kafka.md says why this client).
//!
//! - [`client`]: what both share: brokers, client id, SASL and TLS, as librdkafka settings.
//! - [`exporter`]: OTLP (protobuf or JSON), raw log bodies or Zipkin spans as Kafka messages,
//!   keyed by trace id or resource when asked, behind the shared sending queue and retry.
//! - [`receiver`]: a consumer group member that stores a record's offset only once the
//!   pipeline accepted it (at least once), and skips, logs and counts what does not decode.

pub mod client;
mod context;
pub mod exporter;
pub mod receiver;

pub use exporter::KafkaExporterFactory;
pub use receiver::KafkaReceiverFactory;
