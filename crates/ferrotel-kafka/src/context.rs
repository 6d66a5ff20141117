//! The librdkafka client context of both components: its log lines and errors go to
//! `tracing` (librdkafka would use the `log` crate), and its statistics feed the consumer's
//! lag and partition gauges.

use ferrotel_runtime::telemetry::Gauge;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;

pub struct KafkaContext {
    /// The component id, on every log line.
    pub id: String,
    /// `otelcol_kafka_receiver_offset_lag` and `…_partitions` (receiver only).
    pub lag: Option<Gauge>,
    pub partitions: Option<Gauge>,
}

impl ClientContext for KafkaContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        let id = &self.id;
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(component = %id, "librdkafka {fac}: {message}")
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(component = %id, "librdkafka {fac}: {message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(component = %id, "librdkafka {fac}: {message}")
            }
            RDKafkaLogLevel::Debug => {
                tracing::debug!(component = %id, "librdkafka {fac}: {message}")
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // Transport errors repeat while a broker is away; librdkafka reconnects by itself.
        tracing::warn!(component = %self.id, "Kafka client: {error}: {reason}");
    }

    fn stats(&self, s: Statistics) {
        let (Some(lag), Some(partitions)) = (&self.lag, &self.partitions) else {
            return;
        };
        let mut total = 0u64;
        let mut assigned = 0u64;
        for t in s.topics.values() {
            for (&id, p) in &t.partitions {
                // -1 is librdkafka's internal "unassigned" partition; a lag of -1 is unknown.
                if id < 0 || !p.desired {
                    continue;
                }
                assigned += 1;
                total += p.consumer_lag.max(0) as u64;
            }
        }
        lag.set(total);
        partitions.set(assigned);
    }
}

impl ConsumerContext for KafkaContext {
    fn commit_callback(
        &self,
        result: rdkafka::error::KafkaResult<()>,
        _offsets: &rdkafka::TopicPartitionList,
    ) {
        match result {
            // Nothing stored since the last commit.
            Err(KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset))
            | Ok(()) => {}
            Err(e) => tracing::warn!(component = %self.id, "committing offsets: {e}"),
        }
    }
}
