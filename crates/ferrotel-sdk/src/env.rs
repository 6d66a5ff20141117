//! Reading the standard `OTEL_*` environment variables. Every parser takes a lookup function so
//! tests (and applications with their own configuration source) never touch the process
//! environment. Invalid values are reported through `tracing` and replaced by the default, as
//! the specification asks: configuration must not crash the application.

use std::time::Duration;

/// Where settings come from: a variable name to its value.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A variable's value, trimmed; `None` when unset or empty (the spec treats empty as unset).
pub(crate) fn get(lookup: Lookup<'_>, name: &str) -> Option<String> {
    let v = lookup(name)?;
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

/// A boolean: only `true` (any case) is true; anything else but `false` is warned about.
pub(crate) fn get_bool(lookup: Lookup<'_>, name: &str) -> Option<bool> {
    let v = get(lookup, name)?;
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else {
        if !v.eq_ignore_ascii_case("false") {
            tracing::warn!(variable = name, value = %v, "not a boolean, taken as false");
        }
        Some(false)
    }
}

/// A non-negative integer.
pub(crate) fn get_u64(lookup: Lookup<'_>, name: &str) -> Option<u64> {
    let v = get(lookup, name)?;
    match v.parse::<u64>() {
        Ok(n) => Some(n),
        Err(_) => {
            tracing::warn!(variable = name, value = %v, "not a non-negative integer, ignored");
            None
        }
    }
}

/// A duration given in milliseconds.
pub(crate) fn get_millis(lookup: Lookup<'_>, name: &str) -> Option<Duration> {
    get_u64(lookup, name).map(Duration::from_millis)
}

/// Decodes `%XX` escapes (W3C Baggage value encoding, used by `OTEL_RESOURCE_ATTRIBUTES` and
/// `OTEL_EXPORTER_OTLP_HEADERS`). `None` for a malformed escape or bytes that are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Parses `key1=value1,key2=value2` with percent-decoded values (and keys). `Err` names the
/// first bad member; the caller discards the whole list, as the resource spec asks.
pub fn parse_key_values(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for member in s.split(',') {
        if member.trim().is_empty() {
            continue;
        }
        let Some((k, v)) = member.split_once('=') else {
            return Err(format!("{member:?} has no '='"));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err(format!("{member:?} has an empty key"));
        }
        let key = percent_decode(k).ok_or_else(|| format!("{k:?}: invalid percent-encoding"))?;
        let value = percent_decode(v.trim())
            .ok_or_else(|| format!("{member:?}: invalid percent-encoding"))?;
        out.push((key, value));
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) fn lookup_from(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2Cc").as_deref(), Some("a b,c"));
        assert_eq!(percent_decode("%E2%9C%93").as_deref(), Some("✓"));
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("bad%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn key_value_lists() {
        assert_eq!(
            parse_key_values(" a = 1 ,b=x%3Dy,, c= ").unwrap(),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x=y".into()),
                ("c".into(), "".into())
            ]
        );
        assert!(parse_key_values("a=1,b").is_err());
        assert!(parse_key_values("=1").is_err());
        assert!(parse_key_values("a=%zz").is_err());
    }

    #[test]
    fn typed_values() {
        let env = lookup_from(&[("B", "TRUE"), ("F", "yes"), ("N", "12"), ("X", "-1"), ("E", " ")]);
        assert_eq!(get_bool(&env, "B"), Some(true));
        assert_eq!(get_bool(&env, "F"), Some(false));
        assert_eq!(get_u64(&env, "N"), Some(12));
        assert_eq!(get_u64(&env, "X"), None);
        assert_eq!(get(&env, "E"), None);
        assert_eq!(get_millis(&env, "N"), Some(Duration::from_millis(12)));
    }
}
