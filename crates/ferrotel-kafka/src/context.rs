//! The librdkafka client context of both components: its log lines and errors go to
//! `tracing` (librdkafka would use the `log` crate), and its statistics feed the consumer's
//! lag and partition gauges.
//!
//! A broker that refuses the credentials or the certificate makes librdkafka reconnect and
//! fail every few tens of milliseconds: the same line is logged at most once per
//! [`REPEAT_EVERY`], and the last such error is kept so that a failed send can say why.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrotel_runtime::telemetry::{Counter, Gauge};
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
    /// Client errors (authentication, TLS, transport), the receiver's
    /// `ferrotel_kafka_receiver_consumer_errors`.
    pub errors: Option<Counter>,
    /// When each distinct line was last logged (see [`REPEAT_EVERY`]).
    logged: Mutex<HashMap<String, Instant>>,
    /// The last client error, for the message of a failed send.
    pub last_error: Arc<LastError>,
}

/// The last client error and when it came.
#[derive(Default)]
pub struct LastError(Mutex<Option<(Instant, String)>>);

impl LastError {
    fn set(&self, e: &str) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), e.to_string()));
    }

    /// The last client error and how long ago it came, if within `within`: why messages
    /// could not be delivered, such as refused credentials or an untrusted certificate
    /// (librdkafka reports a repeated error seldom, so a failed send may have none newer).
    pub fn recent(&self, within: Duration) -> Option<(Duration, String)> {
        let last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        last.as_ref()
            .map(|(at, e)| (at.elapsed(), e))
            .filter(|(age, _)| *age <= within)
            .map(|(age, e)| (age, e.clone()))
    }
}

/// A repeated librdkafka line is logged once per this interval.
pub const REPEAT_EVERY: Duration = Duration::from_secs(30);

impl KafkaContext {
    pub fn new(id: String) -> Self {
        KafkaContext {
            id,
            lag: None,
            partitions: None,
            errors: None,
            logged: Mutex::new(HashMap::new()),
            last_error: Arc::default(),
        }
    }

    /// Whether to log `line` now: not if the same line (timings aside) was logged within
    /// [`REPEAT_EVERY`].
    fn first_in_a_while(&self, line: &str) -> bool {
        // librdkafka ends its lines with "(after 45ms in state AUTH_REQ)": not part of what
        // makes two lines the same.
        let key = line.split(" (after ").next().unwrap_or(line);
        let now = Instant::now();
        let mut logged = self.logged.lock().unwrap_or_else(|e| e.into_inner());
        if logged.len() > 256 {
            // Bounded: lines can name brokers and partitions.
            logged.retain(|_, at| now.duration_since(*at) < REPEAT_EVERY);
        }
        match logged.get_mut(key) {
            Some(at) if now.duration_since(*at) < REPEAT_EVERY => false,
            Some(at) => {
                *at = now;
                true
            }
            None => {
                logged.insert(key.to_string(), now);
                true
            }
        }
    }
}

impl ClientContext for KafkaContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        let id = &self.id;
        if !matches!(level, RDKafkaLogLevel::Debug) && !self.first_in_a_while(message) {
            return;
        }
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
        if let Some(c) = &self.errors {
            c.add(1);
        }
        // "All brokers are down" follows the error that took them down (refused credentials,
        // an untrusted certificate): keep the cause.
        if error.rdkafka_error_code() != Some(rdkafka::types::RDKafkaErrorCode::AllBrokersDown) {
            self.last_error.set(reason);
        }
        // Transport errors repeat while a broker is away or refuses us; librdkafka reconnects
        // by itself.
        if self.first_in_a_while(reason) {
            tracing::warn!(component = %self.id, "Kafka client: {error}: {reason}");
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_line_is_logged_once_per_interval() {
        let c = KafkaContext::new("kafka".into());
        let line = |ms: u32| {
            format!(
                "b/bootstrap: SASL authentication error: invalid-proof (after {ms}ms in state AUTH_REQ)"
            )
        };
        assert!(c.first_in_a_while(&line(45)));
        assert!(
            !c.first_in_a_while(&line(12)),
            "timings aside, the same line"
        );
        assert!(c.first_in_a_while("b/bootstrap: Connection refused"));
        c.error(
            KafkaError::Global(rdkafka::types::RDKafkaErrorCode::Authentication),
            &line(3),
        );
        c.error(
            KafkaError::Global(rdkafka::types::RDKafkaErrorCode::AllBrokersDown),
            "1/1 brokers are down",
        );
        let (_, why) = c.last_error.recent(Duration::from_secs(60)).unwrap();
        assert!(why.contains("invalid-proof"), "the cause is kept: {why}");
    }
}
