//! `include`/`exclude` of the `attributes` processor: which spans, log records and metrics the
//! actions apply to, with the Go Collector's `filterconfig` keys and rules.
//!
//! Within one list (`services`, `span_names`, ...) any entry may match; every list that is set
//! must match; `attributes` and `resources` require all their entries to match.

use ferrotel_pdata::Signal;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::logs::v1::LogRecord;
use ferrotel_pdata::proto::trace::v1::Span;
use regex::Regex;
use serde::Deserialize;

use super::actions::{as_string, json_to_any};

/// One `include` or `exclude` section.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MatchProperties {
    /// `strict` or `regexp` (required).
    pub match_type: String,
    /// Options of the Go regexp filter set (`cacheenabled`, `cachemaxnumentries`): accepted
    /// for compatibility; compiled regexes need no cache here.
    pub regexp: Option<serde_json::Value>,
    /// Matched against the resource's `service.name` (spans).
    pub services: Vec<String>,
    pub span_names: Vec<String>,
    /// `SPAN_KIND_SERVER`, `SPAN_KIND_CLIENT`, ... (spans).
    pub span_kinds: Vec<String>,
    /// Matched against the body rendered as a string (logs).
    pub log_bodies: Vec<String>,
    pub log_severity_texts: Vec<String>,
    pub log_severity_number: Option<SeverityNumberMatch>,
    pub metric_names: Vec<String>,
    /// Item attributes; all must match. Without `value`, the key must exist.
    pub attributes: Vec<AttributeMatch>,
    /// Resource attributes; all must match.
    pub resources: Vec<AttributeMatch>,
    /// Instrumentation scope name and optional version.
    pub libraries: Vec<LibraryMatch>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AttributeMatch {
    pub key: String,
    pub value: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LibraryMatch {
    pub name: String,
    /// Absent matches any version; empty matches only an empty version.
    pub version: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SeverityNumberMatch {
    /// The lowest severity matched: a number or a name (`INFO`, `warn2`, ...).
    pub min: SeverityNumber,
    /// Whether records with no severity (0) match.
    pub match_undefined: bool,
}

/// A log severity number, written as a number or as its name.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SeverityNumber(pub i32);

impl<'de> Deserialize<'de> for SeverityNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(i32),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(SeverityNumber(n)),
            Raw::S(s) => severity_from_name(&s)
                .map(SeverityNumber)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown severity {s:?}"))),
        }
    }
}

fn severity_from_name(s: &str) -> Option<i32> {
    let upper = s.to_ascii_uppercase();
    let (base, rest) = [
        ("TRACE", 1),
        ("DEBUG", 5),
        ("INFO", 9),
        ("WARN", 13),
        ("ERROR", 17),
        ("FATAL", 21),
    ]
    .iter()
    .find_map(|(n, b)| upper.strip_prefix(n).map(|r| (*b, r.to_string())))?;
    match rest.as_str() {
        "" => Some(base),
        "2" | "3" | "4" => Some(base + rest.parse::<i32>().ok()? - 1),
        _ => None,
    }
}

const SPAN_KINDS: [&str; 5] = [
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_CONSUMER",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_SERVER",
];

fn span_kind_str(kind: i32) -> &'static str {
    match kind {
        1 => "SPAN_KIND_INTERNAL",
        2 => "SPAN_KIND_SERVER",
        3 => "SPAN_KIND_CLIENT",
        4 => "SPAN_KIND_PRODUCER",
        5 => "SPAN_KIND_CONSUMER",
        _ => "SPAN_KIND_UNSPECIFIED",
    }
}

impl MatchProperties {
    /// The Go Collector's per-signal checks (`ValidateForSpans`, `ValidateForLogs`).
    pub fn validate_for(&self, signal: Signal) -> Result<(), String> {
        match signal {
            Signal::Traces => {
                if !self.log_bodies.is_empty() {
                    return Err("log_bodies should not be specified for trace spans".into());
                }
                if !self.log_severity_texts.is_empty() {
                    return Err("log_severity_texts should not be specified for trace spans".into());
                }
                if self.log_severity_number.is_some() {
                    return Err(
                        "log_severity_number should not be specified for trace spans".into(),
                    );
                }
                if self.services.is_empty()
                    && self.span_names.is_empty()
                    && self.attributes.is_empty()
                    && self.libraries.is_empty()
                    && self.resources.is_empty()
                    && self.span_kinds.is_empty()
                {
                    return Err(
                        "at least one of \"attributes\", \"libraries\",  or \"resources\" field must be specified"
                            .into(),
                    );
                }
                if self.match_type == "strict"
                    && self
                        .span_kinds
                        .iter()
                        .any(|k| !SPAN_KINDS.contains(&k.as_str()))
                {
                    return Err(format!(
                        "span_kinds string must match one of the standard span kinds when match_type=strict: [{}]",
                        SPAN_KINDS.join(" ")
                    ));
                }
            }
            Signal::Logs => {
                if !self.span_names.is_empty()
                    || !self.services.is_empty()
                    || !self.span_kinds.is_empty()
                {
                    return Err(
                        "services, span_names, and span_kinds are not valid for log records".into(),
                    );
                }
                if self.attributes.is_empty()
                    && self.libraries.is_empty()
                    && self.resources.is_empty()
                    && self.log_bodies.is_empty()
                    && self.log_severity_texts.is_empty()
                    && self.log_severity_number.is_none()
                {
                    return Err("at least one of \"attributes\", \"libraries\", \"span_kinds\", \"resources\", \"log_bodies\", \"log_severity_texts\" or \"log_severity_number\" field must be specified".into());
                }
            }
            Signal::Metrics | Signal::Profiles => {}
        }
        Ok(())
    }
}

/// A list of names or patterns, compiled.
#[derive(Debug, Clone)]
enum Names {
    Strict(Vec<String>),
    Regexp(Vec<Regex>),
}

impl Names {
    fn matches(&self, s: &str) -> bool {
        match self {
            Names::Strict(v) => v.iter().any(|n| n == s),
            Names::Regexp(v) => v.iter().any(|r| r.is_match(s)),
        }
    }
}

#[derive(Debug, Clone)]
enum ValueMatch {
    Exists,
    Equals(AnyValue),
    Regexp(Regex),
}

#[derive(Debug, Clone)]
struct AttrMatch {
    key: String,
    value: ValueMatch,
}

/// A compiled `include` or `exclude`.
#[derive(Debug, Clone)]
pub struct Matcher {
    services: Option<Names>,
    span_names: Option<Names>,
    span_kinds: Option<Names>,
    log_bodies: Option<Names>,
    log_severity_texts: Option<Names>,
    log_severity_number: Option<SeverityNumberMatch>,
    metric_names: Option<Names>,
    attributes: Vec<AttrMatch>,
    resources: Vec<AttrMatch>,
    /// Each library's name and, when given, version: every entry must match (Go's
    /// `filtermatcher`), and versions follow `match_type` like names.
    libraries: Vec<(Names, Option<Names>)>,
}

impl Matcher {
    pub fn new(p: &MatchProperties) -> Result<Self, String> {
        let regexp = match p.match_type.as_str() {
            "strict" => false,
            "regexp" => true,
            other => {
                return Err(format!(
                    "unrecognized match_type: '{other}', valid types are: [regexp strict]"
                ));
            }
        };
        let names = |list: &[String]| -> Result<Option<Names>, String> {
            if list.is_empty() {
                return Ok(None);
            }
            Ok(Some(if regexp {
                Names::Regexp(
                    list.iter()
                        .map(|s| Regex::new(s).map_err(|e| format!("error parsing regexp: {e}")))
                        .collect::<Result<_, _>>()?,
                )
            } else {
                Names::Strict(list.to_vec())
            }))
        };
        let attrs = |list: &[AttributeMatch]| -> Result<Vec<AttrMatch>, String> {
            list.iter()
                .map(|a| {
                    if a.key.is_empty() {
                        return Err("error creating processor. Can't have empty key in the list of attributes".to_string());
                    }
                    let value = match (&a.value, regexp) {
                        (None, _) => ValueMatch::Exists,
                        (Some(v), false) => ValueMatch::Equals(json_to_any(v)),
                        (Some(serde_json::Value::String(s)), true) => ValueMatch::Regexp(
                            Regex::new(s).map_err(|e| format!("error parsing regexp: {e}"))?,
                        ),
                        (Some(_), true) => {
                            return Err(format!(
                                "match_type=regexp for \"{}\" key is only supported for strings",
                                a.key
                            ));
                        }
                    };
                    Ok(AttrMatch {
                        key: a.key.clone(),
                        value,
                    })
                })
                .collect()
        };
        Ok(Matcher {
            services: names(&p.services)?,
            span_names: names(&p.span_names)?,
            span_kinds: names(&p.span_kinds)?,
            log_bodies: names(&p.log_bodies)?,
            log_severity_texts: names(&p.log_severity_texts)?,
            log_severity_number: p.log_severity_number.clone(),
            metric_names: names(&p.metric_names)?,
            attributes: attrs(&p.attributes)?,
            resources: attrs(&p.resources)?,
            libraries: p
                .libraries
                .iter()
                .map(|l| {
                    let version = match &l.version {
                        Some(v) => names(std::slice::from_ref(v))?,
                        None => None,
                    };
                    Ok((names(std::slice::from_ref(&l.name))?.unwrap(), version))
                })
                .collect::<Result<_, String>>()?,
        })
    }

    /// Resource and scope conditions, shared by every signal.
    fn common(&self, resource: &[KeyValue], scope: Option<&InstrumentationScope>) -> bool {
        if !attrs_match(&self.resources, resource) {
            return false;
        }
        if !self.libraries.is_empty() {
            let (name, version) = scope.map_or(("", ""), |s| (s.name.as_str(), s.version.as_str()));
            let all = self
                .libraries
                .iter()
                .all(|(n, v)| n.matches(name) && v.as_ref().is_none_or(|v| v.matches(version)));
            if !all {
                return false;
            }
        }
        true
    }

    pub fn matches_span(
        &self,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        span: &Span,
    ) -> bool {
        if let Some(services) = &self.services {
            // Go's `serviceNameForResource`: the value as a string, or a marker when unset.
            let service = resource
                .iter()
                .find(|a| a.key == "service.name")
                .map_or_else(
                    || "<nil-service-name>".to_string(),
                    |a| a.value.as_ref().map(as_string).unwrap_or_default(),
                );
            if !services.matches(&service) {
                return false;
            }
        }
        self.common(resource, scope)
            && self
                .span_names
                .as_ref()
                .is_none_or(|n| n.matches(&span.name))
            && self
                .span_kinds
                .as_ref()
                .is_none_or(|n| n.matches(span_kind_str(span.kind)))
            && attrs_match(&self.attributes, &span.attributes)
    }

    pub fn matches_log(
        &self,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        log: &LogRecord,
    ) -> bool {
        if let Some(sev) = &self.log_severity_number {
            let ok = if log.severity_number == 0 {
                sev.match_undefined
            } else {
                log.severity_number >= sev.min.0
            };
            if !ok {
                return false;
            }
        }
        self.common(resource, scope)
            && self
                .log_bodies
                .as_ref()
                .is_none_or(|n| n.matches(&log.body.as_ref().map(as_string).unwrap_or_default()))
            && self
                .log_severity_texts
                .as_ref()
                .is_none_or(|n| n.matches(&log.severity_text))
            && attrs_match(&self.attributes, &log.attributes)
    }

    /// Metrics match on `metric_names` and `resources`, as the Go attributes processor's
    /// metric filter does.
    pub fn matches_metric(&self, resource: &[KeyValue], name: &str) -> bool {
        attrs_match(&self.resources, resource)
            && self.metric_names.as_ref().is_none_or(|n| n.matches(name))
    }
}

fn attrs_match(want: &[AttrMatch], attrs: &[KeyValue]) -> bool {
    want.iter().all(|m| {
        let Some(a) = attrs.iter().find(|a| a.key == m.key) else {
            return false;
        };
        match &m.value {
            ValueMatch::Exists => true,
            ValueMatch::Equals(v) => a.value.as_ref().unwrap_or(&AnyValue::default()) == v,
            ValueMatch::Regexp(re) => {
                regexp_subject(a.value.as_ref()).is_some_and(|s| re.is_match(&s))
            }
        }
    })
}

/// What a `regexp` attribute condition matches against, as Go's `attributeStringValue`:
/// strings as they are, booleans, ints and doubles written out (`strconv.FormatFloat(d, 'f',
/// -1, 64)`: no exponent); other types never match.
fn regexp_subject(v: Option<&AnyValue>) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    Some(match v?.value.as_ref()? {
        any_value::Value::StringValue(s) => Cow::Borrowed(s.as_str()),
        any_value::Value::BoolValue(b) => Cow::Owned(b.to_string()),
        any_value::Value::IntValue(i) => Cow::Owned(i.to_string()),
        any_value::Value::DoubleValue(d) if d.is_infinite() => {
            Cow::Borrowed(if *d > 0.0 { "+Inf" } else { "-Inf" })
        }
        // Rust writes the shortest digits that read back, without an exponent, as 'f', -1.
        any_value::Value::DoubleValue(d) => Cow::Owned(d.to_string()),
        _ => return None,
    })
}

/// The compiled `include`/`exclude` pair: an item is processed when it matches `include` (if
/// set) and does not match `exclude` (if set).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub include: Option<Matcher>,
    pub exclude: Option<Matcher>,
}

impl Filter {
    pub fn new(
        include: Option<&MatchProperties>,
        exclude: Option<&MatchProperties>,
        signal: Signal,
    ) -> Result<Self, String> {
        let build = |p: Option<&MatchProperties>, what: &str| -> Result<Option<Matcher>, String> {
            p.map(|p| {
                p.validate_for(signal)
                    .and_then(|()| Matcher::new(p))
                    .map_err(|e| format!("{what}: {e}"))
            })
            .transpose()
        };
        Ok(Filter {
            include: build(include, "include")?,
            exclude: build(exclude, "exclude")?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.include.is_none() && self.exclude.is_none()
    }

    #[inline]
    pub fn keep(&self, matches: impl Fn(&Matcher) -> bool) -> bool {
        self.include.as_ref().is_none_or(&matches) && !self.exclude.as_ref().is_some_and(&matches)
    }
}
