//! The `env` detector: `OTEL_RESOURCE_ATTRIBUTES` (or the deprecated `OTEL_RESOURCE` when the
//! first is empty), `k1=v1,k2=v2`. Like Go's detector it does not read `OTEL_SERVICE_NAME`,
//! decodes values with Go's `url.QueryUnescape` (so `+` is a space), and rejects the whole
//! variable when any part is malformed.

use std::sync::OnceLock;

use regex::Regex;

use super::detect::AttrValue;

pub const ENV_VAR: &str = "OTEL_RESOURCE_ATTRIBUTES";
pub const DEPRECATED_ENV_VAR: &str = "OTEL_RESOURCE";

/// Reads the variables of the process and parses them.
pub fn detect() -> Result<Vec<(String, AttrValue)>, String> {
    let read = |name| std::env::var(name).unwrap_or_default();
    let mut labels = read(ENV_VAR);
    if labels.trim().is_empty() {
        labels = read(DEPRECATED_ENV_VAR);
    }
    parse(&labels)
}

/// One `key=value` pair with the `,` (or end) that closes it. Keys and values are ASCII (at
/// most 256 characters), spaces around both are dropped: the pairs Go's detector accepts.
fn pair_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"[\t\n\f\r ]*([[:ascii:]]{1,256}?)[\t\n\f\r ]*=[\t\n\f\r ]*([[:ascii:]]{0,256}?)[\t\n\f\r ]*(?:,|$)")
            .expect("static regex")
    })
}

/// Parses the variable's value; an empty (or blank) value is no attributes. A later key
/// replaces an earlier one in place.
pub fn parse(value: &str) -> Result<Vec<(String, AttrValue)>, String> {
    let s = value.trim();
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let mut out: Vec<(String, AttrValue)> = Vec::new();
    let mut prev = 0;
    let mut any = false;
    for caps in pair_regex().captures_iter(s) {
        let (Some(m), Some(k), Some(v)) = (caps.get(0), caps.get(1), caps.get(2)) else {
            continue;
        };
        any = true;
        if m.start() != prev {
            return Err(format!(
                "invalid resource format, invalid text: {:?}",
                &s[prev..m.start()]
            ));
        }
        let decoded = query_unescape(v.as_str()).map_err(|e| {
            format!(
                "invalid resource format in attribute: {:?}, err: {e}",
                m.as_str()
            )
        })?;
        let key = k.as_str();
        match out.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = AttrValue::Str(decoded),
            None => out.push((key.to_owned(), AttrValue::Str(decoded))),
        }
        prev = m.end();
    }
    if !any {
        return Err(format!("invalid resource format: {s:?}"));
    }
    if prev != s.len() {
        return Err(format!(
            "invalid resource format, invalid text: {:?}",
            &s[prev..]
        ));
    }
    Ok(out)
}

/// Go's `url.QueryUnescape`: `%XX` is a byte, `+` a space; a bad escape is an error naming it.
fn query_unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (
                    b.get(i + 1).and_then(|&c| hex(c)),
                    b.get(i + 2).and_then(|&c| hex(c)),
                ) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        let end = (i + 3).min(b.len());
                        return Err(format!("invalid URL escape {:?}", &s[i..end]));
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} does not decode to UTF-8"))
}
