//! Entries → OTLP logs, grouped by resource and scope name as the Go stanza adapter groups them.

use ferrotel_pdata::proto::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::resource::v1::Resource;

use crate::{Entry, Map, Value};

/// Converts entries to `ResourceLogs`, one per distinct resource, one `ScopeLogs` per scope name.
pub fn into_resource_logs(entries: impl IntoIterator<Item = Entry>) -> Vec<ResourceLogs> {
    let mut out: Vec<(Map, ResourceLogs)> = Vec::new();
    for mut entry in entries {
        let resource = std::mem::take(&mut entry.resource);
        let scope_name = std::mem::take(&mut entry.scope_name);
        let idx = match out.iter().position(|(r, _)| *r == resource) {
            Some(i) => i,
            None => {
                let rl = ResourceLogs {
                    resource: Some(Resource {
                        attributes: key_values(&resource),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                out.push((resource, rl));
                out.len() - 1
            }
        };
        let rl = &mut out[idx].1;
        let scope = match rl
            .scope_logs
            .iter()
            .position(|s| s.scope.as_ref().map(|s| s.name.as_str()).unwrap_or("") == scope_name)
        {
            Some(i) => i,
            None => {
                rl.scope_logs.push(ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: scope_name,
                        ..Default::default()
                    }),
                    ..Default::default()
                });
                rl.scope_logs.len() - 1
            }
        };
        rl.scope_logs[scope].log_records.push(log_record(entry));
    }
    out.into_iter().map(|(_, rl)| rl).collect()
}

/// Moves the entry's values into the record: no string is copied on this per-record path.
fn log_record(entry: Entry) -> LogRecord {
    LogRecord {
        time_unix_nano: entry.time_unix_nano,
        observed_time_unix_nano: entry.observed_time_unix_nano,
        severity_number: entry.severity_number,
        severity_text: entry.severity_text.to_string(),
        body: Some(into_any_value(entry.body)),
        attributes: into_key_values(entry.attributes),
        flags: entry.trace_flags,
        trace_id: entry.trace_id.into(),
        span_id: entry.span_id.into(),
        ..Default::default()
    }
}

fn key_values(map: &Map) -> Vec<KeyValue> {
    map.iter()
        .map(|(k, v)| KeyValue {
            key: k.to_string(),
            value: Some(any_value(v)),
            ..Default::default()
        })
        .collect()
}

fn any_value(v: &Value) -> AnyValue {
    use any_value::Value as V;
    let value = match v {
        Value::Null => None,
        Value::Bool(b) => Some(V::BoolValue(*b)),
        Value::Int(i) => Some(V::IntValue(*i)),
        Value::Double(d) => Some(V::DoubleValue(*d)),
        Value::Str(s) => Some(V::StringValue(s.clone())),
        Value::Bytes(b) => Some(V::BytesValue(b.clone().into())),
        Value::Array(a) => Some(V::ArrayValue(ArrayValue {
            values: a.iter().map(any_value).collect(),
        })),
        Value::Map(m) => Some(V::KvlistValue(KeyValueList {
            values: key_values(m),
        })),
    };
    AnyValue { value }
}

fn into_key_values(map: Map) -> Vec<KeyValue> {
    map.into_iter()
        .map(|(key, v)| KeyValue {
            key: key.to_string(),
            value: Some(into_any_value(v)),
            ..Default::default()
        })
        .collect()
}

fn into_any_value(v: Value) -> AnyValue {
    use any_value::Value as V;
    let value = match v {
        Value::Null => None,
        Value::Bool(b) => Some(V::BoolValue(b)),
        Value::Int(i) => Some(V::IntValue(i)),
        Value::Double(d) => Some(V::DoubleValue(d)),
        Value::Str(s) => Some(V::StringValue(s)),
        Value::Bytes(b) => Some(V::BytesValue(b.into())),
        Value::Array(a) => Some(V::ArrayValue(ArrayValue {
            values: a.into_iter().map(into_any_value).collect(),
        })),
        Value::Map(m) => Some(V::KvlistValue(KeyValueList {
            values: into_key_values(m),
        })),
    };
    AnyValue { value }
}
