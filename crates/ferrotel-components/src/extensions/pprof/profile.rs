//! pprof's `profile.proto` (perftools.profiles, the format `go tool pprof` and Pyroscope read),
//! and the CPU and heap profiles ferrotel writes in it.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// `perftools.profiles.Profile`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Profile {
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    #[prost(int64, tag = "10")]
    pub duration_nanos: i64,
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    #[prost(int64, tag = "12")]
    pub period: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueType {
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    /// Leaf first.
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(int64, tag = "1")]
    pub key: i64,
    #[prost(int64, tag = "2")]
    pub str: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Location {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Innermost inlined call first.
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Line {
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    #[prost(int64, tag = "2")]
    pub line: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Function {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(int64, tag = "2")]
    pub name: i64,
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    #[prost(int64, tag = "4")]
    pub filename: i64,
}

/// Builds a profile: strings, functions and locations interned as pprof wants them.
#[derive(Default)]
struct Builder {
    profile: Profile,
    strings: HashMap<String, i64>,
    functions: HashMap<(String, String), u64>,
    locations: HashMap<Vec<(u64, i64)>, u64>,
}

impl Builder {
    fn new() -> Self {
        let mut b = Builder::default();
        b.string(""); // index 0 is the empty string, by the format's rule
        b
    }

    fn string(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.strings.get(s) {
            return i;
        }
        let i = self.profile.string_table.len() as i64;
        self.profile.string_table.push(s.to_owned());
        self.strings.insert(s.to_owned(), i);
        i
    }

    fn value_type(&mut self, t: &str, unit: &str) -> ValueType {
        ValueType {
            r#type: self.string(t),
            unit: self.string(unit),
        }
    }

    fn function(&mut self, name: &str, file: &str) -> u64 {
        let key = (name.to_owned(), file.to_owned());
        if let Some(&id) = self.functions.get(&key) {
            return id;
        }
        let id = self.profile.function.len() as u64 + 1;
        let (n, f) = (self.string(name), self.string(file));
        self.profile.function.push(Function {
            id,
            name: n,
            system_name: n,
            filename: f,
        });
        self.functions.insert(key, id);
        id
    }

    fn location(&mut self, lines: Vec<(u64, i64)>) -> u64 {
        if let Some(&id) = self.locations.get(&lines) {
            return id;
        }
        let id = self.profile.location.len() as u64 + 1;
        self.profile.location.push(Location {
            id,
            line: lines
                .iter()
                .map(|&(function_id, line)| Line { function_id, line })
                .collect(),
        });
        self.locations.insert(lines, id);
        id
    }
}

/// A CPU profile from a sampling report: values are samples and CPU nanoseconds.
pub fn cpu(report: &pprof::Report) -> Profile {
    let mut b = Builder::new();
    let freq = i64::from(report.timing.frequency.max(1));
    let period = 1_000_000_000 / freq;
    b.profile.sample_type = vec![
        b.value_type("samples", "count"),
        b.value_type("cpu", "nanoseconds"),
    ];
    b.profile.period_type = Some(b.value_type("cpu", "nanoseconds"));
    b.profile.period = period;
    b.profile.time_nanos = nanos_since_epoch(report.timing.start_time);
    b.profile.duration_nanos = report.timing.duration.as_nanos() as i64;
    let thread_key = b.string("thread");
    for (frames, &count) in &report.data {
        let mut location_id = Vec::with_capacity(frames.frames.len());
        for frame in &frames.frames {
            let lines: Vec<(u64, i64)> = frame
                .iter()
                .map(|sym| {
                    let file = sym
                        .filename
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                    let f = b.function(&sym.name(), &file);
                    (f, i64::from(sym.lineno.unwrap_or(0)))
                })
                .collect();
            if !lines.is_empty() {
                location_id.push(b.location(lines));
            }
        }
        let thread = b.string(&frames.thread_name);
        let count = count as i64;
        b.profile.sample.push(Sample {
            location_id,
            value: vec![count, count * period],
            label: vec![Label {
                key: thread_key,
                str: thread,
            }],
        });
    }
    b.profile
}

/// What glibc's malloc can report: bytes in use and mapped, with no allocation stacks (it
/// keeps none), as one sample each so `go tool pprof -sample_index` shows the totals.
pub fn heap(in_use: i64, mapped: i64) -> Profile {
    let mut b = Builder::new();
    b.profile.sample_type = vec![
        b.value_type("inuse_space", "bytes"),
        b.value_type("mapped_space", "bytes"),
    ];
    b.profile.time_nanos = nanos_since_epoch(SystemTime::now());
    let f = b.function("glibc malloc (keeps no allocation stacks)", "");
    let loc = b.location(vec![(f, 0)]);
    b.profile.sample.push(Sample {
        location_id: vec![loc],
        value: vec![in_use, mapped],
        label: Vec::new(),
    });
    b.profile
}

fn nanos_since_epoch(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos() as i64
}
