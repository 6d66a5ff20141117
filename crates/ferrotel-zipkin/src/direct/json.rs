//! Zipkin v2 JSON read for the direct path: serde_json's parser, driven span by span (a
//! `DeserializeSeed` per span instead of a `Vec` of owned spans), strings borrowed from the
//! body unless they hold escapes. The same checks as `crate::json`; whatever that decoder
//! would reject, or would take in a way this one does not (tag values that are numbers or
//! booleans, a span written as an array), is refused and left to it.

use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{Builder, EndpointIn, SpanIn};
use crate::model::{Kind, parse_hex};

pub(super) fn decode(body: &[u8], b: &mut Builder) -> Option<()> {
    let mut d = serde_json::Deserializer::from_slice(body);
    d.deserialize_seq(List {
        b,
        tags: Vec::new(),
        annotations: Vec::new(),
    })
    .ok()?;
    d.end().ok()
}

/// A string, borrowed from the body when it has no escapes.
struct Str<'de>(Cow<'de, str>);

// `'de: 'a` so that derived structs can hold it under `#[serde(borrow)]`.
impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// As `crate::json::WireEndpoint`, borrowing.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Endpoint<'a> {
    #[serde(default, borrow)]
    service_name: Option<Str<'a>>,
    #[serde(default, borrow)]
    ipv4: Option<Str<'a>>,
    #[serde(default, borrow)]
    ipv6: Option<Str<'a>>,
    #[serde(default)]
    port: Option<i64>,
}

#[derive(Deserialize)]
struct Annotation<'a> {
    timestamp: u64,
    #[serde(borrow)]
    value: Str<'a>,
}

type Tags<'de> = Vec<(Cow<'de, str>, Cow<'de, str>)>;
type Annotations<'de> = Vec<(u64, Cow<'de, str>)>;

/// The top-level list: one span at a time into the builder, scratch reused.
struct List<'b, 'de> {
    b: &'b mut Builder,
    tags: Tags<'de>,
    annotations: Annotations<'de>,
}

impl<'de> Visitor<'de> for List<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of spans")
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(SpanSeed {
                b: self.b,
                tags: &mut self.tags,
                annotations: &mut self.annotations,
            })?
            .is_some()
        {}
        Ok(())
    }
}

struct SpanSeed<'s, 'de> {
    b: &'s mut Builder,
    tags: &'s mut Tags<'de>,
    annotations: &'s mut Annotations<'de>,
}

impl<'de> DeserializeSeed<'de> for SpanSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

/// Any refusal; the message is never shown (the reference decoder's is).
fn refuse<E: de::Error>() -> E {
    E::custom("left to the reference decoder")
}

/// The next value into `slot`, refusing a field given twice.
fn once<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(refuse());
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

impl<'de> Visitor<'de> for SpanSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a span")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.tags.clear();
        self.annotations.clear();
        let mut trace_id: Option<Str> = None;
        let mut id: Option<Str> = None;
        let mut parent_id: Option<Option<Str>> = None;
        let mut kind: Option<Option<Str>> = None;
        let mut name: Option<Option<Str>> = None;
        let mut timestamp: Option<Option<u64>> = None;
        let mut duration: Option<Option<u64>> = None;
        let mut local: Option<Option<Endpoint>> = None;
        let mut remote: Option<Option<Endpoint>> = None;
        let mut flags: [Option<Option<bool>>; 2] = [None, None];
        let (mut has_tags, mut has_annotations) = (false, false);
        while let Some(k) = map.next_key::<Str>()? {
            match &*k.0 {
                "traceId" => once(&mut map, &mut trace_id)?,
                "id" => once(&mut map, &mut id)?,
                "parentId" => once(&mut map, &mut parent_id)?,
                "kind" => once(&mut map, &mut kind)?,
                "name" => once(&mut map, &mut name)?,
                "timestamp" => once(&mut map, &mut timestamp)?,
                "duration" => once(&mut map, &mut duration)?,
                "localEndpoint" => once(&mut map, &mut local)?,
                "remoteEndpoint" => once(&mut map, &mut remote)?,
                "debug" => once(&mut map, &mut flags[0])?,
                "shared" => once(&mut map, &mut flags[1])?,
                "tags" if !has_tags => {
                    has_tags = true;
                    map.next_value_seed(TagsSeed(self.tags))?;
                }
                "annotations" if !has_annotations => {
                    has_annotations = true;
                    map.next_value_seed(AnnotationsSeed(self.annotations))?;
                }
                "tags" | "annotations" => return Err(refuse()),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let (Some(trace_id), Some(id)) = (trace_id, id) else {
            return Err(refuse());
        };
        let (trace_id, id) = ids(&trace_id.0, &id.0).ok_or_else(refuse)?;
        let s = SpanIn {
            trace_id,
            id,
            parent_id: match parent_id.flatten() {
                None => None,
                Some(p) if p.0.is_empty() => None,
                Some(p) if p.0.len() != 16 => return Err(refuse()),
                Some(p) => Some(parse_hex::<8>(&p.0, "").map_err(|_| refuse())?),
            },
            kind: match kind.flatten() {
                None => None,
                Some(k) if k.0.is_empty() => None,
                Some(k) => Some(Kind::parse(&k.0).ok_or_else(refuse)?),
            },
            name: name.as_ref().and_then(|n| n.as_ref()).map_or("", |n| &n.0),
            timestamp: timestamp.flatten().filter(|t| *t != 0),
            duration: duration.flatten().filter(|d| *d != 0),
            local: endpoint(local.as_ref())?,
            remote: endpoint(remote.as_ref())?,
            shared: flags[1].flatten().unwrap_or(false),
        };
        self.b
            .add(&s, self.tags, self.annotations)
            .map_err(|_| refuse())
    }
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

fn endpoint<'e, E: de::Error>(
    e: Option<&'e Option<Endpoint<'_>>>,
) -> Result<Option<EndpointIn<'e>>, E> {
    let Some(Some(e)) = e else { return Ok(None) };
    fn ip<'s>(s: &'s Option<Str<'_>>) -> Option<&'s str> {
        s.as_ref().map(|s| &*s.0).filter(|s| !s.is_empty())
    }
    let ipv4 = match ip(&e.ipv4) {
        None => None,
        Some(s) => Some(s.parse::<Ipv4Addr>().map_err(|_| refuse())?),
    };
    let ipv6 = match ip(&e.ipv6) {
        None => None,
        Some(s) => Some(s.parse::<Ipv6Addr>().map_err(|_| refuse())?),
    };
    let port = match e.port {
        None => 0,
        Some(p) => u16::try_from(p).map_err(|_| refuse())?,
    };
    Ok(EndpointIn {
        service_name: e.service_name.as_ref().map_or("", |s| &s.0),
        ipv4,
        ipv6,
        port,
    }
    .non_empty())
}

/// `tags`: null or an object of string values into the scratch.
struct TagsSeed<'s, 'de>(&'s mut Tags<'de>);

impl<'de> DeserializeSeed<'de> for TagsSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for TagsSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("tags")
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some((k, v)) = map.next_entry::<Str, Str>()? {
            self.0.push((k.0, v.0));
        }
        Ok(())
    }
}

/// `annotations`: null or a list into the scratch.
struct AnnotationsSeed<'s, 'de>(&'s mut Annotations<'de>);

impl<'de> DeserializeSeed<'de> for AnnotationsSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for AnnotationsSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("annotations")
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(a) = seq.next_element::<Annotation>()? {
            self.0.push((a.timestamp, a.value.0));
        }
        Ok(())
    }
}
