//! OTTL values and their conversion to and from OTLP `AnyValue`.

use ferrotel_pdata::proto::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList, any_value};

/// The result of evaluating: errors are messages the caller handles per its `error_mode`.
pub type R<T> = Result<T, String>;

/// A value an OTTL expression produces.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
    Bytes(Vec<u8>),
    Map(Vec<KeyValue>),
    List(Vec<AnyValue>),
    /// Nanoseconds since the Unix epoch, and the time zone its calendar fields are read in
    /// (`Hour`, `FormatTime`): the location or offset `Time` parsed it with; none is UTC.
    Time(i64, Option<jiff::tz::TimeZone>),
    /// Nanoseconds.
    Duration(i64),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Double(_) => "double",
            Value::Str(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Map(_) => "map",
            Value::List(_) => "slice",
            Value::Time(..) => "time",
            Value::Duration(_) => "duration",
        }
    }

    /// The value of an optional `AnyValue` (absent is nil).
    pub fn from_any(v: Option<&AnyValue>) -> Value {
        use any_value::Value as V;
        match v.and_then(|v| v.value.as_ref()) {
            None => Value::Nil,
            Some(V::StringValue(s)) => Value::Str(s.clone()),
            Some(V::BoolValue(b)) => Value::Bool(*b),
            Some(V::IntValue(i)) => Value::Int(*i),
            Some(V::DoubleValue(d)) => Value::Double(*d),
            Some(V::BytesValue(b)) => Value::Bytes(b.to_vec()),
            Some(V::ArrayValue(a)) => Value::List(a.values.clone()),
            Some(V::KvlistValue(m)) => Value::Map(m.values.clone()),
            Some(V::StringValueStrindex(_)) => Value::Nil,
        }
    }

    /// As an `AnyValue` (times and durations as integer nanoseconds).
    pub fn into_any(self) -> AnyValue {
        use any_value::Value as V;
        let value = match self {
            Value::Nil => None,
            Value::Bool(b) => Some(V::BoolValue(b)),
            Value::Int(i) | Value::Time(i, _) | Value::Duration(i) => Some(V::IntValue(i)),
            Value::Double(d) => Some(V::DoubleValue(d)),
            Value::Str(s) => Some(V::StringValue(s)),
            Value::Bytes(b) => Some(V::BytesValue(b.into())),
            Value::Map(m) => Some(V::KvlistValue(KeyValueList { values: m })),
            Value::List(l) => Some(V::ArrayValue(ArrayValue { values: l })),
        };
        AnyValue { value }
    }

    /// String form as OTTL's `String` converter writes it (maps and lists as JSON).
    pub fn to_display(&self) -> String {
        match self {
            Value::Nil => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) | Value::Time(i, _) | Value::Duration(i) => i.to_string(),
            Value::Double(d) => fmt_double(*d),
            Value::Str(s) => s.clone(),
            Value::Bytes(b) => hex(b),
            Value::Map(_) | Value::List(_) => to_json(self).to_string(),
        }
    }
}

/// A value as Go's `StringLikeGetter` reads it (`IsMatch`, `Concat`): nil stays nil, strings
/// as they are, bytes as lower-case hex, maps and lists as JSON, other scalars as `%v` writes them.
pub fn to_str_lenient(v: &Value) -> Option<String> {
    match v {
        Value::Nil => None,
        Value::Str(s) => Some(s.clone()),
        o => Some(o.to_display()),
    }
}

/// Lower-case hex of bytes.
pub fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// A double as Go writes it for a string (pcommon's `AsString`, JSON's number rules): the
/// shortest digits that read back, with an exponent (`1e+21`, `1.5e-7`) below 1e-6 and from
/// 1e21 on.
pub fn fmt_double(d: f64) -> String {
    let abs = d.abs();
    if abs != 0.0 && abs.is_finite() && !(1e-6..1e21).contains(&abs) {
        let s = format!("{d:e}");
        return match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        };
    }
    if d.fract() == 0.0 {
        format!("{d:.0}")
    } else {
        format!("{d}")
    }
}

/// JSON form of a value.
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Nil => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) | Value::Time(i, _) | Value::Duration(i) => J::from(*i),
        Value::Double(d) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
        Value::Str(s) => J::String(s.clone()),
        Value::Bytes(b) => J::String(hex(b)),
        Value::Map(m) => J::Object(
            m.iter()
                .map(|kv| (kv.key.clone(), to_json(&Value::from_any(kv.value.as_ref()))))
                .collect(),
        ),
        Value::List(l) => J::Array(
            l.iter()
                .map(|a| to_json(&Value::from_any(Some(a))))
                .collect(),
        ),
    }
}

/// A value from JSON as Go's `ParseJSON` makes it: every number is a double (Go decodes JSON
/// numbers into `float64`), so `{"n": 1}` gives a double attribute, not an int.
pub fn from_json(j: serde_json::Value) -> Value {
    use serde_json::Value as J;
    match j {
        J::Null => Value::Nil,
        J::Bool(b) => Value::Bool(b),
        J::Number(n) => Value::Double(n.as_f64().unwrap_or(0.0)),
        J::String(s) => Value::Str(s),
        J::Array(a) => Value::List(a.into_iter().map(|v| from_json(v).into_any()).collect()),
        J::Object(o) => Value::Map(o.into_iter().map(|(k, v)| kv(k, from_json(v))).collect()),
    }
}

/// A key-value pair.
pub fn kv(key: impl Into<String>, v: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(v.into_any()),
        ..Default::default()
    }
}
