//! Typed handles on the standard `otelcol_*` series for each component kind, created once when a
//! component is built (like the Go Collector's receiverhelper/exporterhelper obsreport).

use ferrotel_pdata::Signal;

use super::{Counter, Gauge, Telemetry};

/// `otelcol_receiver_{accepted,refused}_<items>` for one receiver and transport.
#[derive(Clone)]
pub struct ReceiverObs {
    accepted: [Counter; 4],
    refused: [Counter; 4],
}

fn idx(s: Signal) -> usize {
    s as usize
}

macro_rules! per_signal {
    ($t:expr, $prefix:literal, $help:literal, $labels:expr) => {
        [
            $t.counter(concat!($prefix, "spans"), $help, $labels),
            $t.counter(concat!($prefix, "metric_points"), $help, $labels),
            $t.counter(concat!($prefix, "log_records"), $help, $labels),
            $t.counter(concat!($prefix, "profiles"), $help, $labels),
        ]
    };
}

impl ReceiverObs {
    pub fn new(t: &Telemetry, receiver: &str, transport: &str) -> Self {
        let labels = &[("receiver", receiver), ("transport", transport)];
        ReceiverObs {
            accepted: per_signal!(
                t,
                "otelcol_receiver_accepted_",
                "Items successfully pushed into the pipeline.",
                labels
            ),
            refused: per_signal!(
                t,
                "otelcol_receiver_refused_",
                "Items that could not be pushed into the pipeline.",
                labels
            ),
        }
    }

    #[inline]
    pub fn accepted(&self, signal: Signal, n: usize) {
        self.accepted[idx(signal)].add(n as u64);
    }

    #[inline]
    pub fn refused(&self, signal: Signal, n: usize) {
        self.refused[idx(signal)].add(n as u64);
    }
}

/// `otelcol_exporter_*` for one exporter.
#[derive(Clone)]
pub struct ExporterObs {
    sent: [Counter; 4],
    send_failed: [Counter; 4],
    enqueue_failed: [Counter; 4],
    /// `otelcol_exporter_queue_size` (in the queue's sizer unit).
    pub queue_size: Gauge,
    /// `otelcol_exporter_queue_capacity`.
    pub queue_capacity: Gauge,
}

impl ExporterObs {
    pub fn new(t: &Telemetry, exporter: &str) -> Self {
        let labels = &[("exporter", exporter)];
        ExporterObs {
            sent: per_signal!(
                t,
                "otelcol_exporter_sent_",
                "Items successfully sent to destination.",
                labels
            ),
            send_failed: per_signal!(
                t,
                "otelcol_exporter_send_failed_",
                "Items that failed to be sent to destination.",
                labels
            ),
            enqueue_failed: per_signal!(
                t,
                "otelcol_exporter_enqueue_failed_",
                "Items that failed to be added to the sending queue.",
                labels
            ),
            queue_size: t.gauge(
                "otelcol_exporter_queue_size",
                "Current size of the retry queue.",
                labels,
            ),
            queue_capacity: t.gauge(
                "otelcol_exporter_queue_capacity",
                "Fixed capacity of the retry queue.",
                labels,
            ),
        }
    }

    #[inline]
    pub fn sent(&self, signal: Signal, n: usize) {
        self.sent[idx(signal)].add(n as u64);
    }

    #[inline]
    pub fn send_failed(&self, signal: Signal, n: usize) {
        self.send_failed[idx(signal)].add(n as u64);
    }

    #[inline]
    pub fn enqueue_failed(&self, signal: Signal, n: usize) {
        self.enqueue_failed[idx(signal)].add(n as u64);
    }
}

/// `otelcol_processor_{incoming,outgoing,dropped}_items` for one processor in one pipeline.
#[derive(Clone)]
pub struct ProcessorObs {
    pub incoming: Counter,
    pub outgoing: Counter,
    /// Items a processor dropped (filtered, refused downstream); ferrotel counts every drop.
    pub dropped: Counter,
}

impl ProcessorObs {
    pub fn new(t: &Telemetry, processor: &str, pipeline: &str, signal: Signal) -> Self {
        let labels = &[
            ("processor", processor),
            ("pipeline", pipeline),
            ("otel_signal", signal.as_str()),
        ];
        ProcessorObs {
            incoming: t.counter(
                "otelcol_processor_incoming_items",
                "Items passed to the processor.",
                labels,
            ),
            outgoing: t.counter(
                "otelcol_processor_outgoing_items",
                "Items emitted by the processor.",
                labels,
            ),
            dropped: t.counter(
                "otelcol_processor_dropped_items",
                "Items dropped by the processor.",
                labels,
            ),
        }
    }
}
