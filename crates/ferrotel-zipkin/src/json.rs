//! Zipkin v2 JSON (`application/json`, zipkin2-api.yaml): a list of spans. Decoding is strict
//! about ids and types and names the span and field that is wrong; tag values that are
//! numbers or booleans (some tracers send them) are taken as their text.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::model::{Annotation, Endpoint, Kind, Span, check_ids, hex, parse_hex, trace_id_hex};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error("invalid Zipkin JSON: {0}")]
    Syntax(String),
    #[error("span[{0}]: {1}")]
    Span(usize, String),
    #[error("invalid Zipkin Thrift: {0}")]
    Thrift(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireSpan {
    trace_id: String,
    id: String,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    timestamp: Option<u64>,
    #[serde(default)]
    duration: Option<u64>,
    #[serde(default)]
    local_endpoint: Option<WireEndpoint>,
    #[serde(default)]
    remote_endpoint: Option<WireEndpoint>,
    #[serde(default)]
    annotations: Option<Vec<WireAnnotation>>,
    #[serde(default)]
    tags: Option<BTreeMap<String, TagValue>>,
    #[serde(default)]
    debug: Option<bool>,
    #[serde(default)]
    shared: Option<bool>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireEndpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
}

#[derive(Deserialize)]
struct WireAnnotation {
    timestamp: u64,
    value: String,
}

/// A tag value: Zipkin says string, some tracers send numbers and booleans.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum TagValue {
    S(String),
    B(bool),
    N(serde_json::Number),
}

impl TagValue {
    pub(crate) fn into_string(self) -> String {
        match self {
            TagValue::S(s) => s,
            TagValue::B(b) => b.to_string(),
            TagValue::N(n) => n.to_string(),
        }
    }
}

pub(crate) fn endpoint(e: Option<WireEndpoint>, what: &str) -> Result<Option<Endpoint>, String> {
    let Some(e) = e else { return Ok(None) };
    let ipv4 = match e.ipv4.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            s.parse::<Ipv4Addr>()
                .map_err(|_| format!("{what}.ipv4 {s:?} is not an IPv4 address"))?,
        ),
    };
    let ipv6 = match e.ipv6.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            s.parse::<Ipv6Addr>()
                .map_err(|_| format!("{what}.ipv6 {s:?} is not an IPv6 address"))?,
        ),
    };
    let port = match e.port {
        None => 0,
        Some(p) => u16::try_from(p).map_err(|_| format!("{what}.port {p} is not a port"))?,
    };
    let ep = Endpoint {
        // Zipkin lower-cases service names; keep what was sent (the Go receiver does too).
        service_name: e.service_name.unwrap_or_default(),
        ipv4,
        ipv6,
        port,
    };
    Ok((!ep.is_empty()).then_some(ep))
}

fn convert(w: WireSpan) -> Result<Span, String> {
    let trace_id = parse_hex::<16>(&w.trace_id, "traceId")?;
    if !matches!(w.trace_id.len(), 16 | 32) {
        return Err(format!(
            "traceId {:?} must be 16 or 32 hex characters",
            w.trace_id
        ));
    }
    let (id, parent_id) = span_ids(&w.id, w.parent_id.as_deref())?;
    let kind = match w.kind.as_deref() {
        None | Some("") => None,
        Some(k) => Some(Kind::parse(k).ok_or_else(|| {
            format!("kind {k:?} is not one of CLIENT, SERVER, PRODUCER, CONSUMER")
        })?),
    };
    let span = Span {
        trace_id,
        id,
        parent_id,
        kind,
        name: w.name.unwrap_or_default(),
        timestamp: w.timestamp.filter(|t| *t != 0),
        duration: w.duration.filter(|d| *d != 0),
        local_endpoint: endpoint(w.local_endpoint, "localEndpoint")?,
        remote_endpoint: endpoint(w.remote_endpoint, "remoteEndpoint")?,
        annotations: w
            .annotations
            .unwrap_or_default()
            .into_iter()
            .map(|a| Annotation {
                timestamp: a.timestamp,
                value: a.value,
            })
            .collect(),
        tags: w
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.into_string()))
            .collect(),
        debug: w.debug.unwrap_or(false),
        shared: w.shared.unwrap_or(false),
    };
    check_ids(&span)?;
    Ok(span)
}

/// Decodes a v2 JSON body (a list of spans).
pub fn decode(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let wire: Vec<WireSpan> =
        serde_json::from_slice(body).map_err(|e| DecodeError::Syntax(e.to_string()))?;
    wire.into_iter()
        .enumerate()
        .map(|(i, w)| convert(w).map_err(|m| DecodeError::Span(i, m)))
        .collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutSpan<'a> {
    trace_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_id: Option<String>,
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    local_endpoint: Option<WireEndpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_endpoint: Option<WireEndpoint>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    annotations: Vec<OutAnnotation<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    debug: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    shared: bool,
}

#[derive(Serialize)]
struct OutAnnotation<'a> {
    timestamp: u64,
    value: &'a str,
}

fn out_endpoint(e: &Option<Endpoint>) -> Option<WireEndpoint> {
    let e = e.as_ref()?;
    Some(WireEndpoint {
        service_name: (!e.service_name.is_empty()).then(|| e.service_name.clone()),
        ipv4: e.ipv4.map(|a| a.to_string()),
        ipv6: e.ipv6.map(|a| a.to_string()),
        port: (e.port != 0).then_some(i64::from(e.port)),
    })
}

/// Encodes spans as a v2 JSON list; fields that are empty are left out, as the
/// specification asks.
pub fn encode(spans: &[Span]) -> Vec<u8> {
    let out: Vec<OutSpan<'_>> = spans
        .iter()
        .map(|s| OutSpan {
            trace_id: trace_id_hex(&s.trace_id),
            parent_id: s.parent_id.map(|p| hex(&p)),
            id: hex(&s.id),
            kind: s.kind.map(Kind::as_str),
            name: &s.name,
            timestamp: s.timestamp,
            duration: s.duration,
            local_endpoint: out_endpoint(&s.local_endpoint),
            remote_endpoint: out_endpoint(&s.remote_endpoint),
            annotations: s
                .annotations
                .iter()
                .map(|a| OutAnnotation {
                    timestamp: a.timestamp,
                    value: &a.value,
                })
                .collect(),
            tags: s
                .tags
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            debug: s.debug,
            shared: s.shared,
        })
        .collect();
    // Serializing plain structs of strings and integers cannot fail.
    serde_json::to_vec(&out).unwrap_or_default()
}

/// A span's `id` and `parentId` (absent or empty: none), each exactly 16 hex characters, as
/// v2 JSON and v1 (JSON and Thrift's model) both require.
pub(crate) fn span_ids(
    id: &str,
    parent_id: Option<&str>,
) -> Result<([u8; 8], Option<[u8; 8]>), String> {
    if id.len() != 16 {
        return Err(format!("id {id:?} must be 16 hex characters"));
    }
    let id = parse_hex::<8>(id, "id")?;
    let parent_id = match parent_id {
        None | Some("") => None,
        Some(p) if p.len() != 16 => {
            return Err(format!("parentId {p:?} must be 16 hex characters"));
        }
        Some(p) => Some(parse_hex::<8>(p, "parentId")?),
    };
    Ok((id, parent_id))
}
