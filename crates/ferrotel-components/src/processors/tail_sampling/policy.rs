//! The policy evaluators, compiled from [`PolicyConfig`]. Each looks at a whole trace (decoded
//! once, when its decision is due) and votes; [`super::decide`] combines the votes.

use std::collections::HashMap;

use bytes::Bytes;
use ferrotel_ottl::{Condition, Ctx};
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{KeyValue, any_value};
use ferrotel_pdata::proto::trace::v1::{Span, status};
use ferrotel_pdata::wire::{self, AnyValueView, ItemView};
use ferrotel_pdata::{DecodeError, Request, Signal};
use tokio::time::Instant;

use super::config::{ErrorMode, PolicyConfig};

/// A policy's vote on one trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Sampled,
    NotSampled,
    /// `invert_match` found no matching value (deprecated in Go, still honoured).
    InvertSampled,
    /// `invert_match` found a matching value: not sampled, whatever the other policies say.
    InvertNotSampled,
    /// A `drop` policy matched: not sampled, whatever the other policies say.
    Dropped,
    /// The policy could not evaluate (an OTTL error with `error_mode: propagate`).
    Error,
}

impl Decision {
    /// Number of variants, for tables indexed by `decision as usize`.
    pub const COUNT: usize = 6;

    /// The `decision` labels of Go's metrics, in [`Decision::outcome`] order.
    pub const OUTCOMES: [&'static str; 3] = ["sampled", "not_sampled", "dropped"];

    /// Index into [`Decision::OUTCOMES`] as Go reports a vote: inverted votes count as the
    /// plain ones, errors are not counted.
    pub fn outcome(self) -> Option<usize> {
        match self {
            Decision::Sampled | Decision::InvertSampled => Some(0),
            Decision::NotSampled | Decision::InvertNotSampled => Some(1),
            Decision::Dropped => Some(2),
            Decision::Error => None,
        }
    }

    fn sampled_like(self) -> bool {
        matches!(self, Decision::Sampled | Decision::InvertSampled)
    }
}

/// What a policy sees of a trace: its buffered spans as one encoded request, read on the wire
/// by the policies that need a few fields (latency, status, attributes, trace state and
/// flags), and decoded once, on first need, for the ones that need the whole (OTTL) or when
/// the decision is recorded on the spans (`record_policy`). The decoded form, once there, is
/// what every later policy reads; the tests compare the two ways policy by policy.
pub struct TraceData {
    encoded: Bytes,
    decoded: Option<Request>,
    pub span_count: u64,
    /// Encoded size of the buffered spans (`bytes_limiting`).
    pub bytes: u64,
    pub trace_id: [u8; 16],
}

/// What the span policies read of one span, decoded or on the wire.
trait SpanRead {
    fn start(&self) -> u64;
    fn end(&self) -> u64;
    fn status_code(&self) -> i32;
    fn trace_state(&self) -> &str;
    fn flags(&self) -> u32;
}

impl SpanRead for Span {
    fn start(&self) -> u64 {
        self.start_time_unix_nano
    }
    fn end(&self) -> u64 {
        self.end_time_unix_nano
    }
    fn status_code(&self) -> i32 {
        self.status.as_ref().map_or(0, |st| st.code)
    }
    fn trace_state(&self) -> &str {
        &self.trace_state
    }
    fn flags(&self) -> u32 {
        self.flags
    }
}

// Span fields by number (opentelemetry/proto/trace/v1/trace.proto); each read keeps the last
// occurrence, as prost's decode does.
impl SpanRead for ItemView<'_> {
    fn start(&self) -> u64 {
        self.fixed64_field(7).unwrap_or(0)
    }
    fn end(&self) -> u64 {
        self.fixed64_field(8).unwrap_or(0)
    }
    fn status_code(&self) -> i32 {
        // An int32 enum: prost truncates the varint the same way.
        self.message_varint_field(15, 3).map_or(0, |c| c as i32)
    }
    fn trace_state(&self) -> &str {
        self.bytes_field(3)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }
    fn flags(&self) -> u32 {
        self.fixed32_field(16).unwrap_or(0)
    }
}

/// A decoded attribute value as the wire view reads it (arrays and maps, which no policy
/// matches, as `Other`).
fn view_of(v: &any_value::Value) -> AnyValueView<'_> {
    use any_value::Value as V;
    match v {
        V::StringValue(s) => AnyValueView::Str(s),
        V::BoolValue(b) => AnyValueView::Bool(*b),
        V::IntValue(i) => AnyValueView::Int(*i),
        V::DoubleValue(d) => AnyValueView::Double(*d),
        V::BytesValue(b) => AnyValueView::Bytes(b),
        _ => AnyValueView::Other(&[]),
    }
}

impl TraceData {
    /// A trace as buffered: `encoded` is one traces request (the pieces merged).
    pub fn new(encoded: Bytes, span_count: u64, bytes: u64, trace_id: [u8; 16]) -> Self {
        TraceData {
            encoded,
            decoded: None,
            span_count,
            bytes,
            trace_id,
        }
    }

    /// The decoded spans, decoding once.
    pub fn request(&mut self) -> Result<&mut Request, DecodeError> {
        if self.decoded.is_none() {
            self.decoded = Some(Request::decode_proto(Signal::Traces, self.encoded.clone())?);
        }
        Ok(self.decoded.as_mut().expect("decoded just above"))
    }

    /// The encoded spans, as buffered.
    pub fn encoded(&self) -> &Bytes {
        &self.encoded
    }

    fn traces(&self) -> Option<&ExportTraceServiceRequest> {
        match &self.decoded {
            Some(Request::Traces(r)) => Some(r),
            Some(_) => unreachable!("tail_sampling buffers traces only"),
            None => None,
        }
    }

    /// Whether `f` holds for any span (in order, stopping at the first).
    fn any_span(&self, mut f: impl FnMut(&dyn SpanRead) -> bool) -> bool {
        if let Some(r) = self.traces() {
            return r
                .resource_spans
                .iter()
                .flat_map(|rs| rs.scope_spans.iter().flat_map(|ss| ss.spans.iter()))
                .any(|s| f(s));
        }
        let mut found = false;
        let _ = wire::for_each_item(Signal::Traces, &self.encoded, |v| {
            found = f(v);
            !found
        });
        found
    }

    /// Whether a resource's or a span's attribute `key` satisfies `f` (every attribute of
    /// that name, repeated keys included).
    fn any_attr(&self, key: &str, mut f: impl FnMut(AnyValueView<'_>) -> bool) -> bool {
        if let Some(r) = self.traces() {
            let mut check = |attrs: &[KeyValue]| {
                attrs
                    .iter()
                    .filter(|a| a.key == key)
                    .filter_map(|a| a.value.as_ref()?.value.as_ref())
                    .any(|v| f(view_of(v)))
            };
            return r.resource_spans.iter().any(|rs| {
                rs.resource.as_ref().is_some_and(|r| check(&r.attributes))
                    || rs
                        .scope_spans
                        .iter()
                        .flat_map(|ss| &ss.spans)
                        .any(|s| check(&s.attributes))
            });
        }
        let mut found = false;
        let _ = wire::for_each_resource(Signal::Traces, &self.encoded, |r| {
            found = found || r.attributes().any(|(k, v)| k == key && f(v));
        });
        if found {
            return true;
        }
        let _ = wire::for_each_item(Signal::Traces, &self.encoded, |s| {
            found = s.attributes().any(|(k, v)| k == key && f(v));
            !found
        });
        found
    }
}

/// The clock of an evaluation: `now` for token buckets, `second` for per-second counters.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub now: Instant,
    pub second: u64,
}

/// A compiled policy.
pub enum Policy {
    AlwaysSample,
    Latency {
        lower_ms: i64,
        upper_ms: i64,
    },
    Numeric {
        key: String,
        min: i64,
        max: i64,
        invert: bool,
    },
    Probabilistic {
        salt: String,
        threshold: u64,
    },
    StatusCode(Vec<i32>),
    StringAttr(StringMatcher),
    /// Spans per second, token bucket (Go's `rate_limiting`).
    RateLimiting(TokenBucket),
    BytesLimiting(TokenBucket),
    SpanCount {
        min: i64,
        max: i64,
    },
    TraceState {
        key: String,
        values: Vec<String>,
    },
    TraceFlags,
    Boolean {
        key: String,
        value: bool,
        invert: bool,
    },
    Ottl {
        span: Vec<Condition>,
        spanevent: Vec<Condition>,
        error_mode: ErrorMode,
    },
    And(Vec<Policy>),
    Not(Box<Policy>),
    Drop(Vec<Policy>),
    Composite(Composite),
}

/// Exact or regex values of a `string_attribute` policy, with the regex results cached.
pub struct StringMatcher {
    key: String,
    exact: Vec<String>,
    regexes: Vec<regex::Regex>,
    invert: bool,
    cache: HashMap<String, bool>,
    cache_max: usize,
}

impl StringMatcher {
    fn matches(&mut self, v: &str) -> bool {
        if self.regexes.is_empty() {
            return self.exact.iter().any(|e| e == v);
        }
        if let Some(&hit) = self.cache.get(v) {
            return hit;
        }
        let hit = self.regexes.iter().any(|r| r.is_match(v));
        if self.cache.len() >= self.cache_max {
            // A bounded cache: start over rather than track recency per entry.
            self.cache.clear();
        }
        self.cache.insert(v.to_string(), hit);
        hit
    }
}

/// A token bucket (`golang.org/x/time/rate` semantics: continuous refill up to `burst`).
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: f64) -> Self {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: None,
        }
    }

    /// `rate` per second with `burst` tokens, or twice `rate` when `burst` is 0 (Go's default
    /// for both `rate_limiting` and `bytes_limiting`).
    fn with_default_burst(rate: i64, burst: i64) -> Self {
        let burst = if burst > 0 { burst } else { 2 * rate };
        TokenBucket::new(rate as f64, burst as f64)
    }

    fn take(&mut self, n: f64, now: Instant) -> bool {
        if let Some(last) = self.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        }
        self.last = Some(now);
        if n <= self.tokens {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

/// `composite`: sub-policies in order, each with its share of the spans per second.
pub struct Composite {
    max_total: i64,
    subs: Vec<(Policy, i64)>,
    names: Vec<String>,
    second: u64,
    spent: Vec<i64>,
    /// The sub-policy that sampled the last trace evaluated (`record_policy`).
    last_sampled: Option<usize>,
}

/// Default salt of the `probabilistic` policy, as in Go.
const DEFAULT_HASH_SALT: &str = "default-hash-seed";

impl Policy {
    /// Compiles a checked policy config.
    pub fn new(cfg: &PolicyConfig) -> Result<Policy, String> {
        Ok(match cfg.type_.as_str() {
            "always_sample" => Policy::AlwaysSample,
            "latency" => Policy::Latency {
                lower_ms: cfg.latency.threshold_ms,
                upper_ms: cfg.latency.upper_threshold_ms,
            },
            "numeric_attribute" => {
                let n = &cfg.numeric_attribute;
                Policy::Numeric {
                    key: n.key.clone(),
                    min: n.min_value.unwrap_or(i64::MIN),
                    max: n.max_value.unwrap_or(i64::MAX),
                    invert: n.invert_match,
                }
            }
            "probabilistic" => {
                let p = &cfg.probabilistic;
                Policy::Probabilistic {
                    salt: if p.hash_salt.is_empty() {
                        DEFAULT_HASH_SALT.into()
                    } else {
                        p.hash_salt.clone()
                    },
                    threshold: probability_threshold(p.sampling_percentage / 100.0),
                }
            }
            "status_code" => Policy::StatusCode(
                cfg.status_code
                    .status_codes
                    .iter()
                    .map(|c| match c.as_str() {
                        "OK" => Ok(status::StatusCode::Ok as i32),
                        "ERROR" => Ok(status::StatusCode::Error as i32),
                        "UNSET" => Ok(status::StatusCode::Unset as i32),
                        other => Err(format!("unknown status code {other:?}")),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            "string_attribute" => {
                let s = &cfg.string_attribute;
                let regexes = if s.enabled_regex_matching {
                    s.values
                        .iter()
                        .map(|v| regex::Regex::new(v).map_err(|e| e.to_string()))
                        .collect::<Result<_, _>>()?
                } else {
                    Vec::new()
                };
                Policy::StringAttr(StringMatcher {
                    key: s.key.clone(),
                    exact: s.values.clone(),
                    regexes,
                    invert: s.invert_match,
                    cache: HashMap::new(),
                    // Go's default LRU size.
                    cache_max: if s.cache_max_size == 0 {
                        128
                    } else {
                        s.cache_max_size
                    },
                })
            }
            "rate_limiting" => {
                let r = &cfg.rate_limiting;
                Policy::RateLimiting(TokenBucket::with_default_burst(
                    r.spans_per_second,
                    r.burst_capacity,
                ))
            }
            "bytes_limiting" => {
                let b = &cfg.bytes_limiting;
                Policy::BytesLimiting(TokenBucket::with_default_burst(
                    b.bytes_per_second,
                    b.burst_capacity,
                ))
            }
            "span_count" => Policy::SpanCount {
                min: cfg.span_count.min_spans.into(),
                max: if cfg.span_count.max_spans == 0 {
                    i64::MAX
                } else {
                    cfg.span_count.max_spans.into()
                },
            },
            "trace_state" => Policy::TraceState {
                key: cfg.trace_state.key.clone(),
                values: cfg.trace_state.values.clone(),
            },
            "trace_flags" => Policy::TraceFlags,
            "boolean_attribute" => Policy::Boolean {
                key: cfg.boolean_attribute.key.clone(),
                value: cfg.boolean_attribute.value,
                invert: cfg.boolean_attribute.invert_match,
            },
            "ottl_condition" => {
                let o = &cfg.ottl_condition;
                Policy::Ottl {
                    span: ferrotel_ottl::parse_conditions(&o.span, Ctx::Span)?,
                    spanevent: ferrotel_ottl::parse_conditions(&o.spanevent, Ctx::SpanEvent)?,
                    error_mode: o.error_mode,
                }
            }
            "and" => Policy::And(subs(&cfg.and.and_sub_policy)?),
            "drop" => Policy::Drop(subs(&cfg.drop.drop_sub_policy)?),
            "not" => {
                let sub = cfg
                    .not
                    .not_sub_policy
                    .as_ref()
                    .ok_or("a not policy needs a sub-policy")?;
                Policy::Not(Box::new(Policy::new(sub)?))
            }
            "composite" => {
                let c = &cfg.composite;
                let max = c.max_total_spans_per_second;
                // Go: a listed allocation with percent 0 gets an equal share; a sub-policy
                // without an allocation gets none.
                let equal = max as f64 / c.composite_sub_policy.len().max(1) as f64;
                let share = |name: &str| -> i64 {
                    c.rate_allocation
                        .iter()
                        .rfind(|r| r.policy == name)
                        .map(|r| {
                            if r.percent > 0 {
                                (r.percent as f64 / 100.0 * max as f64) as i64
                            } else {
                                equal as i64
                            }
                        })
                        .unwrap_or(0)
                };
                let subs = c
                    .composite_sub_policy
                    .iter()
                    .map(|p| Ok((Policy::new(p)?, share(&p.name))))
                    .collect::<Result<Vec<_>, String>>()?;
                Policy::Composite(Composite {
                    max_total: max,
                    spent: vec![0; subs.len()],
                    subs,
                    names: c
                        .composite_sub_policy
                        .iter()
                        .map(|p| p.name.clone())
                        .collect(),
                    second: 0,
                    last_sampled: None,
                })
            }
            other => return Err(format!("unknown sampling policy type {other}")),
        })
    }

    /// For a composite policy that just sampled a trace: the sub-policy that did.
    pub fn composite_choice(&self) -> Option<&str> {
        match self {
            Policy::Composite(c) => c.last_sampled.map(|i| c.names[i].as_str()),
            _ => None,
        }
    }

    /// The vote on one trace.
    pub fn evaluate(&mut self, t: &mut TraceData, clock: Clock) -> Decision {
        let yes = |b: bool| {
            if b {
                Decision::Sampled
            } else {
                Decision::NotSampled
            }
        };
        let inverted = |found: bool| {
            if found {
                Decision::InvertNotSampled
            } else {
                Decision::InvertSampled
            }
        };
        match self {
            Policy::AlwaysSample => Decision::Sampled,
            Policy::Latency { lower_ms, upper_ms } => {
                // Duration from the earliest start to the latest end, checked as spans are
                // added (Go's order: a trace can match before all its spans are looked at).
                let (mut first, mut last) = (u64::MAX, 0u64);
                yes(t.any_span(|s| {
                    first = first.min(s.start());
                    last = last.max(s.end());
                    let ms = (last.saturating_sub(first) / 1_000_000) as i64;
                    if *upper_ms == 0 {
                        ms >= *lower_ms
                    } else {
                        *lower_ms <= ms && ms <= *upper_ms
                    }
                }))
            }
            Policy::Numeric {
                key,
                min,
                max,
                invert,
            } => {
                let found = t.any_attr(
                    key,
                    |v| matches!(v, AnyValueView::Int(i) if *min <= i && i <= *max),
                );
                if *invert { inverted(found) } else { yes(found) }
            }
            Policy::Probabilistic { salt, threshold } => {
                yes(hash_trace_id(salt.as_bytes(), &t.trace_id) <= *threshold)
            }
            Policy::StatusCode(codes) => yes(t.any_span(|s| codes.contains(&s.status_code()))),
            Policy::StringAttr(m) => {
                let key = m.key.clone();
                let found = t.any_attr(&key, |v| match v {
                    AnyValueView::Str(s) => m.matches(s),
                    _ => false,
                });
                if m.invert {
                    inverted(found)
                } else {
                    yes(found)
                }
            }
            Policy::RateLimiting(bucket) => yes(bucket.take(t.span_count as f64, clock.now)),
            Policy::BytesLimiting(bucket) => yes(bucket.take(t.bytes as f64, clock.now)),
            Policy::SpanCount { min, max } => {
                let n = t.span_count as i64;
                yes(*min <= n && n <= *max)
            }
            Policy::TraceState { key, values } => yes(t.any_span(|s| {
                s.trace_state().split(',').any(|member| {
                    member
                        .trim()
                        .split_once('=')
                        .is_some_and(|(k, v)| k == key && values.iter().any(|x| x == v))
                })
            })),
            // W3C sampled flag, in the low byte of the span's flags.
            Policy::TraceFlags => yes(t.any_span(|s| s.flags() & 0x1 != 0)),
            Policy::Boolean { key, value, invert } => {
                let found = t.any_attr(key, |v| matches!(v, AnyValueView::Bool(b) if b == *value));
                if *invert { inverted(found) } else { yes(found) }
            }
            Policy::Ottl {
                span,
                spanevent,
                error_mode,
            } => match t
                .request()
                .map_err(|e| e.to_string())
                .and_then(|r| ottl_any(r, span, spanevent, *error_mode))
            {
                Ok(found) => yes(found),
                Err(e) => {
                    tracing::debug!(error = %e, "tail_sampling: ottl_condition failed");
                    Decision::Error
                }
            },
            Policy::And(subs) => {
                for p in subs {
                    let d = p.evaluate(t, clock);
                    if !d.sampled_like() {
                        return Decision::NotSampled;
                    }
                }
                Decision::Sampled
            }
            Policy::Not(sub) => match sub.evaluate(t, clock) {
                d if d.sampled_like() => Decision::NotSampled,
                Decision::Error => Decision::Error,
                _ => Decision::Sampled,
            },
            Policy::Drop(subs) => {
                for p in subs {
                    if !p.evaluate(t, clock).sampled_like() {
                        return Decision::NotSampled;
                    }
                }
                Decision::Dropped
            }
            Policy::Composite(c) => {
                c.last_sampled = None;
                if c.second != clock.second {
                    c.second = clock.second;
                    c.spent.iter_mut().for_each(|s| *s = 0);
                }
                for (i, (p, allocated)) in c.subs.iter_mut().enumerate() {
                    let d = p.evaluate(t, clock);
                    if d == Decision::Error {
                        return Decision::Error;
                    }
                    if d.sampled_like() {
                        let after = c.spent[i] + t.span_count as i64;
                        // Over its share: not sampled (and not counted, so a smaller trace
                        // may still fit this second).
                        if after <= *allocated && after <= c.max_total {
                            c.spent[i] = after;
                            c.last_sampled = Some(i);
                            return Decision::Sampled;
                        }
                        return Decision::NotSampled;
                    }
                }
                Decision::NotSampled
            }
        }
    }
}

fn subs(cfgs: &[PolicyConfig]) -> Result<Vec<Policy>, String> {
    cfgs.iter().map(Policy::new).collect()
}

/// Whether a span matches a span condition or an event a spanevent condition.
fn ottl_any(
    request: &mut Request,
    span: &[Condition],
    spanevent: &[Condition],
    mode: ErrorMode,
) -> Result<bool, String> {
    let mut found = false;
    for (conds, ctx) in [(span, Ctx::Span), (spanevent, Ctx::SpanEvent)] {
        if conds.is_empty() || found {
            continue;
        }
        ferrotel_ottl::walk(request, ctx, false, &mut |tc| {
            if found {
                return Ok(true);
            }
            for c in conds {
                match c.eval(tc) {
                    Ok(true) => {
                        found = true;
                        break;
                    }
                    Ok(false) => {}
                    Err(e) => match mode {
                        ErrorMode::Propagate => {
                            return Err(format!("failed to eval condition: {}, {e}", c.text()));
                        }
                        ErrorMode::Ignore => {
                            tracing::warn!(condition = c.text(), error = %e, "failed to eval condition")
                        }
                        ErrorMode::Silent => {}
                    },
                }
            }
            Ok(true)
        })?;
    }
    Ok(found)
}

/// FNV-1a (64 bit) of the salt followed by the trace id: the Go policy's hash, so both keep
/// the same traces.
pub fn hash_trace_id(salt: &[u8], trace_id: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in salt.iter().chain(trace_id) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// `ratio × u64::MAX` as Go computes it: an exact product rounded to a 64-bit mantissa
/// (`big.Float` of precision 64, nearest even), then truncated to an integer; above 1 is
/// `u64::MAX`, 0 or less (or NaN) is 0.
pub fn probability_threshold(ratio: f64) -> u64 {
    if ratio.is_nan() || ratio <= 0.0 {
        return 0;
    }
    if ratio >= 1.0 {
        return u64::MAX;
    }
    let bits = ratio.to_bits();
    let exp_field = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (mant, exp) = if exp_field == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp_field - 1075)
    };
    // ratio = mant × 2^exp, exp < 0 below 1.
    let mut prod = u128::from(mant) * u128::from(u64::MAX);
    let nbits = 128 - prod.leading_zeros() as i32;
    if nbits > 64 {
        let shift = (nbits - 64) as u32;
        let rem = prod & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        let mut q = prod >> shift;
        if rem > half || (rem == half && q & 1 == 1) {
            q += 1;
        }
        prod = q << shift;
    }
    let down = -exp;
    if down >= 128 {
        0
    } else {
        (prod >> down).min(u128::from(u64::MAX)) as u64
    }
}
