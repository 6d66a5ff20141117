//! `kafka` exporter: each request becomes one or more Kafka messages on its signal's topic,
//! sent by librdkafka's producer behind the shared sending queue and retry.
//!
//! A request becomes one message, or with `partition_traces_by_id` one message per trace
//! (key: the trace id in lowercase hex, as the Go exporter writes it), or with
//! `partition_{metrics,logs}_by_resource_attributes` one per resource (key: a hash of its
//! attributes); `jaeger_proto`/`jaeger_json` always one message per span, keyed by its trace
//! id (the Go exporter's jaeger marshaler). A message over `producer::max_message_bytes` (before compression) is split
//! by items; when one item alone is over, the request is refused before anything is sent —
//! logged and counted in `otelcol_exporter_send_failed_*` by the exporter helper.

pub mod config;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrotel_pdata::wire::{self, AnyValueView};
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::exporter_helper::{QueuedExporter, SendFailure, Sender};
use ferrotel_runtime::*;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;

use crate::context::{KafkaContext, LastError};

pub use self::config::{Encoding, KafkaExporterConfig};

/// Factory of the `kafka` exporter.
pub struct KafkaExporterFactory;

impl ExporterFactory for KafkaExporterFactory {
    type Config = KafkaExporterConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("kafka", "Sends traces, metrics and logs to Kafka topics")
            .signal(Signal::Traces, Stability::Beta)
            .signal(Signal::Metrics, Stability::Beta)
            .signal(Signal::Logs, Stability::Beta)
    }

    fn create(
        &self,
        ctx: CreateContext,
        c: Self::Config,
        _signals: &[Signal],
    ) -> Result<Arc<dyn Exporter>, ComponentError> {
        let sender = KafkaSender::with_id(&c, ctx.id.to_string())
            .map_err(|e| ComponentError::new(format!("exporter {}: {e}", ctx.id)))?;
        Ok(Arc::new(QueuedExporter::new(
            &ctx,
            Arc::new(sender),
            &c.sending_queue,
            c.retry_on_failure,
            // librdkafka gives up on a message after `message.timeout.ms` (= timeout), checked
            // once a second; the helper's own deadline only backs that up.
            c.timeout + Duration::from_secs(3),
        )?))
    }
}

/// Where and how one signal is written.
struct Route {
    topic: String,
    encoding: Encoding,
    /// Partition by trace id (traces) or by resource (metrics, logs).
    partition: bool,
}

/// One message to produce.
#[derive(Debug)]
pub struct Message {
    pub key: Option<String>,
    pub value: Bytes,
}

pub struct KafkaSender {
    producer: FutureProducer<KafkaContext>,
    /// Traces, metrics, logs.
    routes: [Route; 3],
    topic_from_metadata_key: Option<String>,
    topic_from_attribute: Option<String>,
    include_metadata_keys: Vec<String>,
    /// The producer's last client error, for the message of a failed send.
    last_error: Arc<LastError>,
    max_message_bytes: usize,
    timeout: Duration,
}

impl KafkaSender {
    pub fn new(c: &KafkaExporterConfig) -> Result<Self, String> {
        Self::with_id(c, "kafka".into())
    }

    /// `id`: the component id, on the client's log lines.
    pub fn with_id(c: &KafkaExporterConfig, id: String) -> Result<Self, String> {
        let route = |signal, partition| -> Result<Route, String> {
            Ok(Route {
                topic: c.topic(signal),
                encoding: c.encoding(signal).map_err(|e| e.to_string())?,
                partition,
            })
        };
        let mut props = c.client().client_config();
        props
            .set("message.timeout.ms", c.timeout.as_millis().to_string())
            .set(
                "acks",
                match c.producer.required_acks {
                    0 => "0",
                    1 => "1",
                    _ => "all",
                },
            )
            .set(
                "compression.type",
                match c.producer.compression.as_str() {
                    "" => "none",
                    other => other,
                },
            )
            // Our check is on the value (before compression); room for key, headers and the
            // record's framing on top.
            .set(
                "message.max.bytes",
                (c.producer.max_message_bytes + 4096).to_string(),
            );
        if let Some(level) = c.producer.compression_params.level {
            props.set("compression.level", level.to_string());
        }
        if c.producer.flush_max_messages > 0 {
            props.set(
                "batch.num.messages",
                c.producer.flush_max_messages.to_string(),
            );
        }
        let context = KafkaContext::new(id);
        let last_error = context.last_error.clone();
        let producer: FutureProducer<KafkaContext> = props
            .create_with_context(context)
            .map_err(|e| format!("creating the Kafka producer: {e}"))?;
        Ok(KafkaSender {
            producer,
            routes: [
                route(Signal::Traces, c.partition_traces_by_id)?,
                route(Signal::Metrics, c.partition_metrics_by_resource_attributes)?,
                route(Signal::Logs, c.partition_logs_by_resource_attributes)?,
            ],
            topic_from_metadata_key: c.topic_from_metadata_key.clone(),
            topic_from_attribute: c.topic_from_attribute.clone(),
            include_metadata_keys: c.include_metadata_keys.clone(),
            last_error,
            max_message_bytes: c.producer.max_message_bytes,
            timeout: c.timeout,
        })
    }

    fn route(&self, signal: Signal) -> Result<&Route, SendFailure> {
        match signal {
            Signal::Traces => Ok(&self.routes[0]),
            Signal::Metrics => Ok(&self.routes[1]),
            Signal::Logs => Ok(&self.routes[2]),
            Signal::Profiles => Err(SendFailure::permanent(
                "the kafka exporter does not send profiles",
            )),
        }
    }

    /// The messages of one request, or why it cannot be sent (permanent: nothing was sent).
    pub fn messages(&self, payload: &Payload) -> Result<Vec<Message>, SendFailure> {
        let signal = payload.signal();
        let route = self.route(signal)?;
        let bytes = payload.to_proto();
        if let Encoding::JaegerProto | Encoding::JaegerJson = route.encoding {
            return self
                .jaeger_messages(signal, route.encoding, bytes)
                .map_err(SendFailure::permanent);
        }
        let bad = |e: ferrotel_pdata::DecodeError| {
            SendFailure::permanent(format!("undecodable {signal}: {e}"))
        };
        // The partition units: (key, a request holding only that unit's items).
        let units: Vec<(Option<String>, Bytes)> = match (signal, route.partition) {
            (Signal::Traces, true) => wire::split_by_trace_id(&bytes)
                .map_err(bad)?
                .into_iter()
                .map(|(id, b)| (Some(hex(&id)), b))
                .collect(),
            (_, true) => {
                let mut units = Vec::new();
                wire::for_each_resource(signal, &bytes, |r| {
                    let mut one = Vec::with_capacity(r.raw().len() + 6);
                    one.push(0x0a);
                    wire::put_varint(&mut one, r.raw().len() as u64);
                    one.extend_from_slice(r.raw());
                    units.push((Some(resource_key(r)), Bytes::from(one)));
                })
                .map_err(bad)?;
                units
            }
            _ => vec![(None, bytes)],
        };
        let mut out = Vec::with_capacity(units.len());
        for (key, unit) in units {
            self.fit(signal, route.encoding, key, unit, &mut out)
                .map_err(SendFailure::permanent)?;
        }
        Ok(out)
    }

    /// Go's jaeger marshaler: one message per span, carrying its batch's process, keyed by
    /// the trace id as Jaeger's `TraceID.String()` writes it (whatever the partitioning
    /// settings). A span over `max_message_bytes` refuses the request.
    fn jaeger_messages(
        &self,
        signal: Signal,
        encoding: Encoding,
        request: Bytes,
    ) -> Result<Vec<Message>, String> {
        use ferrotel_jaeger::{from_otlp::from_otlp, jsonpb, proto};
        let Request::Traces(t) = decode_request(signal, request)? else {
            return Err("jaeger encodings carry traces only".into());
        };
        let batches = from_otlp(&t);
        let mut out = Vec::with_capacity(batches.iter().map(|b| b.spans.len()).sum());
        for b in &batches {
            for s in &b.spans {
                let p = proto::span_to_proto(s, b.process.as_ref());
                let value: Bytes = if encoding == Encoding::JaegerProto {
                    prost::Message::encode_to_vec(&p).into()
                } else {
                    jsonpb::encode_span(&p).into()
                };
                if value.len() > self.max_message_bytes {
                    return Err(format!(
                        "one span encodes to {} bytes, over producer::max_message_bytes ({})",
                        value.len(),
                        self.max_message_bytes
                    ));
                }
                out.push(Message {
                    key: Some(jaeger_trace_id(s.trace_id_high, s.trace_id_low)),
                    value,
                });
            }
        }
        Ok(out)
    }

    /// Encodes `unit` as messages of at most `max_message_bytes`, halving it by items as
    /// long as it is over; an error when a single item is over.
    fn fit(
        &self,
        signal: Signal,
        encoding: Encoding,
        key: Option<String>,
        unit: Bytes,
        out: &mut Vec<Message>,
    ) -> Result<(), String> {
        let max = self.max_message_bytes;
        if encoding == Encoding::Raw {
            return raw_bodies(&unit, |body| {
                if body.len() > max {
                    return Err(format!(
                        "a log body of {} bytes is over producer::max_message_bytes ({max})",
                        body.len()
                    ));
                }
                out.push(Message {
                    key: key.clone(),
                    value: body,
                });
                Ok(())
            });
        }
        let value = encode(signal, encoding, unit.clone())?;
        if value.len() <= max {
            out.push(Message { key, value });
            return Ok(());
        }
        let items = wire::count(signal, &unit).map_err(|e| e.to_string())?;
        if items <= 1 {
            return Err(format!(
                "one {} item encodes to {} bytes, over producer::max_message_bytes ({max})",
                signal,
                value.len()
            ));
        }
        for part in wire::split(signal, &unit, items.div_ceil(2)).map_err(|e| e.to_string())? {
            self.fit(signal, encoding, key.clone(), part, out)?;
        }
        Ok(())
    }
}

fn decode_request(signal: Signal, unit: Bytes) -> Result<Request, String> {
    Payload::from_proto(signal, unit)
        .and_then(Payload::into_request)
        .map_err(|e| e.to_string())
}

/// A trace id as Jaeger's `TraceID.String()`: 16 hex digits when the high half is zero, else 32.
pub fn jaeger_trace_id(high: u64, low: u64) -> String {
    if high == 0 {
        hex(&low.to_be_bytes())
    } else {
        hex(&[high.to_be_bytes(), low.to_be_bytes()].concat())
    }
}

/// The message value of a request holding one unit's items.
fn encode(signal: Signal, encoding: Encoding, unit: Bytes) -> Result<Bytes, String> {
    let decode = || decode_request(signal, unit.clone());
    Ok(match encoding {
        // TracesData/MetricsData/LogsData have the export requests' field numbers: the
        // request's bytes are the message.
        Encoding::OtlpProto | Encoding::Raw => unit,
        Encoding::OtlpJson => ferrotel_pdata::json::encode(&decode()?).into(),
        Encoding::ZipkinProto | Encoding::ZipkinJson => {
            let Request::Traces(t) = decode()? else {
                return Err("zipkin encodings carry traces only".into());
            };
            let spans = ferrotel_zipkin::from_otlp::from_otlp(&t, "<missing service name>");
            if encoding == Encoding::ZipkinProto {
                ferrotel_zipkin::proto::encode(&spans).into()
            } else {
                ferrotel_zipkin::json::encode(&spans).into()
            }
        }
        Encoding::JaegerProto | Encoding::JaegerJson => {
            return Err("jaeger encodings write one message per span".into());
        }
    })
}

/// Calls `f` with the body of each log record of a logs request: strings as UTF-8, bytes as
/// they are, other values as OTLP/JSON AnyValue (as Go's raw log encoding does).
fn raw_bodies(unit: &Bytes, mut f: impl FnMut(Bytes) -> Result<(), String>) -> Result<(), String> {
    use ferrotel_pdata::proto::common::v1::any_value::Value;
    let Request::Logs(logs) = Payload::from_proto(Signal::Logs, unit.clone())
        .and_then(Payload::into_request)
        .map_err(|e| e.to_string())?
    else {
        return Err("raw encoding carries logs only".into());
    };
    for rl in logs.resource_logs {
        for sl in rl.scope_logs {
            for lr in sl.log_records {
                let body = match lr.body.and_then(|b| b.value) {
                    None => Bytes::new(),
                    Some(Value::StringValue(s)) => s.into(),
                    Some(Value::BytesValue(b)) => b,
                    Some(other) => serde_json::to_vec(&any_value_json(&other))
                        .unwrap_or_default()
                        .into(),
                };
                f(body)?;
            }
        }
    }
    Ok(())
}

/// A non-string body as JSON (numbers, booleans, arrays and maps as JSON values).
fn any_value_json(v: &ferrotel_pdata::proto::common::v1::any_value::Value) -> serde_json::Value {
    use ferrotel_pdata::proto::common::v1::any_value::Value;
    let inner = |a: &ferrotel_pdata::proto::common::v1::AnyValue| {
        a.value
            .as_ref()
            .map_or(serde_json::Value::Null, any_value_json)
    };
    match v {
        Value::StringValue(s) => s.clone().into(),
        Value::BoolValue(b) => (*b).into(),
        Value::IntValue(i) => (*i).into(),
        Value::DoubleValue(d) => (*d).into(),
        Value::BytesValue(b) => hex(b).into(),
        Value::ArrayValue(a) => a.values.iter().map(inner).collect(),
        Value::KvlistValue(kv) => kv
            .values
            .iter()
            .map(|k| {
                (
                    k.key.clone(),
                    k.value.as_ref().map_or(serde_json::Value::Null, inner),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
        Value::StringValueStrindex(i) => (*i).into(),
    }
}

/// Lowercase hex.
pub fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(DIGITS[(x >> 4) as usize] as char);
        s.push(DIGITS[(x & 15) as usize] as char);
    }
    s
}

/// A key for a resource: FNV-1a (64 bits, stable across builds, unlike std's hasher) over
/// its attributes sorted by key, so equal resources land on one partition whatever the
/// attribute order.
fn resource_key(r: wire::ResourceView<'_>) -> String {
    let mut attrs: Vec<(&str, AnyValueView<'_>)> = r.attributes().collect();
    attrs.sort_by(|a, b| a.0.cmp(b.0));
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator, so ("ab","c") and ("a","bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    for (k, v) in attrs {
        eat(k.as_bytes());
        match v {
            AnyValueView::Empty => eat(b"\0"),
            AnyValueView::Str(s) => eat(s.as_bytes()),
            AnyValueView::Bool(b) => eat(&[2, b as u8]),
            AnyValueView::Int(i) => eat(&i.to_le_bytes()),
            AnyValueView::Double(d) => eat(&d.to_le_bytes()),
            AnyValueView::Bytes(b) | AnyValueView::Other(b) => eat(b),
        }
    }
    hex(&h.to_be_bytes())
}

impl KafkaSender {
    /// `topic_from_attribute`: the first resource's string value of that attribute.
    fn topic_from_attribute(&self, payload: &Payload) -> Option<String> {
        let key = self.topic_from_attribute.as_deref()?;
        let bytes = payload.to_proto();
        let mut topic = None;
        // Undecodable data is refused by `messages` with its reason.
        let _ = wire::for_each_resource(payload.signal(), &bytes, |r| {
            if topic.is_none() {
                topic = r.attributes().find_map(|(k, v)| match v {
                    AnyValueView::Str(s) if k == key && !s.is_empty() => Some(s.to_string()),
                    _ => None,
                });
            }
        });
        topic
    }
}

/// Whether a delivery error can go away by itself.
fn retryable(e: &KafkaError) -> bool {
    !matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidMessage
                | RDKafkaErrorCode::InvalidRecord
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::InvalidTopic
        )
    )
}

impl Sender for KafkaSender {
    fn send(&self, payload: Payload, ctx: Context) -> BoxFuture<'_, Result<(), SendFailure>> {
        Box::pin(async move {
            let signal = payload.signal();
            let route = self.route(signal)?;
            let client = ctx.client.as_ref();
            let attribute_topic;
            let topic = match self
                .topic_from_metadata_key
                .as_deref()
                .and_then(|k| client?.metadata_values(k).next())
            {
                Some(t) => t,
                None => {
                    attribute_topic = self.topic_from_attribute(&payload);
                    attribute_topic.as_deref().unwrap_or(&route.topic)
                }
            };
            let messages = self.messages(&payload)?;
            // `include_metadata_keys`: the request's metadata values as headers of each of its
            // records (built once per request, copied into each record by librdkafka).
            let mut headers = None::<OwnedHeaders>;
            for key in &self.include_metadata_keys {
                for value in client.into_iter().flat_map(|c| c.metadata_values(key)) {
                    headers = Some(headers.unwrap_or_default().insert(Header {
                        key: key.as_str(),
                        value: Some(value),
                    }));
                }
            }
            let sends = messages.iter().map(|m| {
                let mut record = FutureRecord::<str, [u8]>::to(topic).payload(&m.value[..]);
                if let Some(k) = &m.key {
                    record = record.key(k.as_str());
                }
                if let Some(h) = &headers {
                    record = record.headers(h.clone());
                }
                self.producer.send(record, Timeout::After(self.timeout))
            });
            let results = futures::future::join_all(sends).await;
            let mut failed = 0;
            let mut first: Option<KafkaError> = None;
            for r in results {
                if let Err((e, _)) = r {
                    failed += 1;
                    first.get_or_insert(e);
                }
            }
            match first {
                None => Ok(()),
                Some(e) => {
                    // Some messages may be delivered: a retry sends them again (at least once).
                    let mut message = format!(
                        "{failed} of {} messages to topic {topic:?} failed: {e}",
                        messages.len()
                    );
                    // A timeout says nothing of why: refused credentials or an untrusted
                    // certificate show only as the client's own errors.
                    if let Some((age, why)) = self.last_error.recent(Duration::from_secs(300)) {
                        message.push_str(&format!(
                            " (the Kafka client's last error, {} s ago: {why})",
                            age.as_secs()
                        ));
                    }
                    Err(if retryable(&e) {
                        SendFailure::retryable(message)
                    } else {
                        SendFailure::permanent(message)
                    })
                }
            }
        })
    }

    fn close(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let producer = self.producer.clone();
            let timeout = self.timeout;
            // Every send was awaited, so this only waits for librdkafka's own bookkeeping.
            let _ =
                tokio::task::spawn_blocking(move || producer.flush(Timeout::After(timeout))).await;
            Ok(())
        })
    }
}
