//! Full structural validation driven by the static schemas, and the fast item counter.

use std::fmt::Write as _;

use super::fast;
use super::reader::{
    FIXED32, FIXED64, LEN, RECURSION_LIMIT, Reader, VARINT, WireErr, wire_type_name,
};
use super::schema::{self, Field, Kind, Msg};
use crate::{DecodeError, Signal};

/// Deepest AnyValue nesting accepted (arrays and kvlists), as in the OTLP/JSON decoder.
pub(crate) const MAX_ANY_VALUE_DEPTH: u32 = 64;

/// A validation failure with its path collected while unwinding (innermost segment first).
/// Boxed so the `Result` of the hot functions stays one word.
pub(crate) struct Fail {
    segs: Vec<(&'static str, Option<usize>)>,
    msg: String,
}

type VResult<T> = Result<T, Box<Fail>>;

#[cold]
fn fail(msg: String) -> Box<Fail> {
    Box::new(Fail {
        segs: Vec::new(),
        msg,
    })
}

impl Fail {
    fn into_error(self) -> DecodeError {
        let mut path = String::new();
        for (i, (name, idx)) in self.segs.iter().rev().enumerate() {
            if i > 0 {
                path.push('.');
            }
            path.push_str(name);
            if let Some(idx) = idx {
                let _ = write!(path, "[{idx}]");
            }
        }
        DecodeError::new(path, self.msg)
    }
}

/// The top-level schema of each signal's export request.
pub(crate) fn request_schema(signal: Signal) -> &'static Msg {
    match signal {
        Signal::Traces => &schema::TRACES_REQUEST,
        Signal::Metrics => &schema::METRICS_REQUEST,
        Signal::Logs => &schema::LOGS_REQUEST,
        Signal::Profiles => &schema::PROFILES_REQUEST,
    }
}

/// Validates `buf` as an export request of `signal` and counts its items.
///
/// The error-free fast path (`fast.rs`) decides almost every request; only when it refuses does
/// the table-driven walk below run again, to build the path-precise error.
pub(crate) fn validate(signal: Signal, buf: &[u8]) -> Result<usize, DecodeError> {
    let msg = request_schema(signal);
    match fast::validate(buf, msg, RECURSION_LIMIT, MAX_ANY_VALUE_DEPTH) {
        Some(n) => {
            // Debug builds (tests, fuzzing) check the fast path's contract on every acceptance.
            debug_assert_eq!(Ok(n), validate_slow(msg, buf).map_err(|e| e.to_string()));
            Ok(n)
        }
        None => validate_slow(msg, buf),
    }
}

/// The table-driven walk with error paths.
#[cold]
#[inline(never)]
pub(super) fn validate_slow(msg: &'static Msg, buf: &[u8]) -> Result<usize, DecodeError> {
    walk(buf, msg, RECURSION_LIMIT, MAX_ANY_VALUE_DEPTH).map_err(|f| f.into_error())
}

/// Walks one message. `ctx` is prost's recursion budget for this message's fields; `any_left`
/// how many more AnyValue levels may be entered. Returns the items found inside.
fn walk(buf: &[u8], msg: &'static Msg, ctx: u32, any_left: u32) -> VResult<usize> {
    let mut r = Reader::new(buf);
    let mut items = 0usize;
    // The current run of one item-holding oneof variant (Metric.data): prost keeps the last
    // variant, merging consecutive repeats of it, so earlier variants' items do not count.
    let mut run_field = 0u32;
    let mut run = 0usize;
    while !r.is_empty() {
        let at = buf.len() - r.left();
        let (field, wt) = r.key().map_err(|e| fail(e.to_string()))?;
        let Some(Some(fd)) = msg.fields.get(field as usize) else {
            r.skip(field, wt, ctx)
                .map_err(|e| fail(format!("field {field}: {e}")))?;
            continue;
        };
        match check_field(&mut r, fd, wt, ctx, any_left) {
            Ok(n) => {
                if fd.oneof_items {
                    if field != run_field {
                        run_field = field;
                        run = 0;
                    }
                    run += n;
                } else {
                    items += n;
                }
            }
            Err(mut f) => {
                // Packed scalars are indexed by element, not by field occurrence: no index.
                let indexed =
                    fd.repeated && !matches!(fd.kind, Kind::PackedVarint | Kind::PackedFixed64);
                let idx = indexed.then(|| occurrence(buf, at, field));
                f.segs.push((fd.json, idx));
                return Err(f);
            }
        }
    }
    Ok(items + run)
}

/// Checks one known field's value; returns the items it holds.
#[inline]
fn check_field(r: &mut Reader<'_>, fd: &Field, wt: u8, ctx: u32, any_left: u32) -> VResult<usize> {
    let wire = |e: WireErr| fail(e.to_string());
    match fd.kind {
        Kind::Varint => {
            expect_wt(wt, VARINT)?;
            r.varint().map_err(wire)?;
        }
        Kind::Fixed64 => {
            expect_wt(wt, FIXED64)?;
            r.fixed::<8>().map_err(wire)?;
        }
        Kind::Fixed32 => {
            expect_wt(wt, FIXED32)?;
            r.fixed::<4>().map_err(wire)?;
        }
        Kind::Str => {
            expect_wt(wt, LEN)?;
            let b = r.bytes().map_err(wire)?;
            if !is_ascii(b)
                && let Err(e) = std::str::from_utf8(b)
            {
                return Err(fail(format!(
                    "invalid UTF-8 at byte {} of string",
                    e.valid_up_to()
                )));
            }
        }
        Kind::Bytes => {
            expect_wt(wt, LEN)?;
            r.bytes().map_err(wire)?;
        }
        Kind::Id(n) => {
            expect_wt(wt, LEN)?;
            let b = r.bytes().map_err(wire)?;
            if !b.is_empty() && b.len() != n as usize {
                return Err(fail(format!("expected {n} bytes, got {}", b.len())));
            }
        }
        Kind::Msg(m) | Kind::Item(m) => {
            expect_wt(wt, LEN)?;
            let b = r.bytes().map_err(wire)?;
            if ctx == 0 {
                return Err(fail(WireErr::TooDeep.to_string()));
            }
            let mut left = any_left;
            if m.any_value {
                if any_left == 0 {
                    return Err(fail(format!(
                        "AnyValue nesting deeper than {MAX_ANY_VALUE_DEPTH} levels"
                    )));
                }
                left -= 1;
            }
            let n = walk(b, m, ctx - 1, left)?;
            return Ok(if matches!(fd.kind, Kind::Item(_)) {
                1
            } else {
                n
            });
        }
        Kind::PackedVarint => match wt {
            VARINT => {
                r.varint().map_err(wire)?;
            }
            LEN => {
                let mut p = Reader::new(r.bytes().map_err(wire)?);
                while !p.is_empty() {
                    p.varint()
                        .map_err(|e| fail(format!("packed values: {e}")))?;
                }
            }
            _ => return Err(wrong_wt(wt, "varint or length-delimited")),
        },
        Kind::PackedFixed64 => match wt {
            FIXED64 => {
                r.fixed::<8>().map_err(wire)?;
            }
            LEN => {
                let b = r.bytes().map_err(wire)?;
                if b.len() % 8 != 0 {
                    return Err(fail(format!(
                        "packed fixed64 length {} is not a multiple of 8",
                        b.len()
                    )));
                }
            }
            _ => return Err(wrong_wt(wt, "fixed64 or length-delimited")),
        },
    }
    Ok(0)
}

/// Word-at-a-time ASCII check: OTLP strings (keys, names, most values) are short and ASCII,
/// where this beats the general UTF-8 validator's setup cost.
#[inline]
fn is_ascii(b: &[u8]) -> bool {
    let mut chunks = b.chunks_exact(8);
    let mut acc = 0u64;
    for c in &mut chunks {
        acc |= u64::from_le_bytes(c.try_into().unwrap_or_default());
    }
    for &x in chunks.remainder() {
        acc |= u64::from(x);
    }
    acc & 0x8080_8080_8080_8080 == 0
}

#[inline]
fn expect_wt(got: u8, want: u8) -> VResult<()> {
    if got == want {
        Ok(())
    } else {
        Err(wrong_wt(got, wire_type_name(want)))
    }
}

#[cold]
fn wrong_wt(got: u8, want: &str) -> Box<Fail> {
    fail(format!(
        "wrong wire type: expected {want}, got {}",
        wire_type_name(got)
    ))
}

/// Index of the occurrence of `field` that starts at byte `at` of `buf`: recomputed only on
/// the error path so that the success path keeps no per-field counters.
#[cold]
fn occurrence(buf: &[u8], at: usize, field: u32) -> usize {
    let mut r = Reader::new(&buf[..at]);
    let mut n = 0;
    while !r.is_empty() {
        let Ok((f, wt)) = r.key() else { break };
        if f == field {
            n += 1;
        }
        if r.skip(f, wt, RECURSION_LIMIT).is_err() {
            break;
        }
    }
    n
}

/// Reads the next field numbered `want` (which must be length-delimited), skipping others.
#[inline]
pub(crate) fn next_len_field<'a>(
    r: &mut Reader<'a>,
    want: u32,
    ctx: u32,
) -> Result<Option<&'a [u8]>, WireErr> {
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        if field == want {
            if wt != LEN {
                return Err(WireErr::InvalidWireType(wt));
            }
            return r.bytes().map(Some);
        }
        r.skip(field, wt, ctx)?;
    }
    Ok(None)
}

/// Counts occurrences of length-delimited field `want` in one message, skipping their bodies.
#[inline]
fn count_len_fields(buf: &[u8], want: u32, ctx: u32) -> Result<usize, WireErr> {
    let mut r = Reader::new(buf);
    let mut n = 0;
    while next_len_field(&mut r, want, ctx)?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// Field numbers of Metric.data variants.
pub(crate) fn is_metric_data(field: u32) -> bool {
    matches!(field, 5 | 7 | 9 | 10 | 11)
}

/// Data points of one encoded Metric, with prost's oneof semantics (last variant wins,
/// repeats of one variant merge).
pub(crate) fn metric_points(metric: &[u8], ctx: u32) -> Result<usize, WireErr> {
    let mut r = Reader::new(metric);
    let (mut run_field, mut run) = (0u32, 0usize);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        if is_metric_data(field) {
            if wt != LEN {
                return Err(WireErr::InvalidWireType(wt));
            }
            let n = count_len_fields(r.bytes()?, 1, ctx - 1)?;
            if field != run_field {
                run_field = field;
                run = 0;
            }
            run += n;
        } else {
            r.skip(field, wt, ctx)?;
        }
    }
    Ok(run)
}

/// The fast counter: request → resource level → scope level → items, item bodies skipped.
pub(crate) fn count_fast(signal: Signal, buf: &[u8]) -> Result<usize, WireErr> {
    let ctx = RECURSION_LIMIT;
    let mut total = 0usize;
    let mut req = Reader::new(buf);
    while let Some(rl) = next_len_field(&mut req, 1, ctx)? {
        let mut rl = Reader::new(rl);
        while let Some(sl) = next_len_field(&mut rl, 2, ctx - 1)? {
            if signal == Signal::Metrics {
                let mut sl = Reader::new(sl);
                while let Some(m) = next_len_field(&mut sl, 2, ctx - 2)? {
                    total += metric_points(m, ctx - 3)?;
                }
            } else {
                total += count_len_fields(sl, 2, ctx - 2)?;
            }
        }
    }
    Ok(total)
}

/// Turns a failure of one of the fast walkers into the validator's path-precise error.
#[cold]
pub(crate) fn explain(signal: Signal, buf: &[u8], e: WireErr) -> DecodeError {
    match validate(signal, buf) {
        Err(d) => d,
        Ok(_) => DecodeError::new("", e.to_string()),
    }
}
