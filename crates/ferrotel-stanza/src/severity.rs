//! Severity parsing as stanza's `severity:` blocks and `severity_parser`: presets (`default`,
//! `otel`/`aliases`, `none`), custom `mapping` (values, lists, `min`/`max` ranges, `2xx`..`5xx`),
//! case-insensitive lookup, `overwrite_text`.

use std::collections::HashMap;

use serde::Deserialize;

use crate::field::Field;
use crate::{Entry, Key, Value};

/// Distinct severity texts remembered per parser (a log format has a handful).
const MAX_CACHED: usize = 64;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityConfig {
    pub parse_from: Option<Field>,
    #[serde(default)]
    pub preset: String,
    #[serde(default)]
    pub mapping: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub overwrite_text: bool,
}

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "fatal"];

/// The OTel severity text of a number (`INFO`, `WARN2`), as stanza's `Severity.String()`.
pub fn severity_name(n: i32) -> String {
    if !(1..=24).contains(&n) {
        return "DEFAULT".into();
    }
    let base = LEVELS[((n - 1) / 4) as usize].to_uppercase();
    match (n - 1) % 4 {
        0 => base,
        k => format!("{base}{}", k + 1),
    }
}

fn builtin(preset: &str) -> HashMap<String, i32> {
    let mut m = HashMap::new();
    if preset == "none" {
        return m;
    }
    for (li, l) in LEVELS.iter().enumerate() {
        for k in 0..4 {
            let n = (li * 4 + k + 1) as i32;
            let name = if k == 0 {
                l.to_string()
            } else {
                format!("{l}{}", k + 1)
            };
            m.insert(name, n);
            m.insert(n.to_string(), n);
        }
    }
    if preset != "otel" && preset != "aliases" {
        for k in 0..4 {
            let sfx = if k == 0 {
                String::new()
            } else {
                (k + 1).to_string()
            };
            m.insert(format!("warning{sfx}"), 13 + k);
            m.insert(format!("err{sfx}"), 17 + k);
        }
    }
    m
}

#[derive(Debug, Clone)]
pub struct SeverityParser {
    pub parse_from: Field,
    mapping: HashMap<String, i32>,
    overwrite_text: bool,
    /// Text values seen → their number and the entry's severity text: per line one scan of
    /// a few short strings and a reference count, not lower-casing, hashing and a copy.
    seen: Vec<(String, i32, Key)>,
}

fn expand(v: &serde_json::Value, out: &mut Vec<String>) -> Result<(), String> {
    match v {
        serde_json::Value::Number(n) if n.is_i64() => out.push(n.to_string()),
        serde_json::Value::String(s) => match s.as_str() {
            "2xx" | "3xx" | "4xx" | "5xx" => {
                let base = (s.as_bytes()[0] - b'0') as i64 * 100;
                out.extend((base..base + 100).map(|i| i.to_string()));
            }
            _ => out.push(s.to_lowercase()),
        },
        serde_json::Value::Object(o) => {
            let (Some(min), Some(max)) = (
                o.get("min").and_then(serde_json::Value::as_i64),
                o.get("max").and_then(serde_json::Value::as_i64),
            ) else {
                return Err("a range needs integer 'min' and 'max'".into());
            };
            let (a, b) = if min <= max { (min, max) } else { (max, min) };
            if b - a > 100_000 {
                return Err(format!("range {a}..{b} is too large"));
            }
            out.extend((a..=b).map(|i| i.to_string()));
        }
        other => return Err(format!("{other} cannot be parsed as a severity")),
    }
    Ok(())
}

impl SeverityParser {
    pub fn build(
        c: &SeverityConfig,
        default_from: Option<&Field>,
    ) -> Result<SeverityParser, (String, String)> {
        let mut mapping = builtin(&c.preset);
        let aliases = builtin("aliases");
        for (sev, values) in &c.mapping {
            let n = *aliases.get(&sev.to_lowercase()).ok_or_else(|| {
                (
                    format!("mapping.{sev}"),
                    format!("{sev:?} is not a severity level"),
                )
            })?;
            let mut keys = Vec::new();
            let r = match values {
                serde_json::Value::Array(a) => a.iter().try_for_each(|v| expand(v, &mut keys)),
                v => expand(v, &mut keys),
            };
            r.map_err(|m| (format!("mapping.{sev}"), m))?;
            for k in keys {
                mapping.insert(k, n);
            }
        }
        let parse_from = c
            .parse_from
            .clone()
            .or_else(|| default_from.cloned())
            .ok_or_else(|| {
                (
                    "parse_from".to_string(),
                    "missing required field 'parse_from'".to_string(),
                )
            })?;
        Ok(SeverityParser {
            parse_from,
            mapping,
            overwrite_text: c.overwrite_text,
            seen: Vec::new(),
        })
    }

    /// The number and the text (as read, or the number's name with `overwrite_text`).
    fn find(&mut self, v: &Value) -> Result<(i32, Key), String> {
        let text = match v {
            Value::Int(i) => i.to_string(),
            Value::Double(d) => {
                if *d != d.trunc() || !d.is_finite() {
                    return Err(
                        "type float64 cannot be a severity unless it is a whole number".into(),
                    );
                }
                (*d as i64).to_string()
            }
            Value::Str(s) => {
                if let Some((_, n, text)) = self.seen.iter().find(|(t, _, _)| t == s) {
                    return Ok((*n, text.clone()));
                }
                let found = self.resolve(s);
                if self.seen.len() < MAX_CACHED {
                    self.seen.push((s.clone(), found.0, found.1.clone()));
                }
                return Ok(found);
            }
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            o => {
                return Err(format!(
                    "type {} cannot be a severity",
                    crate::value_type(o)
                ));
            }
        };
        Ok(self.resolve(&text))
    }

    fn resolve(&self, text: &str) -> (i32, Key) {
        let n = self.lookup(text);
        if self.overwrite_text && n != 0 {
            return (n, severity_name(n).into());
        }
        (n, text.into())
    }

    /// Case-insensitive lookup; short ASCII keys are lower-cased on the stack.
    fn lookup(&self, s: &str) -> i32 {
        let mut buf = [0u8; 32];
        if s.len() <= buf.len() && s.is_ascii() {
            for (d, c) in buf.iter_mut().zip(s.bytes()) {
                *d = c.to_ascii_lowercase();
            }
            let lower = std::str::from_utf8(&buf[..s.len()]).unwrap_or_default();
            return self.mapping.get(lower).copied().unwrap_or(0);
        }
        self.mapping.get(&s.to_lowercase()).copied().unwrap_or(0)
    }

    pub fn parse(&mut self, e: &mut Entry) -> Result<(), String> {
        let Some(v) = self.parse_from.get_ref(e) else {
            return Err(format!(
                "log entry does not have the expected parse_from field {}",
                self.parse_from
            ));
        };
        let (n, text) = self.find(v).map_err(|m| format!("parse: {m}"))?;
        e.severity_number = n;
        e.severity_text = text;
        Ok(())
    }
}
