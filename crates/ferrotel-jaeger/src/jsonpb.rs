//! A Jaeger span as protobuf JSON, byte for byte as the Go kafka exporter's `jaeger_json`
//! writes it (gogo `jsonpb.Marshaler` with its defaults over `jaeger.api_v2.Span`), and read
//! back as its `jsonpb.Unmarshal` reads it.
//!
//! Written: camelCase names in field order, zero values left out (so CHILD_OF and STRING, the
//! zero enums, are absent), enums by name, 64-bit integers as strings, ids and bytes as
//! base64, times as RFC 3339 UTC and durations as seconds with 0, 3, 6 or 9 fraction digits.
//! Read: either name spelling, enums by name or number, integers as numbers or strings,
//! RFC 3339 with any offset; an unknown field is an error, as in Go.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ferrotel_pdata::text::{write_json_float, write_json_string};
use serde_json::{Map, Value};

use crate::proto::{PKeyValue, PLog, PProcess, PSpan, PSpanRef, Timestamp};

const VALUE_TYPES: [&str; 5] = ["STRING", "BOOL", "INT64", "FLOAT64", "BINARY"];
const REF_TYPES: [&str; 2] = ["CHILD_OF", "FOLLOWS_FROM"];

/// Writes `"name":` after a comma when needed.
struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    fn new(out: &'a mut String) -> Self {
        out.push('{');
        Obj { out, first: true }
    }

    fn key(&mut self, name: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(name);
        self.out.push_str("\":");
        self.out
    }

    fn str(&mut self, name: &str, v: &str) {
        if !v.is_empty() {
            write_json_string(self.key(name), v);
        }
    }

    fn b64(&mut self, name: &str, v: &[u8]) {
        write_json_string(self.key(name), &B64.encode(v));
    }

    fn enum_(&mut self, name: &str, v: i32, names: &[&str]) {
        match usize::try_from(v).ok().and_then(|i| names.get(i)) {
            _ if v == 0 => {}
            Some(n) => write_json_string(self.key(name), n),
            None => self.key(name).push_str(&v.to_string()),
        }
    }

    fn list<T>(&mut self, name: &str, items: &[T], f: impl Fn(&mut String, &T)) {
        if items.is_empty() {
            return;
        }
        let out = self.key(name);
        out.push('[');
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            f(out, it);
        }
        out.push(']');
    }

    fn end(self) {
        self.out.push('}');
    }
}

/// The span as the Go exporter's `jaeger_json` message value.
pub fn encode_span(s: &PSpan) -> String {
    let mut out = String::with_capacity(256 + 64 * s.tags.len());
    let mut o = Obj::new(&mut out);
    // Go's TraceID is a struct (always written); SpanID an integer (left out when zero).
    o.b64("traceId", &s.trace_id);
    if s.span_id.iter().any(|&b| b != 0) {
        o.b64("spanId", &s.span_id);
    }
    o.str("operationName", &s.operation_name);
    o.list("references", &s.references, |out, r| {
        let mut o = Obj::new(out);
        o.b64("traceId", &r.trace_id);
        if r.span_id.iter().any(|&b| b != 0) {
            o.b64("spanId", &r.span_id);
        }
        o.enum_("refType", r.ref_type, &REF_TYPES);
        o.end();
    });
    if s.flags != 0 {
        o.key("flags").push_str(&s.flags.to_string());
    }
    // A Go time.Time is a struct: written even when zero; a time.Duration is not.
    write_timestamp(o.key("startTime"), s.start_time.as_ref());
    if let Some(d) = s
        .duration
        .as_ref()
        .filter(|d| d.seconds != 0 || d.nanos != 0)
    {
        write_duration(o.key("duration"), d);
    }
    o.list("tags", &s.tags, write_kv);
    o.list("logs", &s.logs, |out, l: &PLog| {
        let mut o = Obj::new(out);
        write_timestamp(o.key("timestamp"), l.timestamp.as_ref());
        // Go's translator makes the field list even when empty: written as [].
        if l.fields.is_empty() {
            o.key("fields").push_str("[]");
        }
        o.list("fields", &l.fields, write_kv);
        o.end();
    });
    if let Some(p) = &s.process {
        let mut po = Obj::new(o.key("process"));
        po.str("serviceName", &p.service_name);
        po.list("tags", &p.tags, write_kv);
        po.end();
    }
    o.str("processId", &s.process_id);
    o.list("warnings", &s.warnings, |out, w| write_json_string(out, w));
    o.end();
    out
}

fn write_kv(out: &mut String, kv: &PKeyValue) {
    let mut o = Obj::new(out);
    o.str("key", &kv.key);
    o.enum_("vType", kv.v_type, &VALUE_TYPES);
    o.str("vStr", &kv.v_str);
    if kv.v_bool {
        o.key("vBool").push_str("true");
    }
    if kv.v_int64 != 0 {
        let _ = std::fmt::Write::write_fmt(o.key("vInt64"), format_args!("\"{}\"", kv.v_int64));
    }
    if kv.v_float64 != 0.0 {
        write_json_float(o.key("vFloat64"), kv.v_float64);
    }
    if !kv.v_binary.is_empty() {
        o.b64("vBinary", &kv.v_binary);
    }
    o.end();
}

/// RFC 3339 in UTC with 0, 3, 6 or 9 fraction digits (protobuf JSON's form).
fn write_timestamp(out: &mut String, t: Option<&Timestamp>) {
    let (s, n) = t.map_or((0, 0), |t| (t.seconds, t.nanos));
    let secs = jiff::Timestamp::from_second(s).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    out.push('"');
    out.push_str(&secs.strftime("%Y-%m-%dT%H:%M:%S").to_string());
    push_fraction(out, n.unsigned_abs());
    out.push_str("Z\"");
}

fn push_fraction(out: &mut String, nanos: u32) {
    if nanos == 0 {
        return;
    }
    let mut f = format!(".{nanos:09}");
    for _ in 0..2 {
        if f.ends_with("000") {
            f.truncate(f.len() - 3);
        }
    }
    out.push_str(&f);
}

fn write_duration(out: &mut String, d: &Timestamp) {
    out.push('"');
    if d.seconds == 0 && d.nanos < 0 {
        out.push('-');
    }
    out.push_str(&d.seconds.to_string());
    push_fraction(out, d.nanos.unsigned_abs());
    out.push_str("s\"");
}

/// Reads a span written by [`encode_span`] or by Go's jsonpb; errors name the field.
pub fn decode_span(body: &[u8]) -> Result<PSpan, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    span(&v, "span")
}

fn obj<'v>(v: &'v Value, at: &str) -> Result<&'v Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{at}: expected an object"))
}

/// Each field of an object with its canonical (camelCase) name; unknown names are an error.
fn fields<'v>(
    v: &'v Value,
    at: &str,
    known: &[(&'static str, &'static str)],
) -> Result<Vec<(&'static str, &'v Value)>, String> {
    let mut out = Vec::new();
    for (k, val) in obj(v, at)? {
        let Some((camel, _)) = known.iter().find(|(c, s)| k == c || k == s) else {
            return Err(format!("{at}: unknown field {k:?}"));
        };
        // null is the field's default in protobuf JSON.
        if !val.is_null() {
            out.push((*camel, val));
        }
    }
    Ok(out)
}

fn string(v: &Value, at: &str) -> Result<String, String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{at}: expected a string"))
}

fn bytes(v: &Value, at: &str) -> Result<Vec<u8>, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("{at}: expected a base64 string"))?;
    B64.decode(s)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(s))
        .map_err(|e| format!("{at}: invalid base64: {e}"))
}

fn int(v: &Value, at: &str) -> Result<i64, String> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("{at}: expected a 64-bit integer"))
}

fn float(v: &Value, at: &str) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            s => s.parse().ok(),
        },
        _ => None,
    }
    .ok_or_else(|| format!("{at}: expected a number"))
}

fn enum_(v: &Value, at: &str, names: &[&str]) -> Result<i32, String> {
    if let Some(s) = v.as_str() {
        return names
            .iter()
            .position(|n| *n == s)
            .map(|i| i as i32)
            .ok_or_else(|| format!("{at}: unknown value {s:?}"));
    }
    i32::try_from(int(v, at)?).map_err(|_| format!("{at}: out of range"))
}

fn list<'v, T>(
    v: &'v Value,
    at: &str,
    f: impl Fn(&'v Value, &str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let a = v
        .as_array()
        .ok_or_else(|| format!("{at}: expected an array"))?;
    a.iter()
        .enumerate()
        .map(|(i, x)| f(x, &format!("{at}[{i}]")))
        .collect()
}

fn timestamp(v: &Value, at: &str) -> Result<Timestamp, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("{at}: expected an RFC 3339 string"))?;
    let t: jiff::Timestamp = s
        .parse()
        .map_err(|e| format!("{at}: invalid timestamp {s:?}: {e}"))?;
    Ok(Timestamp {
        seconds: t.as_second(),
        nanos: t.subsec_nanosecond(),
    })
}

fn duration(v: &Value, at: &str) -> Result<Timestamp, String> {
    let bad = || format!("{at}: invalid duration {v}");
    let s = v.as_str().ok_or_else(bad)?;
    let body = s.strip_suffix('s').ok_or_else(bad)?;
    let (neg, body) = match body.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, body),
    };
    let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !(frac.is_empty() || digits(frac) && frac.len() <= 9) {
        return Err(bad());
    }
    let seconds: i64 = whole.parse().map_err(|_| bad())?;
    let nanos: i32 = format!("{frac:0<9}").parse().map_err(|_| bad())?;
    Ok(if neg {
        Timestamp {
            seconds: -seconds,
            nanos: -nanos,
        }
    } else {
        Timestamp { seconds, nanos }
    })
}

fn kv(v: &Value, at: &str) -> Result<PKeyValue, String> {
    let mut kv = PKeyValue::default();
    let known = [
        ("key", "key"),
        ("vType", "v_type"),
        ("vStr", "v_str"),
        ("vBool", "v_bool"),
        ("vInt64", "v_int64"),
        ("vFloat64", "v_float64"),
        ("vBinary", "v_binary"),
    ];
    for (k, val) in fields(v, at, &known)? {
        let at = format!("{at}.{k}");
        match k {
            "key" => kv.key = string(val, &at)?,
            "vType" => kv.v_type = enum_(val, &at, &VALUE_TYPES)?,
            "vStr" => kv.v_str = string(val, &at)?,
            "vBool" => kv.v_bool = val.as_bool().ok_or(format!("{at}: expected a boolean"))?,
            "vInt64" => kv.v_int64 = int(val, &at)?,
            "vFloat64" => kv.v_float64 = float(val, &at)?,
            _ => kv.v_binary = bytes(val, &at)?,
        }
    }
    Ok(kv)
}

fn process(v: &Value, at: &str) -> Result<PProcess, String> {
    let mut p = PProcess::default();
    for (k, val) in fields(v, at, &[("serviceName", "service_name"), ("tags", "tags")])? {
        let at = format!("{at}.{k}");
        match k {
            "serviceName" => p.service_name = string(val, &at)?,
            _ => p.tags = list(val, &at, kv)?,
        }
    }
    Ok(p)
}

fn span(v: &Value, at: &str) -> Result<PSpan, String> {
    let mut s = PSpan::default();
    let known = [
        ("traceId", "trace_id"),
        ("spanId", "span_id"),
        ("operationName", "operation_name"),
        ("references", "references"),
        ("flags", "flags"),
        ("startTime", "start_time"),
        ("duration", "duration"),
        ("tags", "tags"),
        ("logs", "logs"),
        ("process", "process"),
        ("processId", "process_id"),
        ("warnings", "warnings"),
    ];
    for (k, val) in fields(v, at, &known)? {
        let at = format!("{at}.{k}");
        match k {
            "traceId" => s.trace_id = bytes(val, &at)?,
            "spanId" => s.span_id = bytes(val, &at)?,
            "operationName" => s.operation_name = string(val, &at)?,
            "references" => s.references = list(val, &at, span_ref)?,
            "flags" => {
                s.flags =
                    u32::try_from(int(val, &at)?).map_err(|_| format!("{at}: out of range"))?
            }
            "startTime" => s.start_time = Some(timestamp(val, &at)?),
            "duration" => s.duration = Some(duration(val, &at)?),
            "tags" => s.tags = list(val, &at, kv)?,
            "logs" => s.logs = list(val, &at, log)?,
            "process" => s.process = Some(process(val, &at)?),
            "processId" => s.process_id = string(val, &at)?,
            _ => s.warnings = list(val, &at, string)?,
        }
    }
    // Go's ids are integers: absent is zero.
    zero_ids(&mut s.trace_id, &mut s.span_id);
    Ok(s)
}

fn span_ref(v: &Value, at: &str) -> Result<PSpanRef, String> {
    let mut r = PSpanRef::default();
    let known = [
        ("traceId", "trace_id"),
        ("spanId", "span_id"),
        ("refType", "ref_type"),
    ];
    for (k, val) in fields(v, at, &known)? {
        let at = format!("{at}.{k}");
        match k {
            "traceId" => r.trace_id = bytes(val, &at)?,
            "spanId" => r.span_id = bytes(val, &at)?,
            _ => r.ref_type = enum_(val, &at, &REF_TYPES)?,
        }
    }
    zero_ids(&mut r.trace_id, &mut r.span_id);
    Ok(r)
}

fn zero_ids(trace_id: &mut Vec<u8>, span_id: &mut Vec<u8>) {
    if trace_id.is_empty() {
        *trace_id = vec![0; 16];
    }
    if span_id.is_empty() {
        *span_id = vec![0; 8];
    }
}

fn log(v: &Value, at: &str) -> Result<PLog, String> {
    let mut l = PLog::default();
    for (k, val) in fields(v, at, &[("timestamp", "timestamp"), ("fields", "fields")])? {
        let at = format!("{at}.{k}");
        match k {
            "timestamp" => l.timestamp = Some(timestamp(val, &at)?),
            _ => l.fields = list(val, &at, kv)?,
        }
    }
    Ok(l)
}
