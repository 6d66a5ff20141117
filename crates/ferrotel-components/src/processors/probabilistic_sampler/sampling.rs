//! Consistent probability sampling arithmetic (OpenTelemetry "TraceState: Probability
//! Sampling", OTEP 235) and the legacy FNV hash of the Go Collector's `hash_seed` mode.
//!
//! Randomness `R` and thresholds `T` are 56-bit unsigned numbers; an item is sampled when
//! `R >= T`. `T = 0` samples everything, `T = 2^56` nothing. In the W3C `tracestate`, the `ot`
//! member carries `rv:` (R, 14 hex digits) and `th:` (T, 1–14 hex digits, trailing zeros
//! dropped).

/// 2^56: the number of distinct randomness values.
pub const MAX_ADJUSTED_COUNT: u64 = 1 << 56;
/// Hex digits of a full-precision threshold or randomness value.
pub const NUM_HEX_DIGITS: u32 = 14;
/// The smallest probability a threshold can express.
pub const MIN_SAMPLING_PROBABILITY: f64 = 1.0 / MAX_ADJUSTED_COUNT as f64;

/// The legacy hash mode's bucket count (14 bits) and mask.
pub const NUM_HASH_BUCKETS: u32 = 0x4000;
pub const BIT_MASK_HASH_BUCKETS: u32 = NUM_HASH_BUCKETS - 1;

/// 56 bits of randomness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Randomness(pub u64);

/// A rejection threshold: sampled when randomness >= threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Threshold(pub u64);

impl Randomness {
    /// What items without randomness are given: passes every threshold but "never".
    pub const ALL_PROBABILITIES: Randomness = Randomness(MAX_ADJUSTED_COUNT - 1);

    /// The least-significant 56 bits of a trace id (W3C Trace Context level 2 random flag).
    pub fn from_trace_id(trace_id: &[u8]) -> Option<Randomness> {
        let id: &[u8; 16] = trace_id.try_into().ok()?;
        if id.iter().all(|b| *b == 0) {
            return None;
        }
        let mut b = [0u8; 8];
        b[1..].copy_from_slice(&id[9..]);
        Some(Randomness(u64::from_be_bytes(b)))
    }

    /// An `rv` value: exactly 14 hex digits.
    pub fn parse(rv: &str) -> Option<Randomness> {
        if rv.len() != NUM_HEX_DIGITS as usize {
            return None;
        }
        u64::from_str_radix(rv, 16).ok().map(Randomness)
    }

    /// The `rv` encoding: 14 lower-case hex digits.
    pub fn rvalue(self) -> String {
        format!("{:014x}", self.0)
    }
}

impl Threshold {
    pub const ALWAYS_SAMPLE: Threshold = Threshold(0);
    pub const NEVER_SAMPLE: Threshold = Threshold(MAX_ADJUSTED_COUNT);

    #[inline]
    pub fn should_sample(self, r: Randomness) -> bool {
        r.0 >= self.0
    }

    /// A `th` value: 1 to 14 hex digits, the missing ones being trailing zeros.
    pub fn parse(th: &str) -> Option<Threshold> {
        if th.is_empty() || th.len() > NUM_HEX_DIGITS as usize {
            return None;
        }
        let v = u64::from_str_radix(th, 16).ok()?;
        Some(Threshold(v << (4 * (NUM_HEX_DIGITS as usize - th.len()))))
    }

    /// The `th` encoding; `None` for never-sample, which has none.
    pub fn tvalue(self) -> Option<String> {
        match self {
            Threshold::ALWAYS_SAMPLE => Some("0".into()),
            Threshold::NEVER_SAMPLE => None,
            Threshold(t) => {
                let digits = format!("{t:014x}");
                Some(digits.trim_end_matches('0').to_string())
            }
        }
    }

    /// The sampling probability this threshold expresses.
    pub fn probability(self) -> f64 {
        (MAX_ADJUSTED_COUNT - self.0) as f64 / MAX_ADJUSTED_COUNT as f64
    }

    /// The threshold of a probability with `precision` significant hex digits (0: all 14),
    /// rounded to nearest; precision grows by one digit per leading `f` so probabilities near
    /// 1 keep their meaning.
    pub fn from_probability(prob: f64, precision: u32) -> Result<Threshold, ProbabilityError> {
        if !(MIN_SAMPLING_PROBABILITY..=1.0).contains(&prob) {
            return Err(ProbabilityError::Range);
        }
        let scaled = (prob * MAX_ADJUSTED_COUNT as f64).round() as u64;
        let full = MAX_ADJUSTED_COUNT - scaled;
        if precision == 0 {
            return Ok(Threshold(full));
        }
        if prob == 1.0 {
            return Ok(Threshold::ALWAYS_SAMPLE);
        }
        let mut precision = precision;
        let mut reject = 1.0 - prob;
        while reject * 16.0 < 1.0 {
            reject *= 16.0;
            precision += 1;
        }
        if precision > NUM_HEX_DIGITS {
            return Err(ProbabilityError::PrecisionUnderflow);
        }
        let shift = 4 * (NUM_HEX_DIGITS - precision);
        if shift == 0 {
            return Ok(Threshold(full));
        }
        let half = 1u64 << (shift - 1);
        Ok(Threshold(((full + half) >> shift) << shift))
    }
}

/// Why a probability has no threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbabilityError {
    /// Outside [2^-56, 1].
    Range,
    /// The precision asked for, plus the leading `f` digits, exceeds 14 digits.
    PrecisionUnderflow,
}

/// FNV-1a (32 bit) of the seed's four little-endian bytes followed by `data`: the Go
/// Collector's `computeHash`.
pub fn fnv1a_seeded(data: &[u8], seed: u32) -> u32 {
    const OFFSET: u32 = 2_166_136_261;
    const PRIME: u32 = 16_777_619;
    let mut h = OFFSET;
    for b in seed.to_le_bytes().iter().chain(data) {
        h ^= u32::from(*b);
        h = h.wrapping_mul(PRIME);
    }
    h
}

/// The legacy hash as 56-bit randomness, laid out as the Go Collector does so that the
/// consistent-sampling comparison `R >= T` makes the same decision as the legacy
/// `hash & 0x3fff < scaled_rate`: the top 14 bits are `0x3fff - (hash & 0x3fff)`, the next 28
/// mix the 18 unused hash bits, the last 14 are the bucket.
pub fn randomness_from_hash(data: &[u8], seed: u32) -> Randomness {
    let hashed32 = fnv1a_seeded(data, seed);
    let hashed = u64::from(hashed32 & BIT_MASK_HASH_BUCKETS);
    let rprime14 = u64::from(NUM_HASH_BUCKETS) - 1 - hashed;
    let unused18 = u64::from(hashed32 >> 14);
    let mixed28 = unused18 ^ (unused18 << 10);
    Randomness((rprime14 << 42) | (mixed28 << 14) | hashed)
}

/// The legacy mode's threshold for a percentage: `uint32(pct * 0x4000 / 100)` accept buckets
/// (float32 multiply, truncated, as in Go), turned into a rejection threshold. `None` when the
/// percentage rounds to zero buckets.
pub fn hash_threshold(percent: f32) -> Option<Threshold> {
    let scaled = (percent * (NUM_HASH_BUCKETS as f32 / 100.0)) as u32;
    if scaled == 0 {
        return None;
    }
    let reject = u64::from(NUM_HASH_BUCKETS.saturating_sub(scaled));
    Some(Threshold(reject << 42))
}

/// The `ot` member of a W3C tracestate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OtelTraceState {
    pub rv: Option<Randomness>,
    pub th: Option<Threshold>,
    /// Other `key:value` pairs, kept in order.
    pub extra: Vec<(String, String)>,
}

/// A parsed W3C tracestate: the `ot` member and the others, verbatim.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceState {
    pub ot: OtelTraceState,
    pub others: Vec<String>,
}

/// Why a tracestate (or the sampling attributes of a log record) could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamplerError {
    Syntax,
    InconsistentArrivingThreshold,
    MissingRandomness,
    RandomnessInUse,
    ThresholdInUse,
}

impl std::fmt::Display for SamplerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SamplerError::Syntax => "invalid syntax",
            SamplerError::InconsistentArrivingThreshold => {
                "inconsistent arriving t-value: span should not have been sampled"
            }
            SamplerError::MissingRandomness => "missing randomness",
            SamplerError::RandomnessInUse => {
                "log record has sampling randomness, equalizing or proportional mode recommended"
            }
            SamplerError::ThresholdInUse => {
                "log record has sampling threshold, equalizing or proportional mode recommended"
            }
        })
    }
}

fn valid_otel_key(k: &str) -> bool {
    let mut c = k.bytes();
    matches!(c.next(), Some(b'a'..=b'z')) && c.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn valid_otel_value(v: &str) -> bool {
    v.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl OtelTraceState {
    /// Parses `rv:...;th:...;k:v`; an invalid `rv` or `th` is an error, as in the Go sampler.
    pub fn parse(s: &str) -> Result<OtelTraceState, SamplerError> {
        if s.len() > 256 {
            return Err(SamplerError::Syntax);
        }
        let mut out = OtelTraceState::default();
        for member in s.split(';') {
            let (k, v) = member.split_once(':').ok_or(SamplerError::Syntax)?;
            if !valid_otel_key(k) || !valid_otel_value(v) {
                return Err(SamplerError::Syntax);
            }
            match k {
                "rv" => out.rv = Some(Randomness::parse(v).ok_or(SamplerError::Syntax)?),
                "th" => out.th = Some(Threshold::parse(v).ok_or(SamplerError::Syntax)?),
                _ => out.extra.push((k.to_string(), v.to_string())),
            }
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.rv.is_none() && self.th.is_none() && self.extra.is_empty()
    }

    /// `rv`, then `th`, then the others, as the Go sampler writes them.
    pub fn serialize(&self, out: &mut String) {
        let mut sep = false;
        let mut put = |out: &mut String, k: &str, v: &str| {
            if sep {
                out.push(';');
            }
            sep = true;
            out.push_str(k);
            out.push(':');
            out.push_str(v);
        };
        if let Some(rv) = self.rv {
            put(out, "rv", &rv.rvalue());
        }
        if let Some(tv) = self.th.and_then(Threshold::tvalue) {
            put(out, "th", &tv);
        }
        for (k, v) in &self.extra {
            put(out, k, v);
        }
    }

    /// Sets the threshold of a sampled item; refuses (keeping the old one, returning false) to
    /// raise an arriving probability.
    pub fn update_threshold(&mut self, th: Threshold) -> bool {
        if self.th.is_some_and(|old| old > th) {
            return false;
        }
        self.th = (th != Threshold::NEVER_SAMPLE).then_some(th);
        true
    }
}

impl TraceState {
    pub fn parse(s: &str) -> Result<TraceState, SamplerError> {
        let mut out = TraceState::default();
        for member in s.split(',') {
            let member = member.trim_matches([' ', '\t']);
            if member.is_empty() {
                continue;
            }
            let (k, v) = member.split_once('=').ok_or(SamplerError::Syntax)?;
            if k == "ot" {
                out.ot = OtelTraceState::parse(v)?;
            } else {
                out.others.push(member.to_string());
            }
        }
        Ok(out)
    }

    /// `ot` first, then the other vendors in their order.
    pub fn serialize(&self) -> String {
        let mut out = String::new();
        if !self.ot.is_empty() {
            out.push_str("ot=");
            self.ot.serialize(&mut out);
        }
        for m in &self.others {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(m);
        }
        out
    }
}
