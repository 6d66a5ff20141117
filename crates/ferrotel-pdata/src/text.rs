//! Attribute values as text the way the Go Collector writes them, for formats whose tags are
//! strings or JSON (Jaeger, Zipkin): arrays and maps as JSON (pcommon's `AsString`), strings
//! escaped and floats formatted as Go's `encoding/json` does, so bytes match Go's.

use std::fmt::Write;

use base64::Engine;

use crate::proto::common::v1::{AnyValue, KeyValue, any_value::Value};

/// An array or map (or any value) as the JSON Go's `Value.AsString` gives: map keys sorted
/// (the last of a repeated key wins), bytes as base64, an empty value as `null`.
pub fn json_text(v: &Value) -> String {
    let mut out = String::new();
    write_json_value(&mut out, Some(v));
    out
}

fn write_json_value(out: &mut String, v: Option<&Value>) {
    match v {
        None => out.push_str("null"),
        Some(Value::StringValue(s)) => write_json_string(out, s),
        Some(Value::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(Value::IntValue(i)) => {
            let _ = write!(out, "{i}");
        }
        Some(Value::StringValueStrindex(i)) => {
            let _ = write!(out, "{i}");
        }
        Some(Value::DoubleValue(d)) => write_json_float(out, *d),
        Some(Value::BytesValue(b)) => {
            write_json_string(out, &base64::engine::general_purpose::STANDARD.encode(b))
        }
        Some(Value::ArrayValue(a)) => {
            out.push('[');
            for (i, v) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_value(out, inner(v));
            }
            out.push(']');
        }
        Some(Value::KvlistValue(l)) => {
            // Go marshals a map[string]any: sorted keys, one entry per key (the last).
            let mut kvs: Vec<&KeyValue> = Vec::with_capacity(l.values.len());
            for kv in &l.values {
                match kvs.iter().position(|k| k.key == kv.key) {
                    Some(i) => kvs[i] = kv,
                    None => kvs.push(kv),
                }
            }
            kvs.sort_by(|a, b| a.key.cmp(&b.key));
            out.push('{');
            for (i, kv) in kvs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, &kv.key);
                out.push(':');
                write_json_value(out, kv.value.as_ref().and_then(inner));
            }
            out.push('}');
        }
    }
}

fn inner(v: &AnyValue) -> Option<&Value> {
    v.value.as_ref()
}

/// A JSON string as Go's `encoding/json` writes it: `<`, `>`, `&`, U+2028 and U+2029 escaped
/// too (its HTML-safe default).
pub fn write_json_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&') => {
                let b = c as u8;
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A finite float as Go's `encoding/json` writes it: the shortest digits that read back
/// exactly, plain below 1e21 and from 1e-6, else an exponent (`1e-7`, `1.5e+21`). JSON has no
/// NaN or infinities: those are written as the strings protobuf JSON uses.
pub fn write_json_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("\"NaN\"");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
    } else if f != 0.0 && (f.abs() < 1e-6 || f.abs() >= 1e21) {
        let start = out.len();
        let _ = write!(out, "{f:e}");
        // Rust writes `1.5e21`; Go `1.5e+21`.
        if let Some(e) = out[start..].find('e')
            && !out[start + e + 1..].starts_with('-')
        {
            out.insert(start + e + 1, '+');
        }
    } else {
        let _ = write!(out, "{f}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::common::v1::{ArrayValue, KeyValueList};

    fn any(v: Value) -> AnyValue {
        AnyValue { value: Some(v) }
    }

    fn kv(k: &str, v: Value) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(any(v)),
            ..Default::default()
        }
    }

    #[test]
    fn arrays_and_maps_as_go_writes_them() {
        let v = Value::KvlistValue(KeyValueList {
            values: vec![
                kv("z", Value::IntValue(-3)),
                kv("a", Value::StringValue("<a&b>\n\"é\u{2028}".into())),
                kv("m", Value::BytesValue(vec![1, 2, 3].into())),
                kv(
                    "arr",
                    Value::ArrayValue(ArrayValue {
                        values: vec![
                            any(Value::BoolValue(true)),
                            any(Value::DoubleValue(1.0)),
                            AnyValue { value: None },
                        ],
                    }),
                ),
                kv("z", Value::IntValue(4)),
            ],
        });
        assert_eq!(
            json_text(&v),
            r#"{"a":"\u003ca\u0026b\u003e\n\"é\u2028","arr":[true,1,null],"m":"AQID","z":4}"#
        );
    }

    #[test]
    fn floats_as_go_writes_them() {
        let f = |x: f64| {
            let mut s = String::new();
            write_json_float(&mut s, x);
            s
        };
        assert_eq!(f(129.8), "129.8");
        assert_eq!(f(1.0), "1");
        assert_eq!(f(-0.5), "-0.5");
        assert_eq!(f(1e-7), "1e-7");
        assert_eq!(f(1.5e21), "1.5e+21");
        assert_eq!(f(1e20), "100000000000000000000");
        assert_eq!(f(0.000001), "0.000001");
        assert_eq!(f(f64::NAN), "\"NaN\"");
        assert_eq!(f(f64::NEG_INFINITY), "\"-Infinity\"");
    }
}
