//! Zipkin v2 JSON and protobuf straight to OTLP protobuf bytes: the receiver's fast path.
//!
//! The reference path (`json`/`proto` decode into [`crate::model::Span`], then
//! [`crate::to_otlp`], then a prost encode) owns every string and rebuilds, sorts and hashes
//! each span's resource. Here the decoders (`json`, `proto` below) borrow strings from the
//! body and hand one span at a time to a [`Builder`], which applies the same rules (the
//! code mirrors `to_otlp::convert` step by step) and writes the OTLP span's bytes into the
//! buffer of its resource and scope group. Per-span scratch (tags, annotations, flags) is
//! reused; a group's resource is owned once per group, and a span finds its group by
//! comparing with the few groups of the request (most requests have one).
//!
//! As `ferrotel_pdata::json::transcode` does, the fast path refuses (`None`) rather than
//! decide anything unusual, and the caller runs the reference path, whose result or error
//! stands: any error (so error messages are the reference's), a key or field given twice,
//! tag values that are not strings, protobuf fields prost would skip or merge, and requests
//! of more than [`MAX_GROUPS`] resource/scope groups. `tests.rs` checks that both paths
//! agree, on generated spans and on every body of the translation tests.

mod event;
mod json;
mod pb;
mod proto;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use ferrotel_pdata::proto::trace::v1::span;
use prost::Message;

use crate::model::Kind;
use crate::receiver::Format;
use crate::to_otlp::{self as rules, Options, Typed};
use pb::{Val, field_len, put_bytes, put_fixed64, put_kv, put_len, put_nonempty, put_uint};

/// Past this many resource/scope groups in one request the linear group lookup would cost
/// more than the reference path's hash map: such requests take the reference path.
const MAX_GROUPS: usize = 64;

/// The spans' OTLP `ExportTraceServiceRequest` bytes and their span count, or `None` where
/// the reference path must decide (see the module documentation).
pub fn translate(format: Format, body: &[u8], opts: &Options) -> Option<(Vec<u8>, usize)> {
    let mut b = Builder::new(opts, body.len());
    match format {
        Format::V2Json => json::decode(body, &mut b)?,
        Format::V2Proto => proto::decode(body, &mut b)?,
        Format::V1Json | Format::V1Thrift => return None,
    }
    Some(b.finish())
}

/// The fast path refuses this request; the reference path decides.
pub(crate) struct Refused;

pub(crate) struct EndpointIn<'s> {
    pub service_name: &'s str,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    /// 0 for none.
    pub port: u16,
}

impl EndpointIn<'_> {
    fn is_empty(&self) -> bool {
        self.service_name.is_empty() && self.ipv4.is_none() && self.ipv6.is_none() && self.port == 0
    }

    /// `None` for an endpoint with nothing in it, as the reference decoders do.
    pub(crate) fn non_empty(self) -> Option<Self> {
        (!self.is_empty()).then_some(self)
    }
}

/// One decoded span, ids checked, strings borrowed; its tags and annotations travel beside it.
pub(crate) struct SpanIn<'s> {
    pub trace_id: [u8; 16],
    pub id: [u8; 8],
    pub parent_id: Option<[u8; 8]>,
    pub kind: Option<Kind>,
    pub name: &'s str,
    pub timestamp: Option<u64>,
    pub duration: Option<u64>,
    pub local: Option<EndpointIn<'s>>,
    pub remote: Option<EndpointIn<'s>>,
    pub shared: bool,
}

struct ScopeGroup {
    name: String,
    version: String,
    /// Encoded `ScopeSpans.spans` fields.
    spans: Vec<u8>,
}

struct ResourceGroup {
    attrs: Vec<(String, String)>,
    scopes: Vec<ScopeGroup>,
}

/// Marks the local service name in a span's resource entries (the others are tag indices).
const SERVICE: u32 = u32::MAX;

pub(crate) struct Builder {
    parse: bool,
    /// Capacity of the first group's span buffer: the body's length, which the spans' OTLP
    /// bytes rarely pass, so that buffer grows (and is copied) seldom. Later groups start empty.
    first_capacity: usize,
    resources: Vec<ResourceGroup>,
    groups: usize,
    spans: usize,
    /// The group the previous span went to: where the next one most likely goes too.
    last: (usize, usize),
    // Per-span scratch, reused.
    /// [`special_bit`]s of the span's tag keys.
    present: u32,
    used: Vec<bool>,
    resource: Vec<u32>,
    links: Vec<span::Link>,
    span: Vec<u8>,
    scratch: Vec<u8>,
    text: String,
}

/// A bit per tag key the rules take (one `match`, no search), 0 for any other key: which of
/// them a span has is known from one pass over its tags.
fn special_bit(key: &str) -> u32 {
    use rules::*;
    1 << match key {
        SCOPE_NAME => 0,
        SCOPE_VERSION => 1,
        LIBRARY_NAME => 2,
        LIBRARY_VERSION => 3,
        STATUS_CODE => 4,
        STATUS_DESCRIPTION => 5,
        ERROR => 6,
        TRACE_STATE => 7,
        SPAN_KIND => 8,
        DROPPED_ATTRIBUTES => 9,
        DROPPED_EVENTS => 10,
        DROPPED_LINKS => 11,
        SERVICE_NAME_SOURCE => 12,
        // Any link key: the first one (`otlp.link.0`) is looked for only when one is there.
        k if k.starts_with(LINK_PREFIX) => 13,
        _ => return 0,
    }
}

/// The [`special_bit`] of every `otlp.link.N` key.
const LINK_BIT: u32 = 1 << 13;

/// The byte order of two keys, as `str::cmp`, deciding on their first eight bytes as one
/// integer when those differ (most keys differ early): the sort of a span's ~20 tags then
/// makes few `memcmp` calls, which were most of its cost.
#[inline]
fn key_order(a: &str, b: &str) -> std::cmp::Ordering {
    #[inline]
    fn prefix(s: &str) -> u64 {
        match s.as_bytes().first_chunk::<8>() {
            Some(p) => u64::from_be_bytes(*p),
            None => s
                .bytes()
                .enumerate()
                .fold(0, |v, (i, c)| v | u64::from(c) << (56 - 8 * i)),
        }
    }
    // Zero padding can tie a short key with a longer one whose next byte is 0; a tie falls
    // through to the full comparison, so the order is exactly the bytes' order.
    prefix(a).cmp(&prefix(b)).then_with(|| a.cmp(b))
}

/// Index of `key` in tags sorted by key.
fn find<A: AsRef<str>>(tags: &[(A, A)], key: &str) -> Option<usize> {
    tags.binary_search_by(|t| key_order(t.0.as_ref(), key)).ok()
}

impl Builder {
    fn new(opts: &Options, body_len: usize) -> Self {
        Builder {
            parse: opts.parse_string_tags,
            first_capacity: body_len,
            resources: Vec::new(),
            groups: 0,
            spans: 0,
            last: (0, 0),
            present: 0,
            used: Vec::new(),
            resource: Vec::new(),
            links: Vec::new(),
            span: Vec::new(),
            scratch: Vec::new(),
            text: String::new(),
        }
    }

    /// Takes the tag `key` if present and not taken: its index.
    fn take<A: AsRef<str>>(&mut self, tags: &[(A, A)], key: &str) -> Option<usize> {
        // Most spans carry few of the keys the rules read: skip the search for the absent.
        let bit = special_bit(key);
        if bit != 0 && self.present & bit == 0 {
            return None;
        }
        let i = find(tags, key).filter(|&i| !self.used[i])?;
        self.used[i] = true;
        Some(i)
    }

    /// Translates one span (as `to_otlp::convert`) into its group. `tags` are sorted here.
    pub(crate) fn add<A: AsRef<str>>(
        &mut self,
        s: &SpanIn<'_>,
        tags: &mut [(A, A)],
        annotations: &[(u64, A)],
    ) -> Result<(), Refused> {
        tags.sort_unstable_by(|a, b| key_order(a.0.as_ref(), b.0.as_ref()));
        // A key given twice: JSON maps and protobuf maps keep the last; rare, left to them.
        if tags.windows(2).any(|w| w[0].0.as_ref() == w[1].0.as_ref()) {
            return Err(Refused);
        }
        self.used.clear();
        self.used.resize(tags.len(), false);
        self.present = tags.iter().fold(0, |m, (k, _)| m | special_bit(k.as_ref()));
        let val = |i: Option<usize>| i.map(|i| tags[i].1.as_ref());
        // Scope: the current names win over the older ones.
        let scope_name = self.take(tags, rules::SCOPE_NAME);
        let scope_version = self.take(tags, rules::SCOPE_VERSION);
        let lib_name = self.take(tags, rules::LIBRARY_NAME);
        let lib_version = self.take(tags, rules::LIBRARY_VERSION);
        let scope = (
            val(scope_name.or(lib_name)).unwrap_or(""),
            val(scope_version.or(lib_version)).unwrap_or(""),
        );
        let code = self.take(tags, rules::STATUS_CODE);
        let description = self.take(tags, rules::STATUS_DESCRIPTION);
        let error = self.take(tags, rules::ERROR);
        let trace_state = val(self.take(tags, rules::TRACE_STATE)).unwrap_or("");
        let span_kind_tag = self.take(tags, rules::SPAN_KIND);
        let mut counts = [0u32; 3];
        for (n, key) in [
            rules::DROPPED_ATTRIBUTES,
            rules::DROPPED_EVENTS,
            rules::DROPPED_LINKS,
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(i) = self.take(tags, key) {
                match tags[i].1.as_ref().parse::<u32>() {
                    Ok(c) => counts[n] = c,
                    // Not a count: it stays the attribute it was sent as.
                    Err(_) => self.used[i] = false,
                }
            }
        }
        self.links.clear();
        let mut key = String::new();
        for n in 0usize.. {
            if n == 0 && (self.present & LINK_BIT == 0 || find(tags, "otlp.link.0").is_none()) {
                break; // the usual case, without building a key
            }
            key.clear();
            let _ = write!(key, "{}{n}", rules::LINK_PREFIX);
            let Some(i) = self.take(tags, &key) else {
                break;
            };
            match rules::link(tags[i].1.as_ref()) {
                Some(l) => self.links.push(l),
                None => self.used[i] = false,
            }
        }
        let mut status_code = 0i32;
        let mut status_message = "";
        match val(code) {
            Some("OK" | "STATUS_CODE_OK") => status_code = 1,
            Some("ERROR" | "STATUS_CODE_ERROR") => status_code = 2,
            Some("UNSET" | "STATUS_CODE_UNSET") | None => {}
            Some(_) => self.used[code.unwrap_or_default()] = false,
        }
        if let Some(e) = val(error)
            && e != "false"
        {
            status_code = 2;
            if e != "true" {
                status_message = e;
            }
        }
        if let Some(d) = val(description) {
            status_message = d;
        }
        let kind = match s.kind {
            Some(Kind::Client) => span::SpanKind::Client,
            Some(Kind::Server) => span::SpanKind::Server,
            Some(Kind::Producer) => span::SpanKind::Producer,
            Some(Kind::Consumer) => span::SpanKind::Consumer,
            None if val(span_kind_tag) == Some("internal") => span::SpanKind::Internal,
            None => {
                if let Some(i) = span_kind_tag {
                    self.used[i] = false;
                }
                span::SpanKind::Unspecified
            }
        };
        // Resource: the resource-convention tags and the local service name, sorted.
        let service = s
            .local
            .as_ref()
            .map(|e| e.service_name)
            .filter(|n| !n.is_empty());
        let service_key =
            val(self.take(tags, rules::SERVICE_NAME_SOURCE)).unwrap_or(rules::SERVICE_NAME);
        self.resource.clear();
        for (i, (k, _)) in tags.iter().enumerate() {
            let k = k.as_ref();
            if !self.used[i] && rules::is_resource_tag(k) {
                self.used[i] = true;
                if !(k == service_key && service.is_some()) {
                    self.resource.push(i as u32);
                }
            }
        }
        let entry = |i: u32| match i {
            SERVICE => (service_key, service.unwrap_or("")),
            i => (tags[i as usize].0.as_ref(), tags[i as usize].1.as_ref()),
        };
        if service.is_some() {
            // The tag entries are in key order already (tags are sorted, keys unique, and
            // the tag named like the service key is left out): the service goes in its place.
            let service_entry = entry(SERVICE);
            let at = self.resource.partition_point(|&i| entry(i) < service_entry);
            self.resource.insert(at, SERVICE);
        }
        let (ri, si) = self.group(&entry, scope)?;

        let b = &mut self.span;
        b.clear();
        put_bytes(b, 1, &s.trace_id);
        put_bytes(b, 2, &s.id);
        put_nonempty(b, 3, trace_state.as_bytes());
        if let Some(p) = s.parent_id.filter(|p| *p != s.id) {
            put_bytes(b, 4, &p);
        }
        put_nonempty(b, 5, s.name.as_bytes());
        put_uint(b, 6, kind as i32 as u64);
        let (start, end) = match s.timestamp {
            Some(t) => {
                let start = t.saturating_mul(1000);
                let d = s.duration.unwrap_or(0).saturating_mul(1000);
                (start, start.saturating_add(d))
            }
            None => (0, s.duration.unwrap_or(0).saturating_mul(1000)),
        };
        put_fixed64(b, 7, start);
        put_fixed64(b, 8, end);
        for (i, (k, v)) in tags.iter().enumerate() {
            if !self.used[i] {
                let v = v.as_ref();
                let v = match rules::classify(v, self.parse) {
                    Typed::Int(i) => Val::Int(i),
                    Typed::Double(f) => Val::Double(f),
                    Typed::Bool(x) => Val::Bool(x),
                    Typed::Str => Val::Str(v),
                };
                put_kv(b, 9, k.as_ref(), v);
            }
        }
        // The attributes derived from endpoints, unless the sender set them as tags.
        let used = &self.used;
        let has = |key: &str| find(tags, key).filter(|&i| !used[i]);
        let ip = |text: &mut String, e: &EndpointIn<'_>| {
            text.clear();
            match (e.ipv6, e.ipv4) {
                (Some(a), _) => write!(text, "{a}").is_ok(),
                (None, Some(a)) => write!(text, "{a}").is_ok(),
                (None, None) => false,
            }
        };
        if let Some(l) = &s.local {
            if ip(&mut self.text, l) && has(rules::LOCAL_ADDRESS).is_none() {
                put_kv(b, 9, rules::LOCAL_ADDRESS, Val::Str(&self.text));
            }
            if l.port != 0 && has(rules::LOCAL_PORT).is_none() {
                put_kv(b, 9, rules::LOCAL_PORT, Val::Int(i64::from(l.port)));
            }
        }
        if let Some(r) = &s.remote {
            let from_address =
                has(rules::SERVER_ADDRESS).is_some_and(|i| tags[i].1.as_ref() == r.service_name);
            if !r.service_name.is_empty() && has(rules::PEER_SERVICE).is_none() && !from_address {
                put_kv(b, 9, rules::PEER_SERVICE, Val::Str(r.service_name));
            }
            if ip(&mut self.text, r) && has(rules::PEER_ADDRESS).is_none() {
                put_kv(b, 9, rules::PEER_ADDRESS, Val::Str(&self.text));
            }
            if r.port != 0 && has(rules::PEER_PORT).is_none() {
                put_kv(b, 9, rules::PEER_PORT, Val::Int(i64::from(r.port)));
            }
        }
        if s.shared {
            put_kv(b, 9, rules::SHARED, Val::Bool(true));
        }
        if s.timestamp.is_none() {
            put_kv(b, 9, rules::START_TIME_ABSENT, Val::Bool(true));
        }
        put_uint(b, 10, u64::from(counts[0]));
        for (t, v) in annotations {
            let v = v.as_ref();
            if v.starts_with('{') && event::write(*t, v, b, &mut self.scratch).is_some() {
                continue;
            }
            if v.starts_with('{') || v.contains('|') {
                // Attributes in a shape `event` leaves out: the reference's parser decides.
                let e = rules::event(*t, v.to_owned());
                put_len(b, 11, e.encoded_len());
                e.encode_raw(b);
                continue;
            }
            let time = t.saturating_mul(1000);
            let len =
                if time != 0 { 9 } else { 0 } + if v.is_empty() { 0 } else { field_len(v.len()) };
            put_len(b, 11, len);
            put_fixed64(b, 1, time);
            put_nonempty(b, 2, v.as_bytes());
        }
        put_uint(b, 12, u64::from(counts[1]));
        for l in &self.links {
            put_len(b, 13, l.encoded_len());
            l.encode_raw(b);
        }
        put_uint(b, 14, u64::from(counts[2]));
        if status_code != 0 || !status_message.is_empty() {
            let code_len = if status_code != 0 { 2 } else { 0 };
            let msg_len = if status_message.is_empty() {
                0
            } else {
                field_len(status_message.len())
            };
            put_len(b, 15, msg_len + code_len);
            put_nonempty(b, 2, status_message.as_bytes());
            put_uint(b, 3, status_code as u64);
        }
        let out = &mut self.resources[ri].scopes[si].spans;
        put_bytes(out, 2, &self.span);
        self.spans += 1;
        Ok(())
    }

    /// The (resource, scope) group of a span whose resource entries are in `self.resource`.
    fn group<'e>(
        &mut self,
        entry: &impl Fn(u32) -> (&'e str, &'e str),
        scope: (&str, &str),
    ) -> Result<(usize, usize), Refused> {
        let same_resource = |g: &ResourceGroup| {
            g.attrs.len() == self.resource.len()
                && g.attrs
                    .iter()
                    .zip(&self.resource)
                    .all(|((k, v), &i)| entry(i) == (k.as_str(), v.as_str()))
        };
        let same_scope = |g: &ScopeGroup| g.name == scope.0 && g.version == scope.1;
        let (lr, ls) = self.last;
        if let Some(r) = self.resources.get(lr)
            && same_resource(r)
            && same_scope(&r.scopes[ls])
        {
            return Ok(self.last);
        }
        let ri = match self.resources.iter().position(same_resource) {
            Some(ri) => ri,
            None => {
                let attrs = self.resource.iter().map(|&i| {
                    let (k, v) = entry(i);
                    (k.to_owned(), v.to_owned())
                });
                self.resources.push(ResourceGroup {
                    attrs: attrs.collect(),
                    scopes: Vec::new(),
                });
                self.resources.len() - 1
            }
        };
        let si = match self.resources[ri].scopes.iter().position(same_scope) {
            Some(si) => si,
            None => {
                self.groups += 1;
                if self.groups > MAX_GROUPS {
                    return Err(Refused);
                }
                let scopes = &mut self.resources[ri].scopes;
                scopes.push(ScopeGroup {
                    name: scope.0.to_owned(),
                    version: scope.1.to_owned(),
                    spans: Vec::with_capacity(std::mem::take(&mut self.first_capacity)),
                });
                scopes.len() - 1
            }
        };
        self.last = (ri, si);
        Ok(self.last)
    }

    /// The request: each resource in first-seen order with its scopes in first-seen order.
    fn finish(self) -> (Vec<u8>, usize) {
        let spans: usize = self
            .resources
            .iter()
            .flat_map(|r| &r.scopes)
            .map(|s| s.spans.len())
            .sum();
        let mut out = Vec::with_capacity(spans + 256 * self.groups);
        let mut resource = Vec::new();
        // The `InstrumentationScope` body, if the group has a scope.
        let scope_len = |s: &ScopeGroup| {
            let part = |x: &str| if x.is_empty() { 0 } else { field_len(x.len()) };
            (!s.name.is_empty() || !s.version.is_empty()).then(|| part(&s.name) + part(&s.version))
        };
        let scope_spans_len = |s: &ScopeGroup| scope_len(s).map_or(0, field_len) + s.spans.len();
        for r in &self.resources {
            resource.clear();
            for (k, v) in &r.attrs {
                put_kv(&mut resource, 1, k, Val::Str(v));
            }
            let len = field_len(resource.len())
                + r.scopes
                    .iter()
                    .map(|s| field_len(scope_spans_len(s)))
                    .sum::<usize>();
            put_len(&mut out, 1, len);
            put_bytes(&mut out, 1, &resource);
            for s in &r.scopes {
                put_len(&mut out, 2, scope_spans_len(s));
                if let Some(scope) = scope_len(s) {
                    put_len(&mut out, 1, scope);
                    put_nonempty(&mut out, 1, s.name.as_bytes());
                    put_nonempty(&mut out, 2, s.version.as_bytes());
                }
                out.extend_from_slice(&s.spans);
            }
        }
        (out, self.spans)
    }
}

/// Checks the direct path against the reference on one body, for the tests and the fuzz
/// target (`fuzz/fuzz_targets/zipkin.rs`): where the direct path answers, the reference
/// accepts the body and its prost encoding is byte for byte the direct path's bytes; where it
/// refuses, the receiver's answer is the reference's. `Err` says how they differ.
#[doc(hidden)]
pub fn check_agrees(format: Format, body: &[u8], opts: &Options) -> Result<bool, String> {
    let reference = crate::receiver::decode(format, body, opts);
    let Some((bytes, spans)) = translate(format, body, opts) else {
        return Ok(false);
    };
    let r =
        reference.map_err(|e| format!("direct path accepted what the reference refuses: {e}"))?;
    let want = r.encode_to_vec();
    if bytes != want {
        let got = ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest::decode(
            bytes.as_slice(),
        );
        return Err(format!(
            "direct and reference bytes differ\n direct:    {got:?}\n reference: {r:?}"
        ));
    }
    let count = r
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum::<usize>();
    if spans != count {
        return Err(format!(
            "direct path counted {spans} spans, the reference {count}"
        ));
    }
    Ok(true)
}
