//! The operators: config plumbing shared by all (`type`, `id`, `output`, `on_error`, `if`),
//! the parser helper (`parse_from`, `parse_to`, `body`, embedded `timestamp`/`severity`/
//! `trace`/`scope_name`), and one module per family. Each operator's typed config sits with
//! its logic; `deny_unknown_fields` rejects keys the Go Collector would reject.

// A failed entry travels back by value, as a successful one does; boxing it would allocate on
// every error for no gain.
#![allow(clippy::result_large_err)]

mod container;
mod parsers;
mod recombine;
mod syslog;
mod transform;

use std::fmt::Debug;
use std::time::Instant;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::expr::Expr;
use crate::field::Field;
use crate::severity::{SeverityConfig, SeverityParser};
use crate::time::{TimeConfig, TimeParser};
use crate::{BuildError, Entry, Value};

/// Entries an operator hands on: `(output slot, entry)`; slot 0 is `output` (router: 0 is
/// `default`, `i + 1` is route `i`).
pub(crate) type Out = Vec<(usize, Entry)>;

/// What failed, with the entry as it stands (sent on or dropped per `on_error`).
pub(crate) type Failure = (Entry, String);

pub(crate) trait Operator: Debug + Send {
    fn process(&mut self, e: Entry, out: &mut Out) -> Result<(), Failure>;
    fn next_deadline(&self) -> Option<Instant> {
        None
    }
    fn flush_expired(&mut self, _now: Instant, _out: &mut Out) {}
    fn flush_all(&mut self, _out: &mut Out) {}
}

/// `on_error` (stanza's default is `send`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnError {
    Send,
    SendQuiet,
    Drop,
    DropQuiet,
}

impl OnError {
    pub fn sends(self) -> bool {
        matches!(self, OnError::Send | OnError::SendQuiet)
    }
    pub fn quiet(self) -> bool {
        matches!(self, OnError::SendQuiet | OnError::DropQuiet)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommonKeys {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    output: Option<OneOrMany>,
    on_error: Option<String>,
    #[serde(rename = "if")]
    cond: Option<String>,
}

/// One built operator with what the pipeline needs to wire it.
pub(crate) struct Built {
    pub kind: String,
    pub id: Option<String>,
    pub output: Option<Vec<String>>,
    /// Router only: the `default` outputs then each route's outputs.
    pub route_outputs: Option<Vec<Vec<String>>>,
    pub on_error: OnError,
    pub cond: Option<Expr>,
    pub op: Box<dyn Operator>,
}

/// Builds the error for key `key` of operator `index`.
pub(crate) fn err(index: usize, key: &str, message: impl Into<String>) -> BuildError {
    let path = if key.is_empty() {
        format!("operators[{index}]")
    } else {
        format!("operators[{index}].{key}")
    };
    BuildError {
        path,
        message: message.into(),
    }
}

/// Turns a serde error into one naming the key: the path serde_path_to_error tracked, or the
/// field serde names in unknown/missing-field messages.
fn serde_err(
    index: usize,
    prefix: &str,
    e: serde_path_to_error::Error<serde_json::Error>,
) -> BuildError {
    let tracked = e.path().to_string();
    let msg = e.into_inner().to_string();
    let named = ["unknown field `", "missing field `", "duplicate field `"]
        .iter()
        .find_map(|p| {
            msg.split_once(p)
                .and_then(|(_, r)| r.split_once('`'))
                .map(|(k, _)| k.to_string())
        });
    let key = match named {
        Some(k) => k,
        None if tracked != "." => tracked,
        None => String::new(),
    };
    let key = match (prefix.is_empty(), key.is_empty()) {
        (_, true) => prefix.to_string(),
        (true, false) => key,
        (false, false) => format!("{prefix}.{key}"),
    };
    err(index, &key, msg)
}

/// Takes `keys` out of `obj` into a new object.
fn take_keys(
    obj: &mut serde_json::Map<String, serde_json::Value>,
    keys: &[&str],
) -> serde_json::Value {
    let mut taken = serde_json::Map::new();
    for k in keys {
        if let Some(v) = obj.remove(*k) {
            taken.insert((*k).to_string(), v);
        }
    }
    serde_json::Value::Object(taken)
}

fn typed<T: DeserializeOwned>(
    index: usize,
    prefix: &str,
    v: serde_json::Value,
) -> Result<T, BuildError> {
    serde_path_to_error::deserialize(v).map_err(|e| serde_err(index, prefix, e))
}

/// Context handed to each operator's builder.
pub(crate) struct Ctx {
    pub index: usize,
    pub rest: serde_json::Value,
}

impl Ctx {
    pub fn config<T: DeserializeOwned>(&mut self) -> Result<T, BuildError> {
        typed(self.index, "", std::mem::take(&mut self.rest))
    }
    pub fn err(&self, key: &str, message: impl Into<String>) -> BuildError {
        err(self.index, key, message)
    }
    pub fn field(&self, key: &str, text: &str) -> Result<Field, BuildError> {
        Field::parse(text).map_err(|m| self.err(key, m))
    }
    pub fn expr(&self, key: &str, text: &str) -> Result<Expr, BuildError> {
        Expr::compile(text).map_err(|m| self.err(key, m))
    }
}

/// Which operator types take the parser keys.
fn is_parser(kind: &str) -> bool {
    matches!(
        kind,
        "json_parser"
            | "regex_parser"
            | "key_value_parser"
            | "csv_parser"
            | "syslog_parser"
            | "container"
            | "json_array_parser"
    )
}

pub(crate) const TYPES: &[&str] = &[
    "add",
    "container",
    "copy",
    "csv_parser",
    "filter",
    "flatten",
    "json_array_parser",
    "json_parser",
    "key_value_parser",
    "move",
    "noop",
    "recombine",
    "regex_parser",
    "regex_replace",
    "remove",
    "retain",
    "router",
    "scope_name_parser",
    "severity_parser",
    "syslog_parser",
    "time_parser",
    "trace_parser",
    "unquote",
];

pub(crate) fn build(index: usize, raw: &serde_json::Value) -> Result<Built, BuildError> {
    let serde_json::Value::Object(obj) = raw else {
        return Err(err(index, "", "an operator must be a map with a `type`"));
    };
    let mut obj = obj.clone();
    let common: CommonKeys = typed(
        index,
        "",
        take_keys(&mut obj, &["type", "id", "output", "on_error", "if"]),
    )?;
    let on_error = match common.on_error.as_deref() {
        None | Some("send") => OnError::Send,
        Some("send_quiet") => OnError::SendQuiet,
        Some("drop") => OnError::Drop,
        Some("drop_quiet") => OnError::DropQuiet,
        Some(o) => {
            return Err(err(
                index,
                "on_error",
                format!("{o:?} is not one of send, send_quiet, drop, drop_quiet"),
            ));
        }
    };
    let cond = match common.cond.as_deref() {
        Some(c) if !c.trim().is_empty() => Some(Expr::compile(c).map_err(|m| err(index, "if", m))?),
        _ => None,
    };
    let output = common.output.map(|o| match o {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    });
    let kind = common.kind;
    let parser = if is_parser(&kind) {
        let keys = take_keys(
            &mut obj,
            &[
                "parse_from",
                "parse_to",
                "body",
                "timestamp",
                "severity",
                "trace",
                "scope_name",
            ],
        );
        Some(ParserCore::build(index, keys)?)
    } else {
        None
    };
    let mut ctx = Ctx {
        index,
        rest: serde_json::Value::Object(obj),
    };
    let mut route_outputs = None;
    let op: Box<dyn Operator> = match kind.as_str() {
        "json_parser" => parsers::json(&mut ctx, parser.expect("parser"))?,
        "regex_parser" => parsers::regex(&mut ctx, parser.expect("parser"))?,
        "key_value_parser" => parsers::key_value(&mut ctx, parser.expect("parser"))?,
        "csv_parser" => parsers::csv(&mut ctx, parser.expect("parser"))?,
        "json_array_parser" => parsers::json_array(&mut ctx, parser.expect("parser"))?,
        "syslog_parser" => syslog::build(&mut ctx, parser.expect("parser"))?,
        "container" => container::build(&mut ctx, parser.expect("parser"))?,
        "time_parser" => parsers::time(&mut ctx)?,
        "severity_parser" => parsers::severity(&mut ctx)?,
        "trace_parser" => parsers::trace(&mut ctx)?,
        "scope_name_parser" => parsers::scope_name(&mut ctx)?,
        "add" => transform::add(&mut ctx)?,
        "copy" => transform::copy(&mut ctx)?,
        "move" => transform::mv(&mut ctx)?,
        "remove" => transform::remove(&mut ctx)?,
        "retain" => transform::retain(&mut ctx)?,
        "flatten" => transform::flatten(&mut ctx)?,
        "regex_replace" => transform::regex_replace(&mut ctx)?,
        "unquote" => transform::unquote(&mut ctx)?,
        "noop" => transform::noop(&mut ctx)?,
        "filter" => transform::filter(&mut ctx)?,
        "router" => {
            let (op, outs) = transform::router(&mut ctx)?;
            route_outputs = Some(outs);
            op
        }
        "recombine" => recombine::build(&mut ctx)?,
        other => {
            return Err(err(
                index,
                "type",
                format!(
                    "unsupported operator type {other:?}; supported: {}",
                    TYPES.join(", ")
                ),
            ));
        }
    };
    if kind == "router" && output.is_some() {
        return Err(err(
            index,
            "output",
            "a router sends entries to its routes' outputs and `default`",
        ));
    }
    Ok(Built {
        kind,
        id: common.id,
        output,
        route_outputs,
        on_error,
        cond,
        op,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParserKeys {
    parse_from: Option<String>,
    parse_to: Option<String>,
    body: Option<String>,
    timestamp: Option<serde_json::Value>,
    severity: Option<serde_json::Value>,
    trace: Option<serde_json::Value>,
    scope_name: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FromKey {
    pub parse_from: Option<Field>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TraceConfig {
    #[serde(default)]
    pub trace_id: FromKey,
    #[serde(default)]
    pub span_id: FromKey,
    #[serde(default)]
    pub trace_flags: FromKey,
}

/// `trace_id`, `span_id`, `trace_flags` from hex text.
#[derive(Debug, Clone)]
pub(crate) struct TraceParser {
    trace_id: Field,
    span_id: Field,
    trace_flags: Field,
}

impl TraceParser {
    pub fn new(c: &TraceConfig) -> TraceParser {
        TraceParser {
            trace_id: c
                .trace_id
                .parse_from
                .clone()
                .unwrap_or_else(|| Field::attribute("trace_id")),
            span_id: c
                .span_id
                .parse_from
                .clone()
                .unwrap_or_else(|| Field::attribute("span_id")),
            trace_flags: c
                .trace_flags
                .parse_from
                .clone()
                .unwrap_or_else(|| Field::attribute("trace_flags")),
        }
    }

    pub fn parse(&self, e: &mut Entry) -> Result<(), String> {
        let mut errors = Vec::new();
        let hex_of =
            |f: &Field, e: &Entry, n: usize, name: &str| -> Option<Result<Vec<u8>, String>> {
                let v = f.get_ref(e)?;
                let Value::Str(s) = v else {
                    return Some(Err(format!("{name} must be a string")));
                };
                Some(
                    decode_hex(s).filter(|b| b.len() == n).ok_or_else(|| {
                        format!("{name} must be {} hex characters, got {s:?}", n * 2)
                    }),
                )
            };
        match hex_of(&self.trace_id, e, 16, "trace_id") {
            Some(Ok(b)) => e.trace_id = b,
            Some(Err(m)) => errors.push(m),
            None => {}
        }
        match hex_of(&self.span_id, e, 8, "span_id") {
            Some(Ok(b)) => e.span_id = b,
            Some(Err(m)) => errors.push(m),
            None => {}
        }
        match hex_of(&self.trace_flags, e, 1, "trace_flags") {
            Some(Ok(b)) => e.trace_flags = b[0] as u32,
            Some(Err(m)) => errors.push(m),
            None => {}
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let nib = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

/// Moves a string field into the entry's scope name (the field is removed, as in Go).
pub(crate) fn parse_scope_name(from: &Field, e: &mut Entry) -> Result<(), String> {
    match from.delete(e) {
        None => Err(format!(
            "log entry does not have the expected parse_from field {from}"
        )),
        Some(Value::Str(s)) => {
            e.scope_name = s;
            Ok(())
        }
        Some(other) => {
            let t = crate::value_type(&other);
            let _ = from.set(e, other);
            Err(format!("type {t} cannot be parsed as scope name"))
        }
    }
}

/// The parser keys and the embedded time/severity/trace/scope parsers.
#[derive(Debug, Clone)]
pub(crate) struct ParserCore {
    pub parse_from: Field,
    pub parse_to: Field,
    body: Option<Field>,
    time: Option<TimeParser>,
    severity: Option<SeverityParser>,
    trace: Option<TraceParser>,
    scope_name: Option<Field>,
}

impl ParserCore {
    fn build(index: usize, keys: serde_json::Value) -> Result<ParserCore, BuildError> {
        let k: ParserKeys = typed(index, "", keys)?;
        let field = |key: &str, t: &Option<String>, default: Field| -> Result<Field, BuildError> {
            match t {
                Some(t) => Field::parse(t).map_err(|m| err(index, key, m)),
                None => Ok(default),
            }
        };
        let time = match k.timestamp {
            Some(v) => {
                let c: TimeConfig = typed(index, "timestamp", v)?;
                Some(
                    TimeParser::build(&c, None)
                        .map_err(|(key, m)| err(index, &format!("timestamp.{key}"), m))?,
                )
            }
            None => None,
        };
        let severity = match k.severity {
            Some(v) => {
                let c: SeverityConfig = typed(index, "severity", v)?;
                Some(
                    SeverityParser::build(&c, None)
                        .map_err(|(key, m)| err(index, &format!("severity.{key}"), m))?,
                )
            }
            None => None,
        };
        let trace = match k.trace {
            Some(v) => Some(TraceParser::new(&typed::<TraceConfig>(index, "trace", v)?)),
            None => None,
        };
        let scope_name =
            match k.scope_name {
                Some(v) => {
                    let c: FromKey = typed(index, "scope_name", v)?;
                    Some(c.parse_from.ok_or_else(|| {
                        err(index, "scope_name.parse_from", "missing required field")
                    })?)
                }
                None => None,
            };
        Ok(ParserCore {
            parse_from: field("parse_from", &k.parse_from, Field::body())?,
            parse_to: field("parse_to", &k.parse_to, Field::attributes())?,
            body: k
                .body
                .as_ref()
                .map(|b| Field::parse(b).map_err(|m| err(index, "body", m)))
                .transpose()?,
            time,
            severity,
            trace,
            scope_name,
        })
    }

    /// Reads `parse_from`, parses it, writes `parse_to`, then the embedded parsers.
    pub fn run(
        &mut self,
        e: Entry,
        parse: impl FnOnce(&Value) -> Result<Value, String>,
    ) -> Result<Entry, Failure> {
        let e = self.apply(e, parse)?;
        self.after(e)
    }

    /// [`ParserCore::run`] without the embedded parsers (for parsers whose `parse` borrows
    /// the operator).
    pub fn apply(
        &self,
        mut e: Entry,
        parse: impl FnOnce(&Value) -> Result<Value, String>,
    ) -> Result<Entry, Failure> {
        let parsed = match self.parse_from.get(&e) {
            None => {
                let m = format!(
                    "entry is missing the expected parse_from field {}",
                    self.parse_from
                );
                return Err((e, m));
            }
            Some(v) => parse(&v),
        };
        let parsed = match parsed {
            Ok(p) => p,
            Err(m) => return Err((e, m)),
        };
        if let Err(m) = self.parse_to.set(&mut e, parsed) {
            return Err((e, format!("set parse_to: {m}")));
        }
        if let Some(b) = &self.body
            && let Some(v) = b.get(&e)
        {
            e.body = v.into_owned();
        }
        Ok(e)
    }

    /// The embedded parsers, all attempted before the first error is reported (as Go does).
    pub fn after(&mut self, mut e: Entry) -> Result<Entry, Failure> {
        let t = self.time.as_ref().map(|t| t.parse(&mut e)).transpose();
        let s = self.severity.as_mut().map(|s| s.parse(&mut e)).transpose();
        let tr = self.trace.as_ref().map(|t| t.parse(&mut e)).transpose();
        let sc = self
            .scope_name
            .as_ref()
            .map(|f| parse_scope_name(f, &mut e))
            .transpose();
        let first = [
            t.err().map(|m| format!("time parser: {m}")),
            s.err().map(|m| format!("severity parser: {m}")),
            tr.err().map(|m| format!("trace parser: {m}")),
            sc.err().map(|m| format!("scope_name parser: {m}")),
        ]
        .into_iter()
        .flatten()
        .next();
        match first {
            Some(m) => Err((e, m)),
            None => Ok(e),
        }
    }
}

/// A Go duration: text (`5s`, `100ms`, `1m30s`) or, as mapstructure reads a bare number, nanoseconds.
pub(crate) fn duration(v: &serde_json::Value) -> Result<std::time::Duration, String> {
    match v {
        serde_json::Value::String(s) => parse_go_duration(s),
        serde_json::Value::Number(n) => n
            .as_u64()
            .map(std::time::Duration::from_nanos)
            .ok_or_else(|| format!("invalid duration {n}")),
        o => Err(format!("invalid duration {o}")),
    }
}

/// `time.ParseDuration` syntax. ferrotel-runtime has the same parser; this crate does not
/// depend on the runtime (and its async stack) for one function.
fn parse_go_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    if t == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    let mut rest = t;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..n_end]
            .parse()
            .map_err(|_| format!("invalid duration {s:?}"))?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(format!("invalid duration {s:?}: unknown unit")),
        };
        rest = &rest[u_end..];
        total += n * unit;
    }
    Ok(std::time::Duration::from_secs_f64(total))
}

/// Serde helper: a Go duration.
pub(crate) fn de_duration<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<std::time::Duration>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    duration(&v).map(Some).map_err(serde::de::Error::custom)
}

#[cfg(test)]
pub(crate) mod test_support {
    pub(crate) use super::duration;
    pub(crate) use super::recombine::byte_size;
}
