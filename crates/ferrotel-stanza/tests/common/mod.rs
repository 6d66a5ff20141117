//! Helpers shared by the operator tests.
#![allow(dead_code)]

use ferrotel_stanza::{Entry, Map, OperatorsConfig, Pipeline, Value};

pub fn build(ops: serde_json::Value) -> Pipeline {
    let cfg: OperatorsConfig = serde_json::from_value(ops).expect("operators list");
    match Pipeline::build(&cfg) {
        Ok(p) => p,
        Err(e) => panic!("build failed: {e}"),
    }
}

pub fn build_err(ops: serde_json::Value) -> String {
    let cfg: OperatorsConfig = serde_json::from_value(ops).expect("operators list");
    match Pipeline::build(&cfg) {
        Ok(_) => panic!("expected a build error"),
        Err(e) => e.to_string(),
    }
}

/// Runs entries through and flushes everything held.
pub fn run(ops: serde_json::Value, entries: Vec<Entry>) -> Vec<Entry> {
    let mut p = build(ops);
    let mut out = Vec::new();
    for e in entries {
        p.process(e, &mut out);
    }
    p.flush_all(&mut out);
    out
}

pub fn line(s: &str) -> Entry {
    Entry::from_line(s.to_string(), 7)
}

pub fn lines(ls: &[&str]) -> Vec<Entry> {
    ls.iter().map(|l| line(l)).collect()
}

pub fn with_path(mut e: Entry, path: &str) -> Entry {
    e.attributes.insert("log.file.path".into(), s(path));
    e
}

pub fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

pub fn map(kv: &[(&str, Value)]) -> Map {
    kv.iter().map(|(k, v)| ((*k).into(), v.clone())).collect()
}

pub fn body_text(e: &Entry) -> &str {
    match &e.body {
        Value::Str(s) => s,
        other => panic!("body is not text: {other:?}"),
    }
}

/// Unix nanoseconds of an RFC 3339 time.
pub fn ts(rfc3339: &str) -> u64 {
    let t: jiff::Timestamp = rfc3339.parse().expect("rfc3339");
    t.as_nanosecond() as u64
}
