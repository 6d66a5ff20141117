//! Zipkin v2 JSON read for the direct path, on `ferrotel_pdata`'s streaming JSON scanner
//! (the OTLP/JSON decoders' own: SIMD string scan, strings borrowed from the body unless they
//! hold escapes, ASCII strings never run through a UTF-8 check). It replaced serde_json here
//! because serde's visitor calls and serde_json's per-string UTF-8 validation were a third of
//! the receiver's CPU at 10 k spans/s (docs/benchmarks.md, "Zipkin ingest").
//!
//! It accepts only what the reference decoder (`crate::json`, serde_json with derived structs)
//! accepts, and reads it the same way; whatever that decoder would reject, or would take in a
//! way this one does not (tag values that are numbers or booleans, a struct written as an
//! array, integers past 19 digits, a byte order mark), is refused and left to it.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use ferrotel_pdata::json::scan::{Reader, Res};

use super::{Builder, EndpointIn, SpanIn};
use crate::model::{Kind, parse_hex};

pub(super) fn decode(body: &[u8], b: &mut Builder) -> Option<()> {
    // The scanner skips a UTF-8 byte order mark; serde_json refuses it.
    if body.starts_with(b"\xEF\xBB\xBF") {
        return None;
    }
    let mut r = Reader::new(body);
    let mut tags: Tags = Vec::new();
    let mut annotations: Annotations = Vec::new();
    r.array(|r, _| span(r, b, &mut tags, &mut annotations))
        .ok()?;
    r.end().ok()
}

type Tags<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;
type Annotations<'a> = Vec<(u64, Cow<'a, str>)>;

/// Any refusal; the message is never shown (the reference decoder's is).
fn refuse<T>(r: &Reader<'_>) -> Res<T> {
    Err(r.err("left to the reference decoder"))
}

/// `value` into `slot`, refusing a field given twice (serde's derived structs do).
fn once<T>(r: &Reader<'_>, slot: &mut Option<T>, value: T) -> Res<()> {
    if slot.is_some() {
        return refuse(r);
    }
    *slot = Some(value);
    Ok(())
}

/// A field's value, read by `read`, into `slot`; a field given twice is refused.
fn field<'a, T>(
    r: &mut Reader<'a>,
    slot: &mut Option<T>,
    read: impl FnOnce(&mut Reader<'a>) -> Res<T>,
) -> Res<()> {
    let v = read(r)?;
    once(r, slot, v)
}

/// `null` as `None`, anything else read by `f`: serde's `Option<T>`.
fn nullable<'a, T>(
    r: &mut Reader<'a>,
    f: impl FnOnce(&mut Reader<'a>) -> Res<T>,
) -> Res<Option<T>> {
    if r.null()? { Ok(None) } else { f(r).map(Some) }
}

/// One span, as the reference's `WireSpan`, into the builder; scratch reused.
fn span<'a>(
    r: &mut Reader<'a>,
    b: &mut Builder,
    tags: &mut Tags<'a>,
    annotations: &mut Annotations<'a>,
) -> Res<()> {
    tags.clear();
    annotations.clear();
    let mut trace_id: Option<Cow<str>> = None;
    let mut id: Option<Cow<str>> = None;
    let mut parent_id: Option<Option<Cow<str>>> = None;
    let mut kind: Option<Option<Cow<str>>> = None;
    let mut name: Option<Option<Cow<str>>> = None;
    let mut timestamp: Option<Option<u64>> = None;
    let mut duration: Option<Option<u64>> = None;
    let mut local: Option<Option<Endpoint>> = None;
    let mut remote: Option<Option<Endpoint>> = None;
    // Read (a bool or null, once) and not used: the OTLP span has no debug flag.
    let mut debug: Option<Option<bool>> = None;
    let mut shared: Option<Option<bool>> = None;
    let (mut has_tags, mut has_annotations) = (false, false);
    r.members(|r, key| match &*key {
        "traceId" => field(r, &mut trace_id, Reader::string),
        "id" => field(r, &mut id, Reader::string),
        "parentId" => field(r, &mut parent_id, |r| nullable(r, Reader::string)),
        "kind" => field(r, &mut kind, |r| nullable(r, Reader::string)),
        "name" => field(r, &mut name, |r| nullable(r, Reader::string)),
        "timestamp" => field(r, &mut timestamp, |r| nullable(r, Reader::plain_u64)),
        "duration" => field(r, &mut duration, |r| nullable(r, Reader::plain_u64)),
        "localEndpoint" => field(r, &mut local, |r| nullable(r, endpoint)),
        "remoteEndpoint" => field(r, &mut remote, |r| nullable(r, endpoint)),
        "debug" => field(r, &mut debug, |r| nullable(r, Reader::bool)),
        "shared" => field(r, &mut shared, |r| nullable(r, Reader::bool)),
        "tags" if !has_tags => {
            has_tags = true;
            if r.null()? {
                return Ok(());
            }
            r.members(|r, k| {
                let v = r.string()?;
                tags.push((k, v));
                Ok(())
            })
        }
        "annotations" if !has_annotations => {
            has_annotations = true;
            if r.null()? {
                return Ok(());
            }
            r.array(|r, _| {
                let a = annotation(r)?;
                annotations.push(a);
                Ok(())
            })
        }
        "tags" | "annotations" => refuse(r),
        _ => r.skip(),
    })?;
    let (Some(trace_id), Some(id)) = (trace_id, id) else {
        return refuse(r);
    };
    let Some((trace_id, id)) = ids(&trace_id, &id) else {
        return refuse(r);
    };
    let parent_id = match parent_id.flatten() {
        None => None,
        Some(p) if p.is_empty() => None,
        Some(p) if p.len() != 16 => return refuse(r),
        Some(p) => match parse_hex::<8>(&p, "") {
            Ok(p) => Some(p),
            Err(_) => return refuse(r),
        },
    };
    let kind = match kind.flatten() {
        None => None,
        Some(k) if k.is_empty() => None,
        Some(k) => match Kind::parse(&k) {
            Some(k) => Some(k),
            None => return refuse(r),
        },
    };
    let (Some(local), Some(remote)) = (endpoint_in(local.as_ref()), endpoint_in(remote.as_ref()))
    else {
        return refuse(r);
    };
    let s = SpanIn {
        trace_id,
        id,
        parent_id,
        kind,
        name: name.as_ref().and_then(|n| n.as_deref()).unwrap_or(""),
        timestamp: timestamp.flatten().filter(|t| *t != 0),
        duration: duration.flatten().filter(|d| *d != 0),
        local,
        remote,
        shared: shared.flatten().unwrap_or(false),
    };
    b.add(&s, tags, annotations).or_else(|_| refuse(r))
}

/// The trace id and span id, checked as `crate::json` checks them.
fn ids(trace_id: &str, id: &str) -> Option<([u8; 16], [u8; 8])> {
    if !matches!(trace_id.len(), 16 | 32) || id.len() != 16 {
        return None;
    }
    let t = parse_hex::<16>(trace_id, "").ok()?;
    let i = parse_hex::<8>(id, "").ok()?;
    // All zeros is invalid (`model::check_ids`).
    (t != [0; 16] && i != [0; 8]).then_some((t, i))
}

/// As `crate::json::WireEndpoint`, borrowing.
#[derive(Default)]
struct Endpoint<'a> {
    service_name: Option<Cow<'a, str>>,
    ipv4: Option<Cow<'a, str>>,
    ipv6: Option<Cow<'a, str>>,
    port: Option<i64>,
}

fn endpoint<'a>(r: &mut Reader<'a>) -> Res<Endpoint<'a>> {
    let mut e = Endpoint::default();
    let mut seen = [false; 4];
    r.members(|r, key| {
        let n = match &*key {
            "serviceName" => 0,
            "ipv4" => 1,
            "ipv6" => 2,
            "port" => 3,
            _ => return r.skip(),
        };
        if std::mem::replace(&mut seen[n], true) {
            return refuse(r);
        }
        match n {
            0 => e.service_name = nullable(r, Reader::string)?,
            1 => e.ipv4 = nullable(r, Reader::string)?,
            2 => e.ipv6 = nullable(r, Reader::string)?,
            _ => e.port = nullable(r, Reader::plain_integer)?,
        }
        Ok(())
    })?;
    Ok(e)
}

/// As `crate::json::WireAnnotation`: both fields required, neither null.
fn annotation<'a>(r: &mut Reader<'a>) -> Res<(u64, Cow<'a, str>)> {
    let (mut timestamp, mut value) = (None, None);
    r.members(|r, key| match &*key {
        "timestamp" => field(r, &mut timestamp, Reader::plain_u64),
        "value" => field(r, &mut value, Reader::string),
        _ => r.skip(),
    })?;
    match (timestamp, value) {
        (Some(t), Some(v)) => Ok((t, v)),
        _ => refuse(r),
    }
}

/// The endpoint as the builder takes it: `Some(None)` for none or an empty one, `None` for
/// one the reference decides (an address or port it would refuse).
fn endpoint_in<'e>(e: Option<&'e Option<Endpoint<'_>>>) -> Option<Option<EndpointIn<'e>>> {
    let Some(Some(e)) = e else { return Some(None) };
    fn ip<'s>(s: &'s Option<Cow<'_, str>>) -> Option<&'s str> {
        s.as_deref().filter(|s| !s.is_empty())
    }
    let ipv4 = match ip(&e.ipv4) {
        None => None,
        Some(s) => Some(s.parse::<Ipv4Addr>().ok()?),
    };
    let ipv6 = match ip(&e.ipv6) {
        None => None,
        Some(s) => Some(s.parse::<Ipv6Addr>().ok()?),
    };
    let port = match e.port {
        None => 0,
        Some(p) => u16::try_from(p).ok()?,
    };
    Some(
        EndpointIn {
            service_name: e.service_name.as_deref().unwrap_or(""),
            ipv4,
            ipv6,
            port,
        }
        .non_empty(),
    )
}
