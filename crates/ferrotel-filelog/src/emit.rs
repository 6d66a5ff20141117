//! Records → OTLP logs → the next stage: batching, the stanza operators when configured, and
//! `retry_on_failure`.
//!
//! Without operators, records become `LogRecord`s directly (no stanza `Entry` and its maps in
//! between: that is the hot path). With operators (or a header), each record is an `Entry` run
//! through `ferrotel_stanza::Pipeline`, and the output is encoded straight to protobuf bytes by
//! `ferrotel_stanza::LogsEncoder` as it comes out.

use std::time::{Duration, Instant};

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::{ConsumerRef, Context};
use ferrotel_stanza::{Entry, Key, LogsEncoder, Map, Pipeline, Value};

use crate::config::RetryOnFailure;

/// Records per export request (the Go stanza adapter sends batches of 100; larger requests
/// cost less per record downstream).
pub const MAX_BATCH: usize = 1024;

/// A record's body as read.
pub enum Body {
    Text(String),
    Bytes(Vec<u8>),
}

/// File attributes shared by all records of one file (computed once per file, not per line).
#[derive(Default, Clone)]
pub struct FileAttrs {
    pub attrs: Vec<(&'static str, String)>,
    /// Attributes from the file's header (`header.metadata_operators`).
    pub header: Map,
}

pub struct Emitter {
    next: ConsumerRef,
    runtime: tokio::runtime::Handle,
    retry: RetryOnFailure,
    /// Static `attributes:` and `resource:`.
    attributes: Vec<(String, String)>,
    resource: Vec<(String, String)>,
    pipeline: Option<Pipeline>,
    /// The entry-map keys of file attributes, record number/offset and `attributes:`, made
    /// once: keys are shared text, so per line they cost a reference count, not a copy.
    keys: Vec<(&'static str, Key)>,
    attribute_keys: Vec<Key>,
    resource_map: Map,
    records: Vec<LogRecord>,
    encoder: LogsEncoder,
    out: Vec<Entry>,
    pending: usize,
    stopping: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Emitter {
    pub fn new(
        next: ConsumerRef,
        runtime: tokio::runtime::Handle,
        retry: RetryOnFailure,
        attributes: Vec<(String, String)>,
        resource: Vec<(String, String)>,
        pipeline: Option<Pipeline>,
        stopping: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Emitter {
        let attribute_keys = attributes.iter().map(|(k, _)| k.as_str().into()).collect();
        let resource_map = resource
            .iter()
            .map(|(k, v)| (k.as_str().into(), Value::Str(v.clone())))
            .collect();
        Emitter {
            keys: Vec::new(),
            attribute_keys,
            resource_map,
            next,
            runtime,
            retry,
            attributes,
            resource,
            pipeline,
            records: Vec::with_capacity(MAX_BATCH),
            encoder: LogsEncoder::default(),
            out: Vec::new(),
            pending: 0,
            stopping,
        }
    }

    /// Adds one record; sends when the batch is full.
    pub fn record(
        &mut self,
        body: Body,
        file: &FileAttrs,
        record_number: Option<u64>,
        record_offset: Option<u64>,
        observed: u64,
    ) {
        if let Some(p) = self.pipeline.as_mut() {
            let mut e = Entry {
                observed_time_unix_nano: observed,
                body: match body {
                    Body::Text(s) => Value::Str(s),
                    Body::Bytes(b) => Value::Bytes(b),
                },
                ..Entry::default()
            };
            for (k, v) in &file.attrs {
                let k = key(&mut self.keys, k);
                e.attributes.insert(k, Value::Str(v.clone()));
            }
            for (k, v) in &file.header {
                e.attributes.insert(k.clone(), v.clone());
            }
            if let Some(n) = record_number {
                let k = key(&mut self.keys, "log.file.record_number");
                e.attributes.insert(k, Value::Int(n as i64));
            }
            if let Some(o) = record_offset {
                let k = key(&mut self.keys, "log.file.record_offset");
                e.attributes.insert(k, Value::Int(o as i64));
            }
            for (k, (_, v)) in self.attribute_keys.iter().zip(&self.attributes) {
                e.attributes.insert(k.clone(), Value::Str(v.clone()));
            }
            if !self.resource_map.is_empty() {
                e.resource = self.resource_map.clone();
            }
            p.process(e, &mut self.out);
            self.encode_out();
        } else {
            let n = file.attrs.len() + self.attributes.len() + 2;
            let mut attributes = Vec::with_capacity(n);
            for (k, v) in &file.attrs {
                attributes.push(kv(
                    (*k).to_owned(),
                    any_value::Value::StringValue(v.clone()),
                ));
            }
            if let Some(n) = record_number {
                attributes.push(kv(
                    "log.file.record_number".into(),
                    any_value::Value::IntValue(n as i64),
                ));
            }
            if let Some(o) = record_offset {
                attributes.push(kv(
                    "log.file.record_offset".into(),
                    any_value::Value::IntValue(o as i64),
                ));
            }
            for (k, v) in &self.attributes {
                attributes.push(kv(k.clone(), any_value::Value::StringValue(v.clone())));
            }
            self.records.push(LogRecord {
                observed_time_unix_nano: observed,
                body: Some(AnyValue {
                    value: Some(match body {
                        Body::Text(s) => any_value::Value::StringValue(s),
                        Body::Bytes(b) => any_value::Value::BytesValue(b.into()),
                    }),
                }),
                attributes,
                ..Default::default()
            });
        }
        self.pending += 1;
        if self.pending >= MAX_BATCH {
            self.send();
        }
    }

    /// Releases what time-based operators hold past their deadline.
    pub fn flush_expired(&mut self) {
        if let Some(p) = self.pipeline.as_mut() {
            p.flush_expired(Instant::now(), &mut self.out);
            self.encode_out();
        }
    }

    /// Sends what is batched (on shutdown, first releasing what operators hold).
    pub fn send_all(&mut self, final_flush: bool) {
        if final_flush && let Some(p) = self.pipeline.as_mut() {
            p.flush_all(&mut self.out);
            self.encode_out();
        }
        self.send();
    }

    /// Encodes what the operators let out (each entry dropped as soon as it is written).
    fn encode_out(&mut self) {
        for e in self.out.drain(..) {
            self.encoder.push(e);
        }
    }

    fn send(&mut self) {
        self.pending = 0;
        if self.pipeline.is_some() {
            if self.encoder.is_empty() {
                return;
            }
            let (bytes, items) = self.encoder.finish();
            // LogsEncoder writes what prost would (its tests compare the bytes): no validation.
            self.deliver(Payload::from_encoded(Signal::Logs, bytes, items));
            return;
        }
        if self.records.is_empty() {
            return;
        }
        let records = std::mem::replace(&mut self.records, Vec::with_capacity(MAX_BATCH));
        let resource_logs = vec![ResourceLogs {
            resource: Some(Resource {
                attributes: self
                    .resource
                    .iter()
                    .map(|(k, v)| kv(k.clone(), any_value::Value::StringValue(v.clone())))
                    .collect(),
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope::default()),
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }];
        let request = Request::Logs(ExportLogsServiceRequest { resource_logs });
        self.deliver(Payload::from_request(request));
    }

    /// Hands the batch on, retrying per `retry_on_failure`; a batch refused for good is dropped
    /// with an error log (as the Go receiver does).
    fn deliver(&self, payload: Payload) {
        if !self.retry.enabled {
            // No copy kept for a retry that will not happen.
            let result = self
                .runtime
                .block_on(self.next.consume(payload, Context::default()));
            if let Err(err) = result {
                tracing::error!(error = %err, "filelog: the next stage refused a batch; dropping it");
            }
            return;
        }
        let started = Instant::now();
        let mut interval = self.retry.initial_interval;
        loop {
            let attempt = payload.clone();
            let result = self
                .runtime
                .block_on(self.next.consume(attempt, Context::default()));
            let err = match result {
                Ok(()) => return,
                Err(e) => e,
            };
            let give_up = !err.is_retryable()
                || self.stopping.load(std::sync::atomic::Ordering::Relaxed)
                || (!self.retry.max_elapsed_time.is_zero()
                    && started.elapsed() + interval > self.retry.max_elapsed_time);
            if give_up {
                tracing::error!(error = %err, "filelog: the next stage refused a batch; dropping it");
                return;
            }
            std::thread::sleep(err.retry_after().unwrap_or(interval));
            interval =
                (interval * 3 / 2).min(self.retry.max_interval.max(Duration::from_millis(1)));
        }
    }
}

/// The shared key for a static name (a handful of names: a scan beats hashing).
fn key(keys: &mut Vec<(&'static str, Key)>, name: &'static str) -> Key {
    if let Some((_, k)) = keys.iter().find(|(n, _)| *n == name) {
        return k.clone();
    }
    let k: Key = name.into();
    keys.push((name, k.clone()));
    k
}

fn kv(key: String, value: any_value::Value) -> KeyValue {
    KeyValue {
        key,
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}
