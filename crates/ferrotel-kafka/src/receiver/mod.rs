//! `kafka` receiver: one consumer group member reading every topic of the signals whose
//! pipelines list it, passing each record to its signal's pipeline in order.
//!
//! At least once: `enable.auto.offset.store` is off and a record's offset is stored (then
//! committed by autocommit, or at once without it) only after the pipeline accepted it. A
//! record refused for now is retried with `error_backoff` — the partition waits — unless
//! `message_marking::on_error` gives it up. A record that does not decode (garbage,
//! truncated, empty, null) is logged, counted and skipped: retrying cannot fix it, and a
//! partition stuck behind it would stall. After a restart the group resumes from its
//! committed offsets, so what was accepted but not yet committed comes again (duplicates
//! bounded by the records of one autocommit interval).

pub mod config;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::exporter_helper::RetrySettings;
use ferrotel_runtime::telemetry::Counter;
use ferrotel_runtime::telemetry::obs::ReceiverObs;
use ferrotel_runtime::*;
use rdkafka::Message;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers};

pub use self::config::{Encoding, KafkaReceiverConfig};
use crate::context::KafkaContext;

/// Factory of the `kafka` receiver.
pub struct KafkaReceiverFactory;

impl ReceiverFactory for KafkaReceiverFactory {
    type Config = KafkaReceiverConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "kafka",
            "Receives traces, metrics and logs from Kafka topics",
        )
        .signal(Signal::Traces, Stability::Beta)
        .signal(Signal::Metrics, Stability::Beta)
        .signal(Signal::Logs, Stability::Beta)
    }

    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        outputs: SignalOutputs,
    ) -> Result<Arc<dyn Receiver>, ComponentError> {
        let id = ctx.id.to_string();
        let routes = routes(&config, outputs)
            .map_err(|e| ComponentError::new(format!("receiver {id}: {e}")))?;
        let counter = |name, help| {
            ctx.telemetry
                .counter(name, help, &[("receiver", id.as_str())])
        };
        let gauge = |name, help| {
            ctx.telemetry
                .gauge(name, help, &[("receiver", id.as_str())])
        };
        let stats = Stats {
            messages: counter(
                "otelcol_kafka_receiver_messages",
                "Kafka records read by the receiver.",
            ),
            undecodable: counter(
                "ferrotel_kafka_receiver_undecodable_records",
                "Kafka records skipped because they do not decode (garbage, truncated, empty, null).",
            ),
            given_up: counter(
                "ferrotel_kafka_receiver_refused_records",
                "Kafka records the pipeline refused and the receiver marked anyway (message_marking::on_error, or a permanent refusal).",
            ),
            errors: counter(
                "ferrotel_kafka_receiver_consumer_errors",
                "Errors the Kafka consumer reported (the receiver backs off and consumes on).",
            ),
        };
        let mut context = KafkaContext::new(id.clone());
        context.lag = Some(gauge(
            "otelcol_kafka_receiver_offset_lag",
            "Records on the broker after the group's committed offsets, over the assigned partitions (from librdkafka's statistics, every 5 s).",
        ));
        context.partitions = Some(gauge(
            "ferrotel_kafka_receiver_partitions",
            "Partitions assigned to this receiver.",
        ));
        // Refused credentials or certificates surface as client errors, not as records.
        context.errors = Some(stats.errors.clone());
        Ok(Arc::new(KafkaReceiver {
            inner: Arc::new(Inner {
                obs: ReceiverObs::new(&ctx.telemetry, &id, "kafka"),
                id,
                config,
                routes,
                stats,
            }),
            context: Mutex::new(Some(context)),
            task: Mutex::new(None),
            stop: tokio::sync::watch::channel(false).0,
        }))
    }
}

/// Each topic's signal, encoding and pipeline, for the signals whose pipelines list the
/// receiver. One topic carries one signal.
fn routes(config: &KafkaReceiverConfig, outputs: SignalOutputs) -> Result<Routes, String> {
    let mut routes = Routes {
        by_topic: HashMap::new(),
        patterns: Vec::new(),
    };
    for (signal, next) in outputs {
        if signal == Signal::Profiles {
            return Err("the kafka receiver does not read profiles".into());
        }
        let encoding = config.encoding(signal).map_err(|e| e.to_string())?;
        for topic in config.topics(signal) {
            let route = Route {
                signal,
                encoding,
                next: next.clone(),
            };
            if topic.starts_with('^') {
                // Validated with the config.
                let re = regex::Regex::new(&topic).map_err(|e| format!("{topic:?}: {e}"))?;
                routes.patterns.push((topic, re, route));
                continue;
            }
            if let Some(other) = routes.by_topic.get(&topic) {
                return Err(format!(
                    "topic {topic:?} is both the {} and the {signal} topic: one topic carries \
                     one signal (set {signal}::topic)",
                    other.signal
                ));
            }
            routes.by_topic.insert(topic, route);
        }
    }
    Ok(routes)
}

/// Where each topic's records go.
struct Routes {
    by_topic: HashMap<String, Route>,
    /// `topics` entries starting with `^`, as Go: regular expressions, subscribed to as such
    /// (librdkafka matches them against the cluster's topics and follows new ones at its
    /// metadata refresh); a topic named outright wins over a pattern, then the first
    /// matching pattern (traces, metrics, logs order of the pipelines).
    patterns: Vec<(String, regex::Regex, Route)>,
}

impl Routes {
    fn get(&self, topic: &str) -> Option<&Route> {
        self.by_topic.get(topic).or_else(|| {
            self.patterns
                .iter()
                .find(|(_, re, _)| re.is_match(topic))
                .map(|(_, _, r)| r)
        })
    }

    /// What to subscribe to: the topics and the patterns, sorted.
    fn subscription(&self) -> Vec<&str> {
        let mut s: Vec<&str> = self.by_topic.keys().map(String::as_str).collect();
        s.extend(self.patterns.iter().map(|(p, _, _)| p.as_str()));
        s.sort_unstable();
        s
    }
}

struct Route {
    signal: Signal,
    encoding: Encoding,
    next: ConsumerRef,
}

struct Stats {
    messages: Counter,
    undecodable: Counter,
    given_up: Counter,
    errors: Counter,
}

struct Inner {
    id: String,
    config: KafkaReceiverConfig,
    routes: Routes,
    stats: Stats,
    obs: ReceiverObs,
}

pub struct KafkaReceiver {
    inner: Arc<Inner>,
    /// Taken by `start`.
    context: Mutex<Option<KafkaContext>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    stop: tokio::sync::watch::Sender<bool>,
}

/// Decodes a record's value for its route; `Err` says why it is skipped.
pub fn decode(signal: Signal, encoding: Encoding, value: Option<&[u8]>) -> Result<Payload, String> {
    let value = match value {
        None => return Err("the record has no value (null)".into()),
        // An empty line is still a log line.
        Some([]) if !matches!(encoding, Encoding::Raw | Encoding::Text(_)) => {
            return Err("the record's value is empty".into());
        }
        Some(v) => v,
    };
    let payload = match encoding {
        Encoding::OtlpProto => Payload::from_proto(signal, Bytes::copy_from_slice(value))
            .map_err(|e| format!("invalid OTLP protobuf {signal}: {e}"))?,
        Encoding::OtlpJson => ferrotel_pdata::json::transcode(signal, value)
            .and_then(|b| Payload::from_proto(signal, b))
            .map_err(|e| format!("invalid OTLP/JSON {signal}: {e}"))?,
        Encoding::ZipkinProto | Encoding::ZipkinJson | Encoding::ZipkinThrift => {
            use ferrotel_zipkin::receiver::{Format, decode_payload};
            let format = match encoding {
                Encoding::ZipkinProto => Format::V2Proto,
                Encoding::ZipkinThrift => Format::V1Thrift,
                _ => Format::V2Json,
            };
            decode_payload(format, value, &Default::default())?
        }
        // One span per record under its own process, as the Go receiver reads them.
        Encoding::JaegerProto | Encoding::JaegerJson => {
            use ferrotel_jaeger::{jsonpb, proto, to_otlp};
            let batch = if encoding == Encoding::JaegerProto {
                proto::decode_span(value)
            } else {
                jsonpb::decode_span(value).and_then(proto::span_batch)
            }
            .map_err(|e| format!("invalid Jaeger span: {e}"))?;
            Payload::from_request(Request::Traces(to_otlp::to_otlp(vec![batch])))
        }
        Encoding::Raw => one_log(
            any_value::Value::BytesValue(Bytes::copy_from_slice(value)),
            false,
        ),
        Encoding::Text(e) => {
            let (text, _) = e.decode_without_bom_handling(value);
            one_log(any_value::Value::StringValue(text.into_owned()), true)
        }
        Encoding::Json => match serde_json::from_slice::<serde_json::Value>(value) {
            Ok(serde_json::Value::Object(map)) => one_log(json_map(map), true),
            Ok(other) => {
                return Err(format!(
                    "invalid JSON log: a JSON object is expected, not {}",
                    json_kind(&other)
                ));
            }
            Err(e) => return Err(format!("invalid JSON log: {e}")),
        },
    };
    Ok(payload)
}

/// One log record whose body is `body` (the raw, text and json encodings), in an empty
/// resource and scope as Go's unmarshalers make it; text and json stamp the observed time.
fn one_log(body: any_value::Value, observed_now: bool) -> Payload {
    use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
    use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    let observed_time_unix_nano = if observed_now {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    } else {
        0
    };
    Payload::from_request(Request::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Default::default()),
            scope_logs: vec![ScopeLogs {
                scope: Some(Default::default()),
                log_records: vec![LogRecord {
                    observed_time_unix_nano,
                    body: Some(AnyValue { value: Some(body) }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }))
}

/// JSON as Go's `map[string]any` reads it into pdata: numbers are doubles, `null` an empty
/// value, arrays and objects nested.
fn json_value(v: serde_json::Value) -> Option<any_value::Value> {
    use serde_json::Value as J;
    Some(match v {
        J::Null => return None,
        J::Bool(b) => any_value::Value::BoolValue(b),
        J::Number(n) => any_value::Value::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
        J::String(s) => any_value::Value::StringValue(s),
        J::Array(a) => {
            any_value::Value::ArrayValue(ferrotel_pdata::proto::common::v1::ArrayValue {
                values: a
                    .into_iter()
                    .map(|v| AnyValue {
                        value: json_value(v),
                    })
                    .collect(),
            })
        }
        J::Object(m) => json_map(m),
    })
}

fn json_map(m: serde_json::Map<String, serde_json::Value>) -> any_value::Value {
    any_value::Value::KvlistValue(ferrotel_pdata::proto::common::v1::KeyValueList {
        values: m
            .into_iter()
            .map(|(key, v)| KeyValue {
                key,
                value: Some(AnyValue {
                    value: json_value(v),
                }),
                ..Default::default()
            })
            .collect(),
    })
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// `header_extraction`: the listed headers as resource attributes `kafka.header.<name>`.
fn add_headers(payload: &mut Payload, msg: &BorrowedMessage<'_>, names: &[String]) {
    let Some(headers) = msg.headers() else {
        return;
    };
    let attrs: Vec<KeyValue> = headers
        .iter()
        .filter(|h| names.iter().any(|n| n == h.key))
        .filter_map(|h| {
            Some(KeyValue {
                key: format!("kafka.header.{}", h.key),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(
                        String::from_utf8_lossy(h.value?).into_owned(),
                    )),
                }),
                ..Default::default()
            })
        })
        .collect();
    if attrs.is_empty() {
        return;
    }
    let _ = payload.modify(|r| {
        let resources: Vec<&mut Option<ferrotel_pdata::proto::resource::v1::Resource>> = match r {
            Request::Traces(t) => t
                .resource_spans
                .iter_mut()
                .map(|x| &mut x.resource)
                .collect(),
            Request::Metrics(m) => m
                .resource_metrics
                .iter_mut()
                .map(|x| &mut x.resource)
                .collect(),
            Request::Logs(l) => l
                .resource_logs
                .iter_mut()
                .map(|x| &mut x.resource)
                .collect(),
            Request::Profiles(_) => Vec::new(),
        };
        for res in resources {
            let res = res.get_or_insert_with(Default::default);
            res.attributes
                .retain(|a| !attrs.iter().any(|n| n.key == a.key));
            res.attributes.extend(attrs.iter().cloned());
        }
    });
}

/// The wait before the `attempt`th retry (from 0).
fn backoff(b: &RetrySettings, attempt: u32) -> Duration {
    if !b.enabled {
        return Duration::from_millis(100);
    }
    let d = b
        .initial_interval
        .mul_f64(b.multiplier.powi(attempt as i32));
    d.min(b.max_interval)
}

impl Inner {
    fn consumer(&self, context: KafkaContext) -> Result<StreamConsumer<KafkaContext>, String> {
        let c = &self.config;
        let mut props = c.client().client_config();
        props
            .set("group.id", &c.group_id)
            .set("auto.offset.reset", &c.initial_offset)
            .set("enable.auto.offset.store", "false")
            .set("enable.auto.commit", c.autocommit.enable.to_string())
            .set(
                "auto.commit.interval.ms",
                c.autocommit.interval.as_millis().max(1).to_string(),
            )
            .set(
                "session.timeout.ms",
                c.session_timeout.as_millis().to_string(),
            )
            .set(
                "heartbeat.interval.ms",
                c.heartbeat_interval.as_millis().to_string(),
            )
            .set("statistics.interval.ms", "5000");
        if let Some(g) = &c.group_instance_id {
            props.set("group.instance.id", g);
        }
        if let Some(s) = &c.group_rebalance_strategy {
            props.set(
                "partition.assignment.strategy",
                if s == "sticky" {
                    "cooperative-sticky"
                } else {
                    s
                },
            );
        }
        let consumer: StreamConsumer<KafkaContext> = props
            .create_with_context(context)
            .map_err(|e| format!("creating the Kafka consumer: {e}"))?;
        let topics = self.routes.subscription();
        consumer
            .subscribe(&topics)
            .map_err(|e| format!("subscribing to {topics:?}: {e}"))?;
        Ok(consumer)
    }

    /// Marks a record done: its offset is stored for the next (auto)commit.
    fn mark(&self, consumer: &StreamConsumer<KafkaContext>, msg: &BorrowedMessage<'_>) {
        let r = if self.config.autocommit.enable {
            consumer.store_offset_from_message(msg)
        } else {
            consumer.commit_message(msg, CommitMode::Async)
        };
        if let Err(e) = r {
            // The partition was revoked meanwhile: its new owner reads the record again.
            tracing::debug!(receiver = %self.id, "storing the offset of {}/{}@{}: {e}", msg.topic(), msg.partition(), msg.offset());
        }
    }

    /// Passes one record on. Returns false when shutdown interrupted it before the pipeline
    /// took it (its offset is then not marked).
    async fn handle(
        &self,
        consumer: &StreamConsumer<KafkaContext>,
        msg: &BorrowedMessage<'_>,
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) -> bool {
        self.stats.messages.add(1);
        let Some(route) = self.routes.get(msg.topic()) else {
            self.mark(consumer, msg);
            return true;
        };
        let signal = route.signal;
        let mut payload = match decode(signal, route.encoding, msg.payload()) {
            Ok(p) => p,
            Err(why) => {
                self.stats.undecodable.add(1);
                tracing::warn!(receiver = %self.id, topic = msg.topic(), partition = msg.partition(), offset = msg.offset(), "skipping a record that does not decode: {why}");
                self.mark(consumer, msg);
                return true;
            }
        };
        let h = &self.config.header_extraction;
        if h.extract_headers && !h.headers.is_empty() {
            add_headers(&mut payload, msg, &h.headers);
        }
        let items = payload.items();
        let marking = &self.config.message_marking;
        if !marking.after {
            // Go's default: marked before the pipeline sees it (at most once).
            self.mark(consumer, msg);
        }
        if items == 0 {
            if marking.after {
                self.mark(consumer, msg);
            }
            return true;
        }
        let mut attempt = 0;
        loop {
            match route
                .next
                .consume(payload.clone(), Context::default())
                .await
            {
                Ok(()) => {
                    self.obs.accepted(signal, items);
                    if marking.after {
                        self.mark(consumer, msg);
                    }
                    return true;
                }
                Err(e) => {
                    self.obs.refused(signal, items);
                    let permanent = !e.is_retryable();
                    let give_up = if permanent {
                        marking.on_permanent_error.unwrap_or(true)
                    } else {
                        marking.on_error
                    };
                    if permanent || give_up || !marking.after {
                        self.stats.given_up.add(1);
                        tracing::error!(receiver = %self.id, topic = msg.topic(), partition = msg.partition(), offset = msg.offset(), items, "the pipeline refused a record, moving on: {e}");
                        if marking.after && give_up {
                            self.mark(consumer, msg);
                        }
                        return true;
                    }
                    let wait = e
                        .retry_after()
                        .unwrap_or_default()
                        .max(backoff(&self.config.error_backoff, attempt));
                    attempt = attempt.saturating_add(1);
                    tracing::warn!(receiver = %self.id, topic = msg.topic(), partition = msg.partition(), offset = msg.offset(), "the pipeline refused a record for now, retrying in {wait:?}: {e}");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => return false,
                    }
                }
            }
        }
    }

    async fn run(
        self: Arc<Self>,
        consumer: StreamConsumer<KafkaContext>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut errors = 0u32;
        loop {
            let msg = tokio::select! {
                m = consumer.recv() => m,
                _ = stop.changed() => break,
            };
            match msg {
                Ok(msg) => {
                    errors = 0;
                    if !self.handle(&consumer, &msg, &mut stop).await {
                        break;
                    }
                }
                Err(e) => {
                    self.stats.errors.add(1);
                    let wait = backoff(&self.config.error_backoff, errors);
                    errors = errors.saturating_add(1);
                    tracing::warn!(receiver = %self.id, "Kafka consumer error, retrying in {wait:?}: {e}");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => break,
                    }
                }
            }
        }
        // Commit what was stored, then leave the group (consumer close blocks: off the
        // async workers).
        let id = self.id.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
                tracing::debug!(receiver = %id, "committing offsets at shutdown: {e}");
            }
            drop(consumer);
        })
        .await;
    }
}

impl Lifecycle for KafkaReceiver {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let id = &self.inner.id;
            let Some(context) = self
                .context
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
            else {
                return Err(ComponentError::new(format!("receiver {id}: started twice")));
            };
            let consumer = self
                .inner
                .consumer(context)
                .map_err(|e| ComponentError::new(format!("receiver {id}: {e}")))?;
            let topics = self.inner.routes.subscription();
            tracing::info!(receiver = %id, group = %self.inner.config.group_id, "consuming Kafka topics {topics:?}");
            let task = tokio::spawn(self.inner.clone().run(consumer, self.stop.subscribe()));
            *self.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            self.stop.send_replace(true);
            let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(t) = task {
                let _ = t.await;
            }
            Ok(())
        })
    }
}

impl Receiver for KafkaReceiver {}
