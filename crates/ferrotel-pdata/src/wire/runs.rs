//! A trace's spans kept apart from the resource and scope around them.
//!
//! `tail_sampling` holds traces for `decision_wait`. Cut as whole requests, every trace would
//! carry its own copy of the resource and scope: with a typical SDK resource (~350 bytes) and
//! 3–5 spans per trace that is a third of the memory. Here a request's resource and scope
//! fields are one shared [`TraceEnvelope`]; a trace holds only its span bytes ([`TraceRun`])
//! and a handle to it. A whole request is written again only when it is needed (the decision,
//! passing spans on).

use std::sync::Arc;

use bytes::Bytes;

use super::reader::{len_key, put_varint, varint_len};

/// The fields around a run of spans, as received: the request's own fields (other than its
/// resources), the resource-level fields (other than the scope list) and the scope-level
/// fields (other than the spans).
#[derive(Debug, PartialEq, Eq)]
pub struct TraceEnvelope {
    bytes: Box<[u8]>,
    request_end: u32,
    resource_end: u32,
}

impl TraceEnvelope {
    pub(crate) fn new(request: &[u8], resource: &[u8], scope: &[u8]) -> Self {
        let mut bytes = Vec::with_capacity(request.len() + resource.len() + scope.len());
        bytes.extend_from_slice(request);
        bytes.extend_from_slice(resource);
        bytes.extend_from_slice(scope);
        TraceEnvelope {
            bytes: bytes.into_boxed_slice(),
            request_end: request.len() as u32,
            resource_end: (request.len() + resource.len()) as u32,
        }
    }

    /// Request-level and resource-level fields: what one `ResourceSpans` group stands for.
    fn outer(&self) -> &[u8] {
        &self.bytes[..self.resource_end as usize]
    }

    fn request(&self) -> &[u8] {
        &self.bytes[..self.request_end as usize]
    }

    fn resource(&self) -> &[u8] {
        &self.bytes[self.request_end as usize..self.resource_end as usize]
    }

    fn scope(&self) -> &[u8] {
        &self.bytes[self.resource_end as usize..]
    }

    fn same_outer(a: &Arc<Self>, b: &Arc<Self>) -> bool {
        Arc::ptr_eq(a, b) || a.outer() == b.outer()
    }
}

/// Spans of one trace under one resource and scope: their `spans` fields (key, length, body)
/// exactly as received, in order.
#[derive(Debug, Clone)]
pub struct TraceRun {
    pub envelope: Arc<TraceEnvelope>,
    pub spans: Bytes,
}

/// The spans of one trace cut from one request (see [`super::split_trace_runs`]).
#[derive(Debug)]
pub struct TracePiece {
    pub trace_id: [u8; 16],
    pub runs: Vec<TraceRun>,
    /// Number of spans.
    pub spans: usize,
}

/// One `ResourceSpans` to write: its envelope (for the request and resource fields) and, per
/// scope, the runs under it.
struct Group<'r> {
    outer: &'r Arc<TraceEnvelope>,
    scopes: Vec<(&'r Arc<TraceEnvelope>, Vec<&'r Bytes>)>,
}

/// Groups runs under byte-identical resources, and within them byte-identical scopes, in
/// order of first appearance; spans keep their order within a group.
fn group(runs: &[TraceRun]) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for run in runs {
        let env = &run.envelope;
        let g = match groups
            .iter()
            .position(|g| TraceEnvelope::same_outer(g.outer, env))
        {
            Some(i) => &mut groups[i],
            None => {
                groups.push(Group {
                    outer: env,
                    scopes: Vec::new(),
                });
                groups.last_mut().expect("just pushed")
            }
        };
        match g
            .scopes
            .iter_mut()
            .find(|(s, _)| Arc::ptr_eq(s, env) || s.scope() == env.scope())
        {
            Some((_, spans)) => spans.push(&run.spans),
            None => g.scopes.push((env, vec![&run.spans])),
        }
    }
    groups
}

fn scope_len(env: &TraceEnvelope, spans: &[&Bytes]) -> usize {
    env.scope().len() + spans.iter().map(|s| s.len()).sum::<usize>()
}

fn resource_len(g: &Group<'_>) -> usize {
    g.outer.resource().len()
        + g.scopes
            .iter()
            .map(|(env, spans)| {
                let n = scope_len(env, spans);
                varint_len(len_key(2)) + varint_len(n as u64) + n
            })
            .sum::<usize>()
}

fn groups_len(groups: &[Group<'_>]) -> usize {
    groups
        .iter()
        .map(|g| {
            let n = resource_len(g);
            g.outer.request().len() + varint_len(len_key(1)) + varint_len(n as u64) + n
        })
        .sum()
}

/// Sizes of one run written alone: (scope content, resource content, whole request).
fn single_lens(run: &TraceRun) -> (usize, usize, usize) {
    let env = &run.envelope;
    let scope = env.scope().len() + run.spans.len();
    let resource = env.resource().len() + varint_len(len_key(2)) + varint_len(scope as u64) + scope;
    let total =
        env.request().len() + varint_len(len_key(1)) + varint_len(resource as u64) + resource;
    (scope, resource, total)
}

/// Size of [`encode_runs`]'s output, without writing it.
pub fn encoded_len(runs: &[TraceRun]) -> usize {
    match runs {
        [one] => single_lens(one).2,
        _ => groups_len(&group(runs)),
    }
}

/// Writes runs (of one or several traces, cut from one or several requests) as one
/// `ExportTraceServiceRequest`: each distinct resource once, each distinct scope once within
/// it, as [`super::coalesce_traces`] would.
pub fn encode_runs(runs: &[TraceRun]) -> Bytes {
    if let [run] = runs {
        // The common case (a trace from one request and scope), without grouping.
        let (scope, resource, total) = single_lens(run);
        let env = &run.envelope;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(env.request());
        put_varint(&mut out, len_key(1));
        put_varint(&mut out, resource as u64);
        out.extend_from_slice(env.resource());
        put_varint(&mut out, len_key(2));
        put_varint(&mut out, scope as u64);
        out.extend_from_slice(env.scope());
        out.extend_from_slice(&run.spans);
        return out.into();
    }
    let groups = group(runs);
    let mut out = Vec::with_capacity(groups_len(&groups));
    for g in &groups {
        out.extend_from_slice(g.outer.request());
        put_varint(&mut out, len_key(1));
        put_varint(&mut out, resource_len(g) as u64);
        out.extend_from_slice(g.outer.resource());
        for (env, spans) in &g.scopes {
            put_varint(&mut out, len_key(2));
            put_varint(&mut out, scope_len(env, spans) as u64);
            out.extend_from_slice(env.scope());
            for s in spans {
                out.extend_from_slice(s);
            }
        }
    }
    out.into()
}

/// Number of spans in the runs.
pub fn runs_span_count(runs: &[TraceRun]) -> usize {
    use super::reader::Reader;
    runs.iter()
        .map(|run| {
            let mut r = Reader::new(&run.spans);
            let mut n = 0;
            // Runs hold whole fields cut from validated requests; an error ends the count.
            while !r.is_empty() && r.key().is_ok() && r.bytes().is_ok() {
                n += 1;
            }
            n
        })
        .sum()
}

/// Whether any span of the runs is a root (no parent span id), as
/// [`super::has_root_span`] on their request.
pub fn runs_have_root_span(runs: &[TraceRun]) -> bool {
    use super::reader::{LEN, RECURSION_LIMIT, Reader};
    runs.iter().any(|run| {
        let mut spans = Reader::new(&run.spans);
        // Runs are cut from validated requests: a read error cannot happen and ends the scan.
        while !spans.is_empty() {
            let (Ok(_), Ok(span)) = (spans.key(), spans.bytes()) else {
                return false;
            };
            let mut r = Reader::new(span);
            let mut root = true;
            while !r.is_empty() {
                let Ok((field, wt)) = r.key() else {
                    return false;
                };
                if field == 4 && wt == LEN {
                    // The last occurrence wins, as in prost.
                    match r.bytes() {
                        Ok(b) => root = b.is_empty(),
                        Err(_) => return false,
                    }
                } else if r.skip(field, wt, RECURSION_LIMIT).is_err() {
                    return false;
                }
            }
            if root {
                return true;
            }
        }
        false
    })
}
