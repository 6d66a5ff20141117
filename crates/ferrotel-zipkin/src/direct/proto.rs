//! Zipkin v2 protobuf (`ListOfSpans`) read in place for the direct path: the same checks as
//! `crate::proto`, strings borrowed from the body. Fields the reference decoder would skip
//! (unknown numbers), merge (a message field twice) or take the last of (a scalar twice) are
//! refused, as is any error: the reference path then decides.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::pb::{FIXED64, LEN, Rd, VARINT};
use super::{Builder, EndpointIn, SpanIn};
use crate::model::Kind;

pub(super) fn decode(body: &[u8], b: &mut Builder) -> Option<()> {
    let mut r = Rd(body);
    let mut tags: Vec<(&str, &str)> = Vec::new();
    let mut annotations: Vec<(u64, &str)> = Vec::new();
    while !r.is_empty() {
        if r.key()? != (1, LEN) {
            return None;
        }
        let s = span(r.bytes()?, &mut tags, &mut annotations)?;
        b.add(&s, &mut tags, &annotations).ok()?;
    }
    Some(())
}

/// Reads one `Span`, its tags and annotations into the (cleared) scratch vectors.
fn span<'a>(
    body: &'a [u8],
    tags: &mut Vec<(&'a str, &'a str)>,
    annotations: &mut Vec<(u64, &'a str)>,
) -> Option<SpanIn<'a>> {
    tags.clear();
    annotations.clear();
    let mut r = Rd(body);
    let mut seen = 0u32;
    let (mut trace_id, mut parent_id, mut id): (&[u8], &[u8], &[u8]) = (&[], &[], &[]);
    let (mut kind, mut name, mut timestamp, mut duration) = (0u64, "", 0u64, 0u64);
    let (mut local, mut remote, mut debug_shared) = (None, None, (false, false));
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        // Repeated fields (10, 11) may come many times; any other field once.
        if field != 10 && field != 11 {
            let bit = 1u32.checked_shl(field as u32)?;
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
        }
        match (field, wt) {
            (1, LEN) => trace_id = r.bytes()?,
            (2, LEN) => parent_id = r.bytes()?,
            (3, LEN) => id = r.bytes()?,
            (4, VARINT) => kind = r.varint()?,
            (5, LEN) => name = r.str()?,
            (6, FIXED64) => timestamp = r.fixed64()?,
            (7, VARINT) => duration = r.varint()?,
            (8, LEN) => local = Some(endpoint(r.bytes()?)?),
            (9, LEN) => remote = Some(endpoint(r.bytes()?)?),
            (10, LEN) => annotations.push(annotation(r.bytes()?)?),
            (11, LEN) => tags.push(entry(r.bytes()?)?),
            (12, VARINT) => debug_shared.0 = r.varint()? != 0,
            (13, VARINT) => debug_shared.1 = r.varint()? != 0,
            _ => return None,
        }
    }
    let trace_id = match trace_id.len() {
        8 => {
            let mut t = [0u8; 16];
            t[8..].copy_from_slice(trace_id);
            t
        }
        _ => <[u8; 16]>::try_from(trace_id).ok()?,
    };
    let id = <[u8; 8]>::try_from(id).ok()?;
    let parent_id = match parent_id.len() {
        0 => None,
        _ => Some(<[u8; 8]>::try_from(parent_id).ok()?),
    };
    let kind = match kind {
        0 => None,
        1 => Some(Kind::Client),
        2 => Some(Kind::Server),
        3 => Some(Kind::Producer),
        4 => Some(Kind::Consumer),
        _ => return None,
    };
    if trace_id == [0; 16] || id == [0; 8] {
        return None;
    }
    Some(SpanIn {
        trace_id,
        id,
        parent_id,
        kind,
        name,
        timestamp: (timestamp != 0).then_some(timestamp),
        duration: (duration != 0).then_some(duration),
        local: local.and_then(EndpointIn::non_empty),
        remote: remote.and_then(EndpointIn::non_empty),
        shared: debug_shared.1,
    })
}

fn endpoint(body: &[u8]) -> Option<EndpointIn<'_>> {
    let mut r = Rd(body);
    let mut seen = 0u8;
    let mut e = EndpointIn {
        service_name: "",
        ipv4: None,
        ipv6: None,
        port: 0,
    };
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        let bit = 1u8.checked_shl(field as u32)?;
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        match (field, wt) {
            (1, LEN) => e.service_name = r.str()?,
            (2, LEN) => {
                let b = r.bytes()?;
                if !b.is_empty() {
                    e.ipv4 = Some(Ipv4Addr::from(<[u8; 4]>::try_from(b).ok()?));
                }
            }
            (3, LEN) => {
                let b = r.bytes()?;
                if !b.is_empty() {
                    e.ipv6 = Some(Ipv6Addr::from(<[u8; 16]>::try_from(b).ok()?));
                }
            }
            // int32 on the wire: anything but 0..=65535 is the reference's to judge.
            (4, VARINT) => e.port = u16::try_from(r.varint()?).ok()?,
            _ => return None,
        }
    }
    Some(e)
}

fn annotation(body: &[u8]) -> Option<(u64, &str)> {
    let mut r = Rd(body);
    let (mut t, mut v) = (None, None);
    while !r.is_empty() {
        match r.key()? {
            (1, FIXED64) if t.is_none() => t = Some(r.fixed64()?),
            (2, LEN) if v.is_none() => v = Some(r.str()?),
            _ => return None,
        }
    }
    Some((t.unwrap_or(0), v.unwrap_or("")))
}

/// A `map<string, string>` entry; a missing key or value is empty, as in prost.
fn entry(body: &[u8]) -> Option<(&str, &str)> {
    let mut r = Rd(body);
    let (mut k, mut v) = (None, None);
    while !r.is_empty() {
        match r.key()? {
            (1, LEN) if k.is_none() => k = Some(r.str()?),
            (2, LEN) if v.is_none() => v = Some(r.str()?),
            _ => return None,
        }
    }
    Some((k.unwrap_or(""), v.unwrap_or("")))
}
