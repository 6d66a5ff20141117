//! Zipkin v2 protobuf (`application/x-protobuf`, zipkin.proto's `ListOfSpans`), with prost's
//! derive on the few messages (the workspace generates no code at build time for them).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use prost::Message;

use crate::model::{Annotation, Endpoint, Kind, Span, check_ids};

#[derive(Clone, PartialEq, Message)]
pub struct ListOfSpans {
    #[prost(message, repeated, tag = "1")]
    pub spans: Vec<PSpan>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PSpan {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub parent_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub id: Vec<u8>,
    /// 0 unspecified, 1 CLIENT, 2 SERVER, 3 PRODUCER, 4 CONSUMER.
    #[prost(int32, tag = "4")]
    pub kind: i32,
    #[prost(string, tag = "5")]
    pub name: String,
    #[prost(fixed64, tag = "6")]
    pub timestamp: u64,
    #[prost(uint64, tag = "7")]
    pub duration: u64,
    #[prost(message, optional, tag = "8")]
    pub local_endpoint: Option<PEndpoint>,
    #[prost(message, optional, tag = "9")]
    pub remote_endpoint: Option<PEndpoint>,
    #[prost(message, repeated, tag = "10")]
    pub annotations: Vec<PAnnotation>,
    #[prost(btree_map = "string, string", tag = "11")]
    pub tags: BTreeMap<String, String>,
    #[prost(bool, tag = "12")]
    pub debug: bool,
    #[prost(bool, tag = "13")]
    pub shared: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct PEndpoint {
    #[prost(string, tag = "1")]
    pub service_name: String,
    #[prost(bytes = "vec", tag = "2")]
    pub ipv4: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub ipv6: Vec<u8>,
    #[prost(int32, tag = "4")]
    pub port: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct PAnnotation {
    #[prost(fixed64, tag = "1")]
    pub timestamp: u64,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error("invalid Zipkin protobuf (zipkin.proto3.ListOfSpans): {0}")]
    Protobuf(String),
    #[error("span[{0}]: {1}")]
    Span(usize, String),
}

fn endpoint(e: Option<PEndpoint>, what: &str) -> Result<Option<Endpoint>, String> {
    let Some(e) = e else { return Ok(None) };
    let ipv4 = match e.ipv4.len() {
        0 => None,
        4 => Some(Ipv4Addr::new(e.ipv4[0], e.ipv4[1], e.ipv4[2], e.ipv4[3])),
        n => return Err(format!("{what}.ipv4 has {n} bytes, not 4")),
    };
    let ipv6 = match <[u8; 16]>::try_from(e.ipv6.as_slice()) {
        _ if e.ipv6.is_empty() => None,
        Ok(b) => Some(Ipv6Addr::from(b)),
        Err(_) => return Err(format!("{what}.ipv6 has {} bytes, not 16", e.ipv6.len())),
    };
    let port =
        u16::try_from(e.port).map_err(|_| format!("{what}.port {} is not a port", e.port))?;
    let ep = Endpoint {
        service_name: e.service_name,
        ipv4,
        ipv6,
        port,
    };
    Ok((!ep.is_empty()).then_some(ep))
}

fn convert(p: PSpan) -> Result<Span, String> {
    let trace_id = match p.trace_id.len() {
        8 => {
            let mut t = [0u8; 16];
            t[8..].copy_from_slice(&p.trace_id);
            t
        }
        16 => <[u8; 16]>::try_from(p.trace_id.as_slice()).unwrap_or_default(),
        n => return Err(format!("trace_id has {n} bytes, not 8 or 16")),
    };
    let id = <[u8; 8]>::try_from(p.id.as_slice())
        .map_err(|_| format!("id has {} bytes, not 8", p.id.len()))?;
    let parent_id = match p.parent_id.len() {
        0 => None,
        _ => Some(
            <[u8; 8]>::try_from(p.parent_id.as_slice())
                .map_err(|_| format!("parent_id has {} bytes, not 8", p.parent_id.len()))?,
        ),
    };
    let kind = match p.kind {
        0 => None,
        1 => Some(Kind::Client),
        2 => Some(Kind::Server),
        3 => Some(Kind::Producer),
        4 => Some(Kind::Consumer),
        k => return Err(format!("kind {k} is not a Zipkin span kind (0 to 4)")),
    };
    let span = Span {
        trace_id,
        id,
        parent_id,
        kind,
        name: p.name,
        timestamp: (p.timestamp != 0).then_some(p.timestamp),
        duration: (p.duration != 0).then_some(p.duration),
        local_endpoint: endpoint(p.local_endpoint, "local_endpoint")?,
        remote_endpoint: endpoint(p.remote_endpoint, "remote_endpoint")?,
        annotations: p
            .annotations
            .into_iter()
            .map(|a| Annotation {
                timestamp: a.timestamp,
                value: a.value,
            })
            .collect(),
        tags: p.tags.into_iter().collect(),
        debug: p.debug,
        shared: p.shared,
    };
    check_ids(&span)?;
    Ok(span)
}

/// Decodes a `ListOfSpans` body.
pub fn decode(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let list = ListOfSpans::decode(body).map_err(|e| DecodeError::Protobuf(e.to_string()))?;
    list.spans
        .into_iter()
        .enumerate()
        .map(|(i, p)| convert(p).map_err(|m| DecodeError::Span(i, m)))
        .collect()
}

fn out_endpoint(e: &Option<Endpoint>) -> Option<PEndpoint> {
    let e = e.as_ref()?;
    Some(PEndpoint {
        service_name: e.service_name.clone(),
        ipv4: e.ipv4.map(|a| a.octets().to_vec()).unwrap_or_default(),
        ipv6: e.ipv6.map(|a| a.octets().to_vec()).unwrap_or_default(),
        port: i32::from(e.port),
    })
}

/// Encodes spans as a `ListOfSpans`; a 64-bit trace id goes out as 8 bytes.
pub fn encode(spans: &[Span]) -> Vec<u8> {
    let list = ListOfSpans {
        spans: spans
            .iter()
            .map(|s| PSpan {
                trace_id: if s.trace_id[..8] == [0; 8] {
                    s.trace_id[8..].to_vec()
                } else {
                    s.trace_id.to_vec()
                },
                parent_id: s.parent_id.map(|p| p.to_vec()).unwrap_or_default(),
                id: s.id.to_vec(),
                kind: match s.kind {
                    None => 0,
                    Some(Kind::Client) => 1,
                    Some(Kind::Server) => 2,
                    Some(Kind::Producer) => 3,
                    Some(Kind::Consumer) => 4,
                },
                name: s.name.clone(),
                timestamp: s.timestamp.unwrap_or(0),
                duration: s.duration.unwrap_or(0),
                local_endpoint: out_endpoint(&s.local_endpoint),
                remote_endpoint: out_endpoint(&s.remote_endpoint),
                annotations: s
                    .annotations
                    .iter()
                    .map(|a| PAnnotation {
                        timestamp: a.timestamp,
                        value: a.value.clone(),
                    })
                    .collect(),
                tags: s.tags.iter().cloned().collect(),
                debug: s.debug,
                shared: s.shared,
            })
            .collect(),
    };
    list.encode_to_vec()
}
