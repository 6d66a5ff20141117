//! What a load run reports: counts, throughput and request latency.

use serde::{Deserialize, Serialize};

/// Request latency quantiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// The outcome of one run. Item counts unless named `requests`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub signal: String,
    pub protocol: String,
    /// Items sent at least once.
    pub sent: u64,
    /// Export requests made (retries included).
    pub requests: u64,
    /// Items the server accepted.
    pub acknowledged: u64,
    /// Items refused permanently (non-retryable error or partial-success rejection).
    pub refused_permanent: u64,
    /// Requests answered with a retryable refusal (503 / Unavailable / 429 / timeout ...).
    pub refused_retryable_requests: u64,
    /// Items sent again after a retryable refusal.
    pub retried: u64,
    /// Items given up on after `--max-retries` retryable refusals.
    pub dropped: u64,
    /// The last error seen, if any.
    pub last_error: Option<String>,
    pub elapsed_s: f64,
    /// Acknowledged items per second.
    pub items_per_s: f64,
    /// Encoded size of one full request (bytes, before compression).
    pub request_bytes: usize,
    /// Latency of each export call (retries included), as the generator saw it.
    pub latency_ms: Latency,
}

impl Report {
    /// A human-readable table.
    pub fn table(&self) -> String {
        let rows = [
            ("signal", self.signal.clone()),
            ("protocol", self.protocol.clone()),
            ("sent", self.sent.to_string()),
            ("acknowledged", self.acknowledged.to_string()),
            ("refused (permanent)", self.refused_permanent.to_string()),
            (
                "refused (retryable, requests)",
                self.refused_retryable_requests.to_string(),
            ),
            ("retried", self.retried.to_string()),
            ("dropped after retries", self.dropped.to_string()),
            ("requests", self.requests.to_string()),
            ("request size (bytes)", self.request_bytes.to_string()),
            ("elapsed (s)", format!("{:.2}", self.elapsed_s)),
            ("throughput (items/s)", format!("{:.0}", self.items_per_s)),
            (
                "latency p50/p90/p99/max (ms)",
                format!(
                    "{:.2} / {:.2} / {:.2} / {:.2}",
                    self.latency_ms.p50,
                    self.latency_ms.p90,
                    self.latency_ms.p99,
                    self.latency_ms.max
                ),
            ),
        ];
        let mut out = String::new();
        for (k, v) in rows {
            out.push_str(&format!("{k:<30} {v}\n"));
        }
        if let Some(e) = &self.last_error {
            out.push_str(&format!("{:<30} {e}\n", "last error"));
        }
        out
    }
}
