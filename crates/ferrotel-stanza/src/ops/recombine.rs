//! recombine: joins consecutive entries of one source (`source_identifier`) into one, by
//! `is_first_entry` / `is_last_entry`; `max_batch_size`, `max_unmatched_batch_size`,
//! `max_log_size`, `max_sources`, `overwrite_with`, and `force_flush_period` (through the
//! pipeline's deadlines, so the receiver owns the clock). Text before the first match forms
//! its own record, as in Go.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{Ctx, Failure, Operator, Out};
use crate::expr::Expr;
use crate::field::Field;
use crate::{BuildError, Entry, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecombineConfig {
    is_first_entry: Option<String>,
    is_last_entry: Option<String>,
    combine_field: Option<String>,
    combine_with: Option<String>,
    max_batch_size: Option<usize>,
    max_unmatched_batch_size: Option<usize>,
    overwrite_with: Option<String>,
    #[serde(default, deserialize_with = "super::de_duration")]
    force_flush_period: Option<Duration>,
    source_identifier: Option<String>,
    max_sources: Option<usize>,
    max_log_size: Option<serde_json::Value>,
}

/// The source of entries without a `source_identifier` value (Go's name for it).
const DEFAULT_SOURCE: &str = "DefaultSourceIdentifier";

#[derive(Debug)]
struct Batch {
    base: Entry,
    text: String,
    entries: usize,
    matched: bool,
    since: Instant,
}

/// The combining state machine, shared with the container parser's CRI handling.
#[derive(Debug)]
pub(crate) struct Recombiner {
    pub matcher: Option<Expr>,
    /// `is_first_entry` when true, `is_last_entry` when false.
    pub first: bool,
    pub combine_field: Field,
    pub combine_with: String,
    pub max_batch_size: usize,
    pub max_unmatched_batch_size: usize,
    pub newest: bool,
    pub force_flush_period: Duration,
    pub source_identifier: Field,
    pub max_sources: usize,
    pub max_log_size: usize,
    batches: HashMap<String, Batch>,
}

impl Recombiner {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        matcher: Option<Expr>,
        first: bool,
        combine_field: Field,
        combine_with: String,
        newest: bool,
    ) -> Self {
        Recombiner {
            matcher,
            first,
            combine_field,
            combine_with,
            max_batch_size: 1000,
            max_unmatched_batch_size: 100,
            newest,
            force_flush_period: Duration::from_secs(5),
            source_identifier: Field::attribute("log.file.path"),
            max_sources: 1000,
            max_log_size: 0,
            batches: HashMap::new(),
        }
    }

    /// Adds an entry whose match is already known (container CRI uses its `logtag`).
    pub fn add(&mut self, e: Entry, matched: bool, out: &mut Vec<Entry>) {
        let source = match self.source_identifier.get_ref(&e) {
            Some(Value::Str(s)) if !s.is_empty() => s.clone(),
            _ => DEFAULT_SOURCE.to_string(),
        };
        if matched && self.first {
            self.flush_source(&source, out);
            self.add_to_batch(e, source, matched, out);
        } else if matched {
            self.add_to_batch(e, source.clone(), matched, out);
            self.flush_source(&source, out);
        } else {
            self.add_to_batch(e, source, matched, out);
        }
    }

    fn add_to_batch(&mut self, e: Entry, source: String, matched: bool, out: &mut Vec<Entry>) {
        let piece = match self.combine_field.get_ref(&e) {
            Some(Value::Str(s)) => Some(s.clone()),
            _ => None,
        };
        if !self.batches.contains_key(&source) && self.batches.len() >= self.max_sources {
            tracing::warn!(
                "recombine: too many sources; flushing all batched logs (consider raising max_sources)"
            );
            self.flush_all_into(out);
        }
        let batch = match self.batches.get_mut(&source) {
            Some(b) => {
                b.entries += 1;
                b.matched |= matched;
                if self.newest {
                    b.base = e;
                }
                b
            }
            None => self.batches.entry(source.clone()).or_insert(Batch {
                base: e,
                text: String::new(),
                entries: 1,
                matched,
                since: Instant::now(),
            }),
        };
        if let Some(p) = piece {
            if !batch.text.is_empty() {
                batch.text.push_str(&self.combine_with);
            }
            batch.text.push_str(&p);
        }
        let full = (self.max_log_size > 0 && batch.text.len() > self.max_log_size)
            || (self.max_batch_size > 0 && batch.entries >= self.max_batch_size)
            || (!batch.matched
                && self.max_unmatched_batch_size > 0
                && batch.entries >= self.max_unmatched_batch_size);
        if full {
            self.flush_source(&source, out);
        }
    }

    fn flush_source(&mut self, source: &str, out: &mut Vec<Entry>) {
        if let Some(b) = self.batches.remove(source) {
            out.push(self.finish(b));
        }
    }

    fn finish(&self, b: Batch) -> Entry {
        let mut e = b.base;
        let _ = self.combine_field.set(&mut e, Value::Str(b.text));
        e
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        if self.force_flush_period.is_zero() {
            return None;
        }
        self.batches
            .values()
            .map(|b| b.since + self.force_flush_period)
            .min()
    }

    pub fn flush_expired(&mut self, now: Instant, out: &mut Vec<Entry>) {
        if self.force_flush_period.is_zero() {
            return;
        }
        let mut due: Vec<(Instant, String)> = self
            .batches
            .iter()
            .filter(|(_, b)| now >= b.since + self.force_flush_period)
            .map(|(k, b)| (b.since, k.clone()))
            .collect();
        due.sort();
        for (_, k) in due {
            self.flush_source(&k, out);
        }
    }

    pub fn flush_all_into(&mut self, out: &mut Vec<Entry>) {
        let mut all: Vec<Batch> = self.batches.drain().map(|(_, b)| b).collect();
        all.sort_by_key(|b| b.since);
        for b in all {
            out.push(self.finish(b));
        }
    }
}

#[derive(Debug)]
struct Recombine {
    r: Recombiner,
    scratch: Vec<Entry>,
}

impl Recombine {
    fn drain(&mut self, out: &mut Out) {
        out.extend(self.scratch.drain(..).map(|e| (0, e)));
    }
}

impl Operator for Recombine {
    fn process(&mut self, e: Entry, out: &mut Out) -> Result<(), Failure> {
        let matched = match self.r.matcher.as_ref().map(|m| m.eval_bool(&e)) {
            Some(Ok(m)) => m,
            Some(Err(m)) => return Err((e, m)),
            None => false,
        };
        self.r.add(e, matched, &mut self.scratch);
        self.drain(out);
        Ok(())
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.r.next_deadline()
    }
    fn flush_expired(&mut self, now: Instant, out: &mut Out) {
        self.r.flush_expired(now, &mut self.scratch);
        self.drain(out);
    }
    fn flush_all(&mut self, out: &mut Out) {
        self.r.flush_all_into(&mut self.scratch);
        self.drain(out);
    }
}

pub(super) fn build(ctx: &mut Ctx) -> Result<Box<dyn Operator>, BuildError> {
    let c: RecombineConfig = ctx.config()?;
    let (matcher, first) = match (&c.is_first_entry, &c.is_last_entry) {
        (Some(_), Some(_)) => {
            return Err(ctx.err(
                "is_first_entry",
                "only one of is_first_entry and is_last_entry can be set",
            ));
        }
        (None, None) => {
            return Err(ctx.err(
                "is_first_entry",
                "one of is_first_entry and is_last_entry must be set",
            ));
        }
        (Some(f), None) => (ctx.expr("is_first_entry", f)?, true),
        (None, Some(l)) => (ctx.expr("is_last_entry", l)?, false),
    };
    let combine_field = match &c.combine_field {
        Some(f) => ctx.field("combine_field", f)?,
        None => return Err(ctx.err("combine_field", "missing required argument 'combine_field'")),
    };
    let newest = match c.overwrite_with.as_deref() {
        Some("newest") => true,
        None | Some("oldest") | Some("") => false,
        Some(o) => {
            return Err(ctx.err(
                "overwrite_with",
                format!("invalid value {o:?}: must be 'oldest' or 'newest'"),
            ));
        }
    };
    let mut r = Recombiner::new(
        Some(matcher),
        first,
        combine_field,
        c.combine_with.unwrap_or_else(|| "\n".into()),
        newest,
    );
    if let Some(n) = c.max_batch_size {
        r.max_batch_size = n;
    }
    if let Some(n) = c.max_unmatched_batch_size {
        r.max_unmatched_batch_size = n;
    }
    if let Some(d) = c.force_flush_period {
        r.force_flush_period = d;
    }
    if let Some(s) = &c.source_identifier {
        r.source_identifier = ctx.field("source_identifier", s)?;
    }
    if let Some(n) = c.max_sources {
        if n == 0 {
            return Err(ctx.err("max_sources", "max_sources must be greater than 0"));
        }
        r.max_sources = n;
    }
    if let Some(v) = &c.max_log_size {
        r.max_log_size = byte_size(v).map_err(|m| ctx.err("max_log_size", m))?;
    }
    Ok(Box::new(Recombine {
        r,
        scratch: Vec::new(),
    }))
}

/// A byte size as Go's `helper.ByteSize`: a number, or text like `1MiB`, `256KB`.
pub(crate) fn byte_size(v: &serde_json::Value) -> Result<usize, String> {
    match v {
        serde_json::Value::Number(n) => n
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| format!("invalid size {n}")),
        serde_json::Value::String(s) => {
            let t = s.trim();
            let split = t
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(t.len());
            let n: f64 = t[..split]
                .parse()
                .map_err(|_| format!("invalid size {s:?}"))?;
            let mult = match t[split..].trim().to_ascii_lowercase().as_str() {
                "" | "b" => 1.0,
                "kb" => 1e3,
                "kib" => 1024.0,
                "mb" => 1e6,
                "mib" => 1024.0 * 1024.0,
                "gb" => 1e9,
                "gib" => 1024.0 * 1024.0 * 1024.0,
                u => return Err(format!("invalid size unit {u:?}")),
            };
            Ok((n * mult) as usize)
        }
        o => Err(format!("invalid size {o}")),
    }
}
