//! `processors::tail_sampling` configuration: the keys, defaults and policy types of the Go
//! Collector's `tailsamplingprocessor` (README of collector-contrib, `bytes_limiting` and `drop`
//! included; `not` as later Go versions spell it).

use std::time::Duration;

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, duration};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TailSamplingConfig {
    /// Wait after a trace's first span before deciding on it.
    #[serde(deserialize_with = "duration::deserialize")]
    pub decision_wait: Duration,
    /// When a trace's root span (no parent span id) arrives, decide this long after it if
    /// that is sooner than `decision_wait` after the first span; 0 (the default) disables.
    #[serde(deserialize_with = "duration::deserialize")]
    pub decision_wait_after_root_received: Duration,
    /// Traces kept in memory (pending and decided); the oldest is dropped when full.
    pub num_traces: u64,
    /// Sizing hint for the trace table.
    pub expected_new_traces_per_sec: u64,
    pub decision_cache: DecisionCacheConfig,
    /// Stop evaluating at the first policy that samples.
    pub sample_on_first_match: bool,
    /// On shutdown drop the traces still waiting instead of deciding on what arrived.
    pub drop_pending_traces_on_shutdown: bool,
    /// A pending trace whose buffered spans grow past this many encoded bytes is dropped at
    /// once (counted in `traces_dropped_too_large`; its later spans are late, not sampled).
    /// 0 (the default): no limit.
    pub maximum_trace_size_bytes: u64,
    /// When `num_traces` are in memory and all are pending, a new trace waits (its request is
    /// held: back-pressure) until a decision frees room, instead of pushing out the oldest.
    pub block_on_overflow: bool,
    pub sampling_strategy: SamplingStrategy,
    /// Go (v0.159+) splits the table into this many shards, each with its own goroutine.
    /// Accepted; ferrotel keeps one table (cutting requests by trace id runs outside its lock
    /// on the receiving tasks), so the value has no effect.
    pub num_shards: u32,
    /// Go's `tail_storage` (an extension holding pending spans, behind a feature gate):
    /// refused by [`ComponentConfig::validate`], ferrotel has no such extension.
    pub tail_storage: Option<serde::de::IgnoredAny>,
    /// Go's `processor.tailsamplingprocessor.recordpolicy` feature gate as a key (ferrotel has
    /// no feature gates): sampled spans get `tailsampling.policy` (the policy that sampled),
    /// `tailsampling.composite_policy` (its composite sub-policy) and, when released by the
    /// sampled decision cache, `tailsampling.cached_decision: true`.
    pub record_policy: bool,
    pub policies: Vec<PolicyConfig>,
}

/// `sampling_strategy`: when decisions are made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SamplingStrategy {
    /// Decide on the whole trace after `decision_wait` (Go's default).
    #[default]
    TraceComplete,
    /// Go: evaluate each received batch on its own at once. Refused by ferrotel for now.
    SpanIngest,
}

impl Default for TailSamplingConfig {
    fn default() -> Self {
        TailSamplingConfig {
            decision_wait: Duration::from_secs(30),
            decision_wait_after_root_received: Duration::ZERO,
            num_traces: 50_000,
            expected_new_traces_per_sec: 0,
            decision_cache: DecisionCacheConfig::default(),
            sample_on_first_match: false,
            drop_pending_traces_on_shutdown: false,
            maximum_trace_size_bytes: 0,
            block_on_overflow: false,
            sampling_strategy: SamplingStrategy::TraceComplete,
            num_shards: 1,
            tail_storage: None,
            record_policy: false,
            policies: Vec::new(),
        }
    }
}

/// Trace ids remembered after their spans left memory, so late spans follow the decision.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecisionCacheConfig {
    pub sampled_cache_size: usize,
    pub non_sampled_cache_size: usize,
}

/// One policy, at any level (top level, `and`/`drop`/`not` sub-policy, composite sub-policy):
/// which keys are allowed where is checked by [`PolicyConfig::check`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub latency: LatencyConfig,
    pub numeric_attribute: NumericAttributeConfig,
    pub probabilistic: ProbabilisticConfig,
    pub status_code: StatusCodeConfig,
    pub string_attribute: StringAttributeConfig,
    pub rate_limiting: RateLimitingConfig,
    pub bytes_limiting: BytesLimitingConfig,
    pub span_count: SpanCountConfig,
    pub trace_state: TraceStateConfig,
    pub boolean_attribute: BooleanAttributeConfig,
    pub ottl_condition: OttlConditionConfig,
    pub and: AndConfig,
    pub drop: DropConfig,
    pub not: NotConfig,
    pub composite: CompositeConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatencyConfig {
    pub threshold_ms: i64,
    pub upper_threshold_ms: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NumericAttributeConfig {
    pub key: String,
    pub min_value: Option<i64>,
    pub max_value: Option<i64>,
    pub invert_match: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProbabilisticConfig {
    pub hash_salt: String,
    pub sampling_percentage: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusCodeConfig {
    pub status_codes: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StringAttributeConfig {
    pub key: String,
    pub values: Vec<String>,
    pub enabled_regex_matching: bool,
    pub cache_max_size: usize,
    pub invert_match: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitingConfig {
    pub spans_per_second: i64,
    /// Default: twice `spans_per_second` (Go's token bucket).
    pub burst_capacity: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BytesLimitingConfig {
    pub bytes_per_second: i64,
    /// Default: twice `bytes_per_second`.
    pub burst_capacity: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpanCountConfig {
    pub min_spans: i32,
    /// 0: no upper bound.
    pub max_spans: i32,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TraceStateConfig {
    pub key: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BooleanAttributeConfig {
    pub key: String,
    pub value: bool,
    pub invert_match: bool,
}

/// OTTL's `error_mode`, as the filter and transform processors read it. In a policy,
/// `propagate` makes the decision an error (counted; the trace is not sampled by it).
pub use crate::processors::filter::config::ErrorMode;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OttlConditionConfig {
    pub error_mode: ErrorMode,
    pub span: Vec<String>,
    pub spanevent: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AndConfig {
    pub and_sub_policy: Vec<PolicyConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DropConfig {
    pub drop_sub_policy: Vec<PolicyConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotConfig {
    pub not_sub_policy: Option<Box<PolicyConfig>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompositeConfig {
    pub max_total_spans_per_second: i64,
    pub policy_order: Vec<String>,
    pub composite_sub_policy: Vec<PolicyConfig>,
    pub rate_allocation: Vec<RateAllocationConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateAllocationConfig {
    pub policy: String,
    pub percent: i64,
}

/// Where a policy sits: which types it may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Top,
    /// `composite_sub_policy`: the simple types and `and`.
    CompositeSub,
    /// `and_sub_policy`, `drop_sub_policy`, `not_sub_policy`: the simple types and `not`.
    Sub,
}

/// Policy types without sub-policies.
pub const SIMPLE_TYPES: &[&str] = &[
    "always_sample",
    "latency",
    "numeric_attribute",
    "probabilistic",
    "status_code",
    "string_attribute",
    "rate_limiting",
    "bytes_limiting",
    "span_count",
    "trace_state",
    "trace_flags",
    "boolean_attribute",
    "ottl_condition",
];

impl PolicyConfig {
    /// Checks the policy at `path` (`policies[2]`): a known type for its level, the fields
    /// that type needs.
    pub fn check(&self, path: &str, level: Level) -> Result<(), ConfigError> {
        let t = self.type_.as_str();
        let field = |f: &str| format!("{path}::{f}");
        let allowed = SIMPLE_TYPES.contains(&t)
            || match level {
                Level::Top => matches!(t, "and" | "drop" | "not" | "composite"),
                Level::CompositeSub => t == "and",
                Level::Sub => t == "not",
            };
        if t.is_empty() {
            return Err(ConfigError::field(
                &field("type"),
                "policy type is required",
            ));
        }
        if !allowed {
            return Err(ConfigError::field(
                &field("type"),
                format!("unknown sampling policy type {t}"),
            ));
        }
        match t {
            "latency" => {
                let l = &self.latency;
                if l.threshold_ms < 0 || l.upper_threshold_ms < 0 {
                    return Err(ConfigError::field(
                        &field("latency"),
                        "threshold_ms and upper_threshold_ms must not be negative",
                    ));
                }
                if l.upper_threshold_ms != 0 && l.upper_threshold_ms < l.threshold_ms {
                    return Err(ConfigError::field(
                        &field("latency::upper_threshold_ms"),
                        "upper_threshold_ms must be greater than or equal to threshold_ms",
                    ));
                }
            }
            "numeric_attribute" => {
                let n = &self.numeric_attribute;
                if n.key.is_empty() {
                    return Err(ConfigError::field(
                        &field("numeric_attribute::key"),
                        "key is required",
                    ));
                }
                if n.min_value.is_none() && n.max_value.is_none() {
                    return Err(ConfigError::field(
                        &field("numeric_attribute"),
                        "at least one of min_value and max_value must be set",
                    ));
                }
                if let (Some(min), Some(max)) = (n.min_value, n.max_value)
                    && max < min
                {
                    return Err(ConfigError::field(
                        &field("numeric_attribute::max_value"),
                        "max_value must be greater than or equal to min_value",
                    ));
                }
            }
            "probabilistic" => {
                let p = self.probabilistic.sampling_percentage;
                if !p.is_finite() || p < 0.0 {
                    return Err(ConfigError::field(
                        &field("probabilistic::sampling_percentage"),
                        format!("sampling_percentage must be a number from 0 to 100, got {p}"),
                    ));
                }
            }
            "status_code" => {
                let codes = &self.status_code.status_codes;
                if codes.is_empty() {
                    return Err(ConfigError::field(
                        &field("status_code::status_codes"),
                        "expected at least one status code to filter on",
                    ));
                }
                for (i, c) in codes.iter().enumerate() {
                    if !matches!(c.as_str(), "OK" | "ERROR" | "UNSET") {
                        return Err(ConfigError::field(
                            &field(&format!("status_code::status_codes[{i}]")),
                            format!("unknown status code {c:?}, supported: OK, ERROR, UNSET"),
                        ));
                    }
                }
            }
            "string_attribute" => {
                let s = &self.string_attribute;
                if s.key.is_empty() {
                    return Err(ConfigError::field(
                        &field("string_attribute::key"),
                        "key is required",
                    ));
                }
                if s.enabled_regex_matching {
                    for (i, v) in s.values.iter().enumerate() {
                        regex::Regex::new(v).map_err(|e| {
                            ConfigError::field(
                                &field(&format!("string_attribute::values[{i}]")),
                                format!("invalid regular expression: {e}"),
                            )
                        })?;
                    }
                }
            }
            "rate_limiting" => {
                let r = &self.rate_limiting;
                if r.spans_per_second <= 0 {
                    return Err(ConfigError::field(
                        &field("rate_limiting::spans_per_second"),
                        "spans_per_second must be greater than 0",
                    ));
                }
                if r.burst_capacity < 0 {
                    return Err(ConfigError::field(
                        &field("rate_limiting::burst_capacity"),
                        "burst_capacity must not be negative",
                    ));
                }
            }
            "bytes_limiting" => {
                let b = &self.bytes_limiting;
                if b.bytes_per_second <= 0 {
                    return Err(ConfigError::field(
                        &field("bytes_limiting::bytes_per_second"),
                        "bytes_per_second must be greater than 0",
                    ));
                }
                if b.burst_capacity < 0 {
                    return Err(ConfigError::field(
                        &field("bytes_limiting::burst_capacity"),
                        "burst_capacity must not be negative",
                    ));
                }
            }
            "span_count" => {
                let s = &self.span_count;
                if s.max_spans != 0 && s.max_spans < s.min_spans {
                    return Err(ConfigError::field(
                        &field("span_count::max_spans"),
                        "max_spans must be greater than or equal to min_spans",
                    ));
                }
            }
            "trace_state" => {
                let t = &self.trace_state;
                if t.key.is_empty() {
                    return Err(ConfigError::field(
                        &field("trace_state::key"),
                        "key is required",
                    ));
                }
                for (i, v) in t.values.iter().enumerate() {
                    // The W3C limit on a list member.
                    if t.key.len() + v.len() >= 256 {
                        return Err(ConfigError::field(
                            &field(&format!("trace_state::values[{i}]")),
                            "the key and value of a trace state entry must be shorter than 256 characters",
                        ));
                    }
                }
            }
            "boolean_attribute" if self.boolean_attribute.key.is_empty() => {
                return Err(ConfigError::field(
                    &field("boolean_attribute::key"),
                    "key is required",
                ));
            }
            "ottl_condition" => {
                let o = &self.ottl_condition;
                if o.span.is_empty() && o.spanevent.is_empty() {
                    return Err(ConfigError::field(
                        &field("ottl_condition"),
                        "at least one span or spanevent condition is required",
                    ));
                }
                for (name, conds, ctx) in [
                    ("span", &o.span, ferrotel_ottl::Ctx::Span),
                    ("spanevent", &o.spanevent, ferrotel_ottl::Ctx::SpanEvent),
                ] {
                    for (i, c) in conds.iter().enumerate() {
                        ferrotel_ottl::parse_conditions(std::slice::from_ref(c), ctx).map_err(
                            |e| {
                                ConfigError::field(
                                    &field(&format!("ottl_condition::{name}[{i}]")),
                                    e,
                                )
                            },
                        )?;
                    }
                }
            }
            "and" => check_subs(
                &self.and.and_sub_policy,
                &field("and::and_sub_policy"),
                Level::Sub,
            )?,
            "drop" => check_subs(
                &self.drop.drop_sub_policy,
                &field("drop::drop_sub_policy"),
                Level::Sub,
            )?,
            "not" => match &self.not.not_sub_policy {
                None => {
                    return Err(ConfigError::field(
                        &field("not::not_sub_policy"),
                        "a not policy needs a sub-policy",
                    ));
                }
                Some(p) => p.check(&field("not::not_sub_policy"), Level::Sub)?,
            },
            "composite" => {
                let c = &self.composite;
                if c.max_total_spans_per_second <= 0 {
                    return Err(ConfigError::field(
                        &field("composite::max_total_spans_per_second"),
                        "max_total_spans_per_second must be greater than 0",
                    ));
                }
                check_subs(
                    &c.composite_sub_policy,
                    &field("composite::composite_sub_policy"),
                    Level::CompositeSub,
                )?;
                // Go accepts policy_order and rate_allocation entries naming no sub-policy
                // (and evaluates in composite_sub_policy order): warn, do not refuse.
                let known = |n: &str| c.composite_sub_policy.iter().any(|p| p.name == n);
                for n in c.policy_order.iter().filter(|n| !known(n)) {
                    tracing::warn!(path, policy = %n, "composite policy_order names no composite_sub_policy");
                }
                for r in c.rate_allocation.iter().filter(|r| !known(&r.policy)) {
                    tracing::warn!(path, policy = %r.policy, "composite rate_allocation names no composite_sub_policy: it is unused");
                }
                let total: i64 = c.rate_allocation.iter().map(|r| r.percent.max(0)).sum();
                if total > 100 {
                    tracing::warn!(
                        path,
                        total,
                        "composite rate_allocation percentages add up to more than 100"
                    );
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn check_subs(subs: &[PolicyConfig], path: &str, level: Level) -> Result<(), ConfigError> {
    if subs.is_empty() {
        return Err(ConfigError::field(
            path,
            "at least one sub-policy is required",
        ));
    }
    for (i, p) in subs.iter().enumerate() {
        p.check(&format!("{path}[{i}]"), level)?;
    }
    Ok(())
}

impl ComponentConfig for TailSamplingConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.policies.is_empty() {
            return Err(ConfigError::field("policies", "no policies configured"));
        }
        if self.decision_wait.is_zero() {
            return Err(ConfigError::field(
                "decision_wait",
                "decision_wait must be greater than 0",
            ));
        }
        if self.num_traces == 0 {
            return Err(ConfigError::field(
                "num_traces",
                "num_traces must be greater than 0",
            ));
        }
        if self.num_shards == 0 {
            return Err(ConfigError::field(
                "num_shards",
                "num_shards must be greater than 0",
            ));
        }
        if self.sampling_strategy == SamplingStrategy::SpanIngest {
            return Err(ConfigError::field(
                "sampling_strategy",
                "span-ingest is not supported by ferrotel (yet): use trace-complete, the default",
            ));
        }
        if self.tail_storage.is_some() {
            // Go refuses it too unless its feature gate is on; ferrotel has no tail storage.
            return Err(ConfigError::field(
                "tail_storage",
                "tail storage extensions are not supported by ferrotel: pending spans are held in memory (remove tail_storage)",
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, p) in self.policies.iter().enumerate() {
            let path = format!("policies[{i}]");
            if p.name.is_empty() {
                return Err(ConfigError::field(
                    &format!("{path}::name"),
                    "policy name cannot be empty",
                ));
            }
            if !names.insert(p.name.as_str()) {
                return Err(ConfigError::field(
                    &format!("{path}::name"),
                    format!("duplicate policy name {:?}", p.name),
                ));
            }
            p.check(&path, Level::Top)?;
        }
        Ok(())
    }
}
