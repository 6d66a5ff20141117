//! Records → OTLP logs → the next stage: batching, the stanza operators when configured, and
//! `retry_on_failure`.
//!
//! Records are encoded straight to the protobuf bytes of the export request by
//! `ferrotel_stanza::LogsEncoder`. Without operators, from the read buffer and the file's
//! attributes as they are (`push_line`: no entry, no copy, nothing allocated per line). With
//! operators (or a header), each record is an `Entry` run through `ferrotel_stanza::Pipeline`
//! and encoded as it comes out; the line's buffer is reused for the next entry's body.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use ferrotel_pdata::{Payload, Signal};
use ferrotel_runtime::{ConsumerRef, Context};
use ferrotel_stanza::{Entry, Key, LineValue, LogsEncoder, Map, Pipeline, Value};

use crate::config::RetryOnFailure;

/// Records per export request (the Go stanza adapter sends batches of 100; larger requests
/// cost less per record downstream).
pub const MAX_BATCH: usize = 1024;

/// A record's body as read (borrowed from the read buffer when it needed no decoding).
pub enum Body<'a> {
    Text(Cow<'a, str>),
    Bytes(&'a [u8]),
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
    /// Static `attributes:`.
    attributes: Vec<(String, String)>,
    pipeline: Option<Pipeline>,
    /// The entry-map keys of file attributes, record number/offset and `attributes:`, made
    /// once: keys are shared text, so per line they cost a reference count, not a copy.
    keys: Vec<(&'static str, Key)>,
    attribute_keys: Vec<Key>,
    resource_map: Map,
    encoder: LogsEncoder,
    out: Vec<Entry>,
    /// The last entry's body buffer, for the next line's text.
    spare: String,
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
            pipeline,
            encoder: LogsEncoder::default(),
            out: Vec::new(),
            spare: String::new(),
            pending: 0,
            stopping,
        }
    }

    /// Adds one record; sends when the batch is full.
    pub fn record(
        &mut self,
        body: Body<'_>,
        file: &FileAttrs,
        record_number: Option<u64>,
        record_offset: Option<u64>,
        observed: u64,
    ) {
        if let Some(p) = self.pipeline.as_mut() {
            let mut e = Entry {
                observed_time_unix_nano: observed,
                body: match body {
                    Body::Text(t) => {
                        let mut s = std::mem::take(&mut self.spare);
                        s.clear();
                        s.push_str(&t);
                        Value::Str(s)
                    }
                    Body::Bytes(b) => Value::Bytes(b.to_vec()),
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
            let attributes = file
                .attrs
                .iter()
                .map(|(k, v)| (*k, LineValue::Str(v)))
                .chain(record_number.map(|n| ("log.file.record_number", LineValue::Int(n as i64))))
                .chain(record_offset.map(|o| ("log.file.record_offset", LineValue::Int(o as i64))))
                .chain(
                    self.attributes
                        .iter()
                        .map(|(k, v)| (k.as_str(), LineValue::Str(v))),
                );
            let body = match &body {
                Body::Text(t) => LineValue::Str(t),
                Body::Bytes(b) => LineValue::Bytes(b),
            };
            self.encoder
                .push_line(&self.resource_map, observed, body, attributes);
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

    /// Encodes what the operators let out (each entry dropped as soon as it is written, its
    /// body's buffer kept for the next line).
    fn encode_out(&mut self) {
        for mut e in self.out.drain(..) {
            self.encoder.encode(&mut e);
            if let Value::Str(s) = e.body {
                self.spare = s;
            }
        }
    }

    fn send(&mut self) {
        self.pending = 0;
        if self.encoder.is_empty() {
            return;
        }
        let (bytes, items) = self.encoder.finish();
        // LogsEncoder writes what prost would (its tests compare the bytes): no validation.
        self.deliver(Payload::from_encoded(Signal::Logs, bytes, items));
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
