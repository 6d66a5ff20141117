//! jaeger.thrift's `Batch`, `Process`, `Span`, `Tag`, `Log` and `SpanRef`, and agent.thrift's
//! `emitBatch` message, read with either protocol into [`crate::model`].
//!
//! As Go's generated code does, a field of an unexpected wire type is skipped and a missing
//! required field is an error.

use super::{DecodeError, MessageHeader, Protocol, Reader, Result, Type};
use crate::model::{Batch, Log, Process, Span, SpanRef, Tag, TagValue, micros_to_nanos};

/// A `Batch` struct, the whole body (thrift_http sends one in the binary protocol).
pub fn decode_batch(buf: &[u8], protocol: Protocol) -> Result<Batch> {
    let mut r = Reader::new(buf, protocol);
    batch(&mut r).map_err(|e| e.at("batch"))
}

/// What an agent UDP packet carried.
#[derive(Debug)]
pub enum AgentMessage {
    EmitBatch(Batch),
}

/// An agent.thrift message (what Jaeger clients send to the agent's UDP ports): `emitBatch`
/// with one `Batch`. `emitZipkinBatch` is refused, as the Go receiver does.
pub fn decode_agent_message(buf: &[u8], protocol: Protocol) -> Result<AgentMessage> {
    let mut r = Reader::new(buf, protocol);
    let MessageHeader { name, kind, .. } = r.message_begin()?;
    if kind != 1 && kind != 4 {
        return Err(DecodeError::new(format!(
            "message type {kind} is not a call or a oneway call"
        )));
    }
    match name.as_str() {
        "emitBatch" => {}
        "emitZipkinBatch" => {
            return Err(DecodeError::new(
                "emitZipkinBatch is not supported; send Zipkin spans to the zipkin receiver",
            ));
        }
        other => {
            return Err(DecodeError::new(format!(
                "unknown agent method {other:?} (only emitBatch is served)"
            )));
        }
    }
    let mut batch_out = None;
    r.struct_begin()?;
    while let Some((t, id)) = r.field_begin()? {
        match (id, t) {
            (1, Type::Struct) => {
                batch_out = Some(batch(&mut r).map_err(|e| e.at("emitBatch.batch"))?);
            }
            _ => r.skip(t)?,
        }
    }
    r.struct_end();
    batch_out
        .map(AgentMessage::EmitBatch)
        .ok_or_else(|| DecodeError::new("emitBatch without its batch argument"))
}

fn required<T>(v: Option<T>, name: &str) -> Result<T> {
    v.ok_or_else(|| DecodeError::new(format!("required field {name} is not set")))
}

/// A list of structs, each read by `item`; errors name the element.
fn list<T>(
    r: &mut Reader<'_>,
    name: &str,
    item: fn(&mut Reader<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let (et, n) = r.list_begin().map_err(|e| e.at(name.to_owned()))?;
    if et != Type::Struct {
        // Not what jaeger.thrift declares: skip the elements as Go does a mistyped field.
        for _ in 0..n {
            r.skip(et).map_err(|e| e.at(name.to_owned()))?;
        }
        r.list_end();
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(super::reserve_for(n));
    for i in 0..n {
        out.push(item(r).map_err(|e| e.at(format!("[{i}]")).at(name.to_owned()))?);
    }
    r.list_end();
    Ok(out)
}

fn batch(r: &mut Reader<'_>) -> Result<Batch> {
    let mut process = None;
    let mut spans = None;
    r.struct_begin()?;
    while let Some((t, id)) = r.field_begin()? {
        match (id, t) {
            (1, Type::Struct) => process = Some(self::process(r).map_err(|e| e.at("process"))?),
            (2, Type::List) => spans = Some(list(r, "spans", span)?),
            _ => r.skip(t)?,
        }
    }
    r.struct_end();
    Ok(Batch {
        process: Some(required(process, "process")?),
        spans: required(spans, "spans")?,
    })
}

pub(crate) fn process(r: &mut Reader<'_>) -> Result<Process> {
    let mut service_name = None;
    let mut tags = Vec::new();
    r.struct_begin()?;
    while let Some((t, id)) = r.field_begin()? {
        match (id, t) {
            (1, Type::Binary) => service_name = Some(r.string()?),
            (2, Type::List) => tags = list(r, "tags", tag)?,
            _ => r.skip(t)?,
        }
    }
    r.struct_end();
    Ok(Process {
        service_name: required(service_name, "serviceName")?,
        tags,
    })
}

fn span(r: &mut Reader<'_>) -> Result<Span> {
    let mut trace_id_low = None;
    let mut trace_id_high = None;
    let mut span_id = None;
    let mut parent_span_id = None;
    let mut operation_name = None;
    let mut flags = None;
    let mut start_time = None;
    let mut duration = None;
    let mut references = Vec::new();
    let mut tags = Vec::new();
    let mut logs = Vec::new();
    r.struct_begin()?;
    while let Some((t, id)) = r.field_begin()? {
        match (id, t) {
            (1, Type::I64) => trace_id_low = Some(r.i64()?),
            (2, Type::I64) => trace_id_high = Some(r.i64()?),
            (3, Type::I64) => span_id = Some(r.i64()?),
            (4, Type::I64) => parent_span_id = Some(r.i64()?),
            (5, Type::Binary) => operation_name = Some(r.string()?),
            (6, Type::List) => references = list(r, "references", span_ref)?,
            (7, Type::I32) => flags = Some(r.i32()?),
            (8, Type::I64) => start_time = Some(r.i64()?),
            (9, Type::I64) => duration = Some(r.i64()?),
            (10, Type::List) => tags = list(r, "tags", tag)?,
            (11, Type::List) => logs = list(r, "logs", log)?,
            _ => r.skip(t)?,
        }
    }
    r.struct_end();
    let start = required(start_time, "startTime")?;
    let duration = required(duration, "duration")?;
    Ok(Span {
        trace_id_low: required(trace_id_low, "traceIdLow")? as u64,
        trace_id_high: required(trace_id_high, "traceIdHigh")? as u64,
        span_id: required(span_id, "spanId")? as u64,
        parent_span_id: required(parent_span_id, "parentSpanId")? as u64,
        operation_name: required(operation_name, "operationName")?,
        references,
        flags: required(flags, "flags")? as u32,
        start_unix_nano: micros_to_nanos(start),
        end_unix_nano: micros_to_nanos(start.wrapping_add(duration)),
        tags,
        logs,
        process: None,
    })
}

pub(crate) fn span_ref(r: &mut Reader<'_>) -> Result<SpanRef> {
    let mut ref_type = None;
    let mut low = None;
    let mut high = None;
    let mut span_id = None;
    r.struct_begin()?;
    while let Some((t, id)) = r.field_begin()? {
        match (id, t) {
            (1, Type::I32) => ref_type = Some(r.i32()?),
            (2, Type::I64) => low = Some(r.i64()?),
            (3, Type::I64) => high = Some(r.i64()?),
            (4, Type::I64) => span_id = Some(r.i64()?),
            _ => r.skip(t)?,
        }
    }
    r.struct_end();
    Ok(SpanRef {
        ref_type: required(ref_type, "refType")?,
        trace_id_low: required(low, "traceIdLow")? as u64,
        trace_id_high: required(high, "traceIdHigh")? as u64,
        span_id: required(span_id, "spanId")? as u64,
    })
}

fn log(r: &mut Reader<'_>) -> Result<Log> {
    let mut timestamp = None;
    let mut fields = None;
    r.struct_begin()?;
    while let Some((t, id)) = r.field_begin()? {
        match (id, t) {
            (1, Type::I64) => timestamp = Some(r.i64()?),
            (2, Type::List) => fields = Some(list(r, "fields", tag)?),
            _ => r.skip(t)?,
        }
    }
    r.struct_end();
    Ok(Log {
        timestamp_unix_nano: micros_to_nanos(required(timestamp, "timestamp")?),
        fields: required(fields, "fields")?,
    })
}

/// jaeger.thrift's `TagType`: STRING, DOUBLE, BOOL, LONG, BINARY.
fn tag(r: &mut Reader<'_>) -> Result<Tag> {
    let mut key = None;
    let mut v_type = None;
    let mut v_str = None;
    let mut v_double = None;
    let mut v_bool = None;
    let mut v_long = None;
    let mut v_binary: Option<&[u8]> = None;
    r.struct_begin()?;
    while let Some((t, id)) = r.field_begin()? {
        match (id, t) {
            (1, Type::Binary) => key = Some(r.string()?),
            (2, Type::I32) => v_type = Some(r.i32()?),
            (3, Type::Binary) => v_str = Some(r.string()?),
            (4, Type::Double) => v_double = Some(r.double()?),
            (5, Type::Bool) => v_bool = Some(r.bool()?),
            (6, Type::I64) => v_long = Some(r.i64()?),
            (7, Type::Binary) => v_binary = Some(r.bytes()?),
            _ => r.skip(t)?,
        }
    }
    r.struct_end();
    let key = required(key, "key")?;
    // An absent value reads as its type's zero, as Go's getters do.
    let value = match required(v_type, "vType").map_err(|e| e.at(key.clone()))? {
        0 => TagValue::Str(v_str.unwrap_or_default()),
        1 => TagValue::Double(v_double.unwrap_or_default()),
        2 => TagValue::Bool(v_bool.unwrap_or_default()),
        3 => TagValue::Long(v_long.unwrap_or_default()),
        4 => TagValue::Binary(v_binary.unwrap_or_default().to_vec()),
        // Go's TagType prints an unknown value as "<UNSET>".
        _ => TagValue::Unknown("<UNSET>".into()),
    };
    Ok(Tag { key, value })
}
