//! Zipkin v1 (`/api/v1/spans`, zipkin-api.yaml and zipkincore.thrift), in JSON and in Thrift
//! ([`thrift`]): spans whose kind, times and endpoints live in "core" annotations (`cs`, `sr`,
//! `ss`, `cr`, `ms`, `mr`) and address binary annotations (`ca`, `sa`, `ma`). Both formats read
//! into one [`V1Span`], converted to the v2 model as Zipkin's `V1SpanConverter` does: a span
//! carrying both client and server annotations (one id shared by both sides) becomes a client
//! span and a `shared` server span.

pub mod thrift;

use serde::Deserialize;

use crate::json::{TagValue, WireEndpoint, endpoint};
use crate::model::{Annotation, Endpoint, Kind, Span, check_ids, parse_hex};

pub use crate::json::DecodeError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonSpan {
    trace_id: String,
    id: String,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    timestamp: Option<u64>,
    #[serde(default)]
    duration: Option<u64>,
    #[serde(default)]
    annotations: Option<Vec<JsonAnnotation>>,
    #[serde(default)]
    binary_annotations: Option<Vec<JsonBinary>>,
    #[serde(default)]
    debug: Option<bool>,
}

#[derive(Deserialize)]
struct JsonAnnotation {
    timestamp: u64,
    value: String,
    #[serde(default)]
    endpoint: Option<WireEndpoint>,
}

#[derive(Deserialize)]
struct JsonBinary {
    key: String,
    value: TagValue,
    #[serde(default)]
    endpoint: Option<WireEndpoint>,
}

/// A v1 span as either wire format gives it: ids and endpoints checked, annotations (core ones
/// included) and binary annotations (values as text) in the order sent.
#[derive(Debug, Clone, Default)]
pub struct V1Span {
    pub trace_id: [u8; 16],
    pub id: [u8; 8],
    pub parent_id: Option<[u8; 8]>,
    pub name: String,
    pub timestamp: Option<u64>,
    pub duration: Option<u64>,
    pub annotations: Vec<(Annotation, Option<Endpoint>)>,
    /// Key, value, endpoint.
    pub binary_annotations: Vec<(String, String, Option<Endpoint>)>,
    pub debug: bool,
}

fn from_json(v: JsonSpan) -> Result<V1Span, String> {
    if !matches!(v.trace_id.len(), 16 | 32) {
        return Err(format!(
            "traceId {:?} must be 16 or 32 hex characters",
            v.trace_id
        ));
    }
    let trace_id = parse_hex::<16>(&v.trace_id, "traceId")?;
    let (id, parent_id) = crate::json::span_ids(&v.id, v.parent_id.as_deref())?;
    let annotations = v
        .annotations
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let ep = endpoint(a.endpoint, &format!("annotations[{i}].endpoint"))?;
            let note = Annotation {
                timestamp: a.timestamp,
                value: a.value,
            };
            Ok((note, ep))
        })
        .collect::<Result<_, String>>()?;
    let binary_annotations = v
        .binary_annotations
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            let ep = endpoint(b.endpoint, &format!("binaryAnnotations[{i}].endpoint"))?;
            Ok((b.key, b.value.into_string(), ep))
        })
        .collect::<Result<_, String>>()?;
    Ok(V1Span {
        trace_id,
        id,
        parent_id,
        name: v.name.unwrap_or_default(),
        timestamp: v.timestamp,
        duration: v.duration,
        annotations,
        binary_annotations,
        debug: v.debug.unwrap_or(false),
    })
}

/// The start and end annotations of one side of an RPC or message.
#[derive(Default)]
struct Side {
    start: Option<(u64, Option<Endpoint>)>,
    end: Option<(u64, Option<Endpoint>)>,
}

impl Side {
    fn present(&self) -> bool {
        self.start.is_some() || self.end.is_some()
    }

    fn endpoint(&self) -> Option<Endpoint> {
        self.start
            .as_ref()
            .and_then(|s| s.1.clone())
            .or_else(|| self.end.as_ref().and_then(|e| e.1.clone()))
    }

    fn times(&self) -> (Option<u64>, Option<u64>) {
        let start = self.start.as_ref().map(|s| s.0);
        let end = self.end.as_ref().map(|e| e.0);
        let dur = match (start, end) {
            (Some(s), Some(e)) if e >= s => Some(e - s),
            _ => None,
        };
        (start, dur)
    }
}

/// One v1 span as one or more v2 spans (V1SpanConverter's rules), appended to `out`.
pub(crate) fn convert(v: V1Span, out: &mut Vec<Span>) -> Result<(), String> {
    let (mut client, mut server, mut producer, mut consumer) = Default::default();
    let mut annotations = Vec::new();
    let mut first_endpoint: Option<Endpoint> = None;
    for (a, ep) in v.annotations {
        if first_endpoint.is_none() {
            first_endpoint.clone_from(&ep);
        }
        let (side, is_start): (&mut Side, bool) = match a.value.as_str() {
            "cs" => (&mut client, true),
            "cr" => (&mut client, false),
            "sr" => (&mut server, true),
            "ss" => (&mut server, false),
            "ms" => (&mut producer, true),
            "mr" => (&mut consumer, true),
            _ => {
                annotations.push(a);
                continue;
            }
        };
        let slot = if is_start {
            &mut side.start
        } else {
            &mut side.end
        };
        *slot = Some((a.timestamp, ep));
    }
    let (mut ca, mut sa, mut ma) = (None, None, None);
    let mut tags = Vec::new();
    for (key, value, ep) in v.binary_annotations {
        match key.as_str() {
            "ca" => ca = ep,
            "sa" => sa = ep,
            "ma" => ma = ep,
            _ => {
                if first_endpoint.is_none() {
                    first_endpoint.clone_from(&ep);
                }
                tags.push((key, value));
            }
        }
    }
    let base = Span {
        trace_id: v.trace_id,
        id: v.id,
        parent_id: v.parent_id,
        name: v.name,
        debug: v.debug,
        ..Span::default()
    };
    check_ids(&base)?;
    // The sides present, in V1SpanConverter's order; the first gets the annotations and tags.
    let mut sides: Vec<(Kind, Side, Option<Endpoint>)> = Vec::new();
    if client.present() {
        sides.push((Kind::Client, client, sa.clone()));
    }
    if server.present() {
        sides.push((Kind::Server, server, ca.clone()));
    }
    if producer.present() {
        sides.push((Kind::Producer, producer, ma.clone()));
    }
    if consumer.present() {
        sides.push((Kind::Consumer, consumer, ma.clone()));
    }
    if sides.is_empty() {
        // A local span, or one whose address annotations alone say who the peer was.
        out.push(Span {
            timestamp: v.timestamp,
            duration: v.duration,
            local_endpoint: first_endpoint,
            remote_endpoint: sa.or(ca).or(ma),
            annotations,
            tags,
            ..base
        });
        return Ok(());
    }
    let several = sides.len() > 1;
    for (i, (kind, side, remote)) in sides.into_iter().enumerate() {
        let (start, dur) = side.times();
        let mut s = Span {
            kind: Some(kind),
            // The span-level times belong to the side that started the span (the client).
            timestamp: if i == 0 { v.timestamp.or(start) } else { start },
            duration: if i == 0 && !several {
                v.duration.or(dur)
            } else {
                dur
            },
            local_endpoint: side.endpoint().or_else(|| first_endpoint.clone()),
            remote_endpoint: remote,
            // The server half of a client+server span shares the client's id.
            shared: i > 0 && kind == Kind::Server,
            ..base.clone()
        };
        if i == 0 {
            s.annotations = std::mem::take(&mut annotations);
            s.tags = std::mem::take(&mut tags);
        }
        out.push(s);
    }
    Ok(())
}

/// Decodes a v1 JSON body (a list of v1 spans).
pub fn decode(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let wire: Vec<JsonSpan> =
        serde_json::from_slice(body).map_err(|e| DecodeError::Syntax(e.to_string()))?;
    let mut out = Vec::with_capacity(wire.len());
    for (i, w) in wire.into_iter().enumerate() {
        from_json(w)
            .and_then(|v| convert(v, &mut out))
            .map_err(|m| DecodeError::Span(i, m))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
