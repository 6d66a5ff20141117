//! Query-string parsing shared by the three APIs: every malformed value becomes a
//! [`ParamError`] naming its parameter, which each API words in its own error shape.

use std::time::Duration;

use ferrotel_store::{TraceId, UnixNanos};

/// A malformed query parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamError {
    pub param: String,
    /// What was expected ("a positive integer").
    pub expected: String,
    pub found: String,
}

impl ParamError {
    pub fn new(param: &str, expected: impl Into<String>, found: &str) -> Self {
        ParamError {
            param: param.to_string(),
            expected: expected.into(),
            found: found.to_string(),
        }
    }

    /// "expected …, found "…"": the part after the parameter's name.
    pub fn detail(&self) -> String {
        format!("expected {}, found {:?}", self.expected, self.found)
    }
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "parameter `{}`: {}", self.param, self.detail())
    }
}

/// The decoded `name=value` pairs of a query string, in order (names may repeat).
#[derive(Debug, Clone, Default)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    pub fn parse(query: Option<&str>) -> Query {
        let Some(q) = query else {
            return Query::default();
        };
        Query(
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (percent_decode(k), percent_decode(v))
                })
                .collect(),
        )
    }

    /// The first non-empty value of `name`: empty values are "not given", as the Jaeger UI
    /// and Grafana send unused fields.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub fn limit(&self, name: &str) -> Result<Option<usize>, ParamError> {
        self.get(name).map(|v| parse_limit(name, v)).transpose()
    }

    pub fn duration(&self, name: &str) -> Result<Option<Duration>, ParamError> {
        self.get(name).map(|v| parse_duration(name, v)).transpose()
    }

    /// Microseconds since the epoch, returned as nanoseconds.
    pub fn micros(&self, name: &str) -> Result<Option<UnixNanos>, ParamError> {
        self.get(name)
            .map(|v| parse_epoch(name, v, 1_000, "microseconds since the Unix epoch"))
            .transpose()
    }

    /// Seconds since the epoch, returned as nanoseconds.
    pub fn seconds(&self, name: &str) -> Result<Option<UnixNanos>, ParamError> {
        self.get(name)
            .map(|v| parse_epoch(name, v, 1_000_000_000, "seconds since the Unix epoch"))
            .transpose()
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XY` a byte; a malformed
/// escape stays as it is (as Go's lenient clients expect), invalid UTF-8 is replaced.
pub fn percent_decode(s: &str) -> String {
    decode(s, true)
}

/// Percent-decoding of a path segment: `+` stays a plus.
pub fn percent_decode_path(s: &str) -> String {
    decode(s, false)
}

fn decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex_val(b[i + 1]), hex_val(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_limit(name: &str, v: &str) -> Result<usize, ParamError> {
    match v.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ParamError::new(name, "a positive integer", v)),
    }
}

/// A Go duration (`1.5ms`, `2s`, `100us`, `1m30s`).
pub fn parse_duration(name: &str, v: &str) -> Result<Duration, ParamError> {
    ferrotel_runtime::config::duration::parse_duration(v)
        .map_err(|_| ParamError::new(name, "a duration like 100us, 1.5ms or 2s", v))
}

fn parse_epoch(name: &str, v: &str, nanos_per: u64, what: &str) -> Result<UnixNanos, ParamError> {
    v.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(nanos_per))
        .ok_or_else(|| ParamError::new(name, what, v))
}

/// A Jaeger UI lookback (`1h`, `2d`, `1w`, any Go duration); `custom` means none.
pub fn parse_lookback(name: &str, v: &str) -> Result<Option<Duration>, ParamError> {
    if v == "custom" {
        return Ok(None);
    }
    let err = || ParamError::new(name, "a lookback like 1h, 2d or custom", v);
    for (suffix, secs) in [("d", 86_400u64), ("w", 7 * 86_400)] {
        if let Some(n) = v.strip_suffix(suffix) {
            let n: u64 = n.parse().map_err(|_| err())?;
            return Ok(Some(Duration::from_secs(n.saturating_mul(secs))));
        }
    }
    ferrotel_runtime::config::duration::parse_duration(v)
        .map(Some)
        .map_err(|_| err())
}

/// A trace id in hex: 32 digits, or fewer (Jaeger's 64-bit ids), left-padded with zeros.
pub fn parse_trace_id(name: &str, v: &str) -> Result<TraceId, ParamError> {
    let err = || ParamError::new(name, "a trace id of up to 32 hex digits", v);
    if v.is_empty() || v.len() > 32 {
        return Err(err());
    }
    let mut id = [0u8; 16];
    let padded = format!("{v:0>32}");
    for (i, pair) in padded.as_bytes().chunks(2).enumerate() {
        let (Some(h), Some(l)) = (hex_val(pair[0]), hex_val(pair[1])) else {
            return Err(err());
        };
        id[i] = h << 4 | l;
    }
    Ok(id)
}

/// A span id: 16 hex digits.
pub fn parse_span_id(name: &str, v: &str) -> Result<[u8; 8], ParamError> {
    let err = || ParamError::new(name, "a span id of 16 hex digits", v);
    if v.len() != 16 {
        return Err(err());
    }
    let mut id = [0u8; 8];
    for (i, pair) in v.as_bytes().chunks(2).enumerate() {
        let (Some(h), Some(l)) = (hex_val(pair[0]), hex_val(pair[1])) else {
            return Err(err());
        };
        id[i] = h << 4 | l;
    }
    Ok(id)
}

/// A JSON object of tags, as Jaeger's API takes it: `{"http.route":"/x","error":"true"}`.
/// Numbers and booleans are taken by their text form (Grafana sends them unquoted at times).
pub fn parse_tags_json(name: &str, v: &str) -> Result<Vec<(String, String)>, ParamError> {
    let expected = "a JSON object of strings like {\"http.route\":\"/x\"}";
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(v).map_err(|_| ParamError::new(name, expected, v))?;
    map.into_iter()
        .map(|(k, val)| match val {
            serde_json::Value::String(s) => Ok((k, s)),
            serde_json::Value::Bool(b) => Ok((k, b.to_string())),
            serde_json::Value::Number(n) => Ok((k, n.to_string())),
            _ => Err(ParamError::new(name, expected, v)),
        })
        .collect()
}

/// logfmt, as Tempo's `tags`: `service.name=a http.status_code=500 name="GET /"`.
pub fn parse_logfmt(name: &str, v: &str) -> Result<Vec<(String, String)>, ParamError> {
    let err = || ParamError::new(name, "logfmt like service.name=a http.status_code=500", v);
    let mut out = Vec::new();
    let mut rest = v.trim_start();
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or_else(err)?;
        let key = &rest[..eq];
        if key.is_empty() || key.contains(char::is_whitespace) || key.contains('"') {
            return Err(err());
        }
        rest = &rest[eq + 1..];
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut s = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, e)) => s.push(e),
                        None => return Err(err()),
                    },
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => s.push(c),
                }
            }
            let end = end.ok_or_else(err)?;
            value = s;
            rest = &quoted[end + 1..];
            if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
                return Err(err());
            }
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            value = rest[..end].to_string();
            rest = &rest[end..];
        }
        out.push((key.to_string(), value));
        rest = rest.trim_start();
    }
    Ok(out)
}

/// OTLP span kind from its name (`server`, `SPAN_KIND_SERVER`, any case).
pub fn parse_span_kind(name: &str, v: &str) -> Result<i32, ParamError> {
    let lower = v.to_ascii_lowercase();
    let k = lower.strip_prefix("span_kind_").unwrap_or(&lower);
    Ok(match k {
        "unspecified" => 0,
        "internal" => 1,
        "server" => 2,
        "client" => 3,
        "producer" => 4,
        "consumer" => 5,
        _ => {
            return Err(ParamError::new(
                name,
                "a span kind: server, client, producer, consumer or internal",
                v,
            ));
        }
    })
}

/// The lower-case name of an OTLP span kind, empty for unspecified (Jaeger's and the UI's).
pub fn span_kind_name(kind: i32) -> &'static str {
    match kind {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "",
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decodes_and_skips_empty_values() {
        let q = Query::parse(Some("service=a%20b&operation=&tag=k%3Av&tag=x:y+z&limit=5"));
        assert_eq!(q.get("service"), Some("a b"));
        assert_eq!(q.get("operation"), None);
        assert_eq!(q.all("tag").collect::<Vec<_>>(), ["k:v", "x:y z"]);
        assert_eq!(q.limit("limit"), Ok(Some(5)));
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn malformed_values_name_their_parameter() {
        let q = Query::parse(Some("limit=abc&minDuration=5x&start=-1&end=1e9"));
        assert_eq!(
            q.limit("limit").unwrap_err().to_string(),
            "parameter `limit`: expected a positive integer, found \"abc\""
        );
        assert_eq!(q.duration("minDuration").unwrap_err().param, "minDuration");
        assert_eq!(q.micros("start").unwrap_err().param, "start");
        assert_eq!(q.micros("end").unwrap_err().param, "end");
        assert!(parse_limit("limit", "0").is_err());
        assert!(parse_tags_json("tags", "{\"a\":[1]}").is_err());
        assert!(parse_tags_json("tags", "not json").is_err());
        assert!(parse_trace_id("id", "xyz").is_err());
        assert!(parse_lookback("lookback", "2x").is_err());
        assert!(parse_logfmt("tags", "a=\"unterminated").is_err());
        assert!(parse_logfmt("tags", "novalue").is_err());
    }

    #[test]
    fn values_parse() {
        assert_eq!(
            parse_duration("d", "1.5ms").unwrap(),
            Duration::from_micros(1500)
        );
        assert_eq!(
            parse_lookback("l", "2d").unwrap(),
            Some(Duration::from_secs(172_800))
        );
        assert_eq!(parse_lookback("l", "custom").unwrap(), None);
        assert_eq!(parse_trace_id("t", "ff").unwrap()[15], 0xff);
        assert_eq!(
            parse_logfmt(
                "tags",
                "service.name=a  name=\"GET /x\" http.status_code=500"
            )
            .unwrap(),
            [
                ("service.name".to_string(), "a".to_string()),
                ("name".to_string(), "GET /x".to_string()),
                ("http.status_code".to_string(), "500".to_string())
            ]
        );
        assert_eq!(
            parse_tags_json("tags", r#"{"error":true,"n":5,"s":"x"}"#).unwrap(),
            [
                ("error".to_string(), "true".to_string()),
                ("n".to_string(), "5".to_string()),
                ("s".to_string(), "x".to_string())
            ]
        );
        assert_eq!(parse_span_kind("k", "SPAN_KIND_CLIENT").unwrap(), 3);
        assert_eq!(hex(&[0, 0xab]), "00ab");
    }
}
