//! OTLP ↔ Prometheus names, as the OpenTelemetry specification's Prometheus compatibility
//! section and the Go Collector's translator (`pkg/translator/prometheus`, now Prometheus's
//! `otlptranslator`) do it: unit suffixes from UCUM units, `_total` for monotonic counters,
//! `_ratio` for gauges of unit `1`, `_` for invalid characters; label names sanitised; and the
//! reverse (suffix trimming) for receivers that read Prometheus names back into OTLP.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;

/// How OTLP names become Prometheus names (`translation_strategy` of the Go exporters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum TranslationStrategy {
    /// Invalid characters become `_`; unit and type suffixes are added (the default).
    #[default]
    UnderscoreEscapingWithSuffixes,
    /// Invalid characters become `_`; no suffixes.
    UnderscoreEscapingWithoutSuffixes,
    /// Names keep their UTF-8 characters; suffixes are added.
    #[serde(rename = "NoUTF8EscapingWithSuffixes")]
    NoUtf8EscapingWithSuffixes,
    /// Names and labels pass through unaltered.
    NoTranslation,
}

impl TranslationStrategy {
    /// The strategy a config means: `translation_strategy` wins; otherwise the deprecated
    /// `add_metric_suffixes` picks between the two escaping strategies (as in Go).
    pub fn resolve(explicit: Option<TranslationStrategy>, add_metric_suffixes: bool) -> Self {
        match explicit {
            Some(s) => s,
            None if add_metric_suffixes => TranslationStrategy::UnderscoreEscapingWithSuffixes,
            None => TranslationStrategy::UnderscoreEscapingWithoutSuffixes,
        }
    }

    /// Whether invalid characters of the classic scheme become `_`.
    pub fn escapes(self) -> bool {
        matches!(
            self,
            TranslationStrategy::UnderscoreEscapingWithSuffixes
                | TranslationStrategy::UnderscoreEscapingWithoutSuffixes
        )
    }

    /// Whether unit and type suffixes are added.
    pub fn adds_suffixes(self) -> bool {
        matches!(
            self,
            TranslationStrategy::UnderscoreEscapingWithSuffixes
                | TranslationStrategy::NoUtf8EscapingWithSuffixes
        )
    }
}

impl fmt::Display for TranslationStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TranslationStrategy::UnderscoreEscapingWithSuffixes => "UnderscoreEscapingWithSuffixes",
            TranslationStrategy::UnderscoreEscapingWithoutSuffixes => {
                "UnderscoreEscapingWithoutSuffixes"
            }
            TranslationStrategy::NoUtf8EscapingWithSuffixes => "NoUTF8EscapingWithSuffixes",
            TranslationStrategy::NoTranslation => "NoTranslation",
        })
    }
}

/// What the name is for: only the type decides `_total` and `_ratio`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Gauge,
    /// A monotonic sum (Prometheus counter): `_total`.
    MonotonicCounter,
    /// A non-monotonic sum (served as a gauge, but no `_ratio`).
    NonMonotonicCounter,
    Histogram,
    ExponentialHistogram,
    Summary,
}

/// UCUM units the spec maps to Prometheus's (plural) unit words. A unit not listed passes as
/// it is (sanitised).
fn main_unit_word(unit: &str) -> &str {
    match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        other => other,
    }
}

/// The denominator of `x/y` units, singular (`By/s` → `bytes_per_second`).
fn per_unit_word(unit: &str) -> &str {
    match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    }
}

/// The reverse of [`main_unit_word`], for receivers: `seconds` → `s`. Unknown words stay.
pub fn ucum_unit(prometheus_unit: &str) -> Cow<'_, str> {
    let (main, per) = match prometheus_unit.split_once("_per_") {
        Some((m, p)) => (m, Some(p)),
        None => (prometheus_unit, None),
    };
    let main = match main {
        "days" => "d",
        "hours" => "h",
        "minutes" => "min",
        "seconds" => "s",
        "milliseconds" => "ms",
        "microseconds" => "us",
        "nanoseconds" => "ns",
        "bytes" => "By",
        "kibibytes" => "KiBy",
        "mebibytes" => "MiBy",
        "gibibytes" => "GiBy",
        "tibibytes" => "TiBy",
        "kilobytes" => "KBy",
        "megabytes" => "MBy",
        "gigabytes" => "GBy",
        "terabytes" => "TBy",
        "meters" => "m",
        "volts" => "V",
        "amperes" => "A",
        "joules" => "J",
        "watts" => "W",
        "grams" => "g",
        "celsius" => "Cel",
        "hertz" => "Hz",
        "ratio" => "1",
        "percent" => "%",
        other => other,
    };
    match per {
        None => Cow::Borrowed(main),
        Some(p) => {
            let p = match p {
                "second" => "s",
                "minute" => "m",
                "hour" => "h",
                "day" => "d",
                "week" => "w",
                "month" => "mo",
                "year" => "y",
                other => other,
            };
            Cow::Owned(format!("{main}/{p}"))
        }
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ':'
}

/// `_`-separated, sanitised, no leading `_`: the unit as a name suffix.
fn clean_unit(unit: &str) -> String {
    let mut out = String::with_capacity(unit.len());
    for tok in unit.split(|c: char| !(c.is_ascii_alphanumeric() || c == ':')) {
        if tok.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(tok);
    }
    out
}

/// The unit's suffix words: main (`bytes`) and per (`per_second`), either possibly empty.
/// Annotations (`{packet}`) give no suffix, as in Go.
pub fn unit_suffixes(unit: &str) -> (String, String) {
    let (main, per) = match unit.split_once('/') {
        Some((m, p)) => (m.trim(), Some(p.trim())),
        None => (unit.trim(), None),
    };
    let has_braces = |s: &str| s.contains(['{', '}']);
    let main = if main.is_empty() || has_braces(main) {
        String::new()
    } else {
        clean_unit(main_unit_word(main))
    };
    let per = match per {
        Some(p) if !p.is_empty() && !has_braces(p) => {
            let w = clean_unit(per_unit_word(p));
            if w.is_empty() {
                String::new()
            } else {
                format!("per_{w}")
            }
        }
        _ => String::new(),
    };
    (main, per)
}

/// The Prometheus unit of a metric (OpenMetrics `# UNIT`): `bytes`, `bytes_per_second`, or
/// empty for dimensionless and annotation-only units.
pub fn prometheus_unit(unit: &str) -> String {
    match unit_suffixes(unit) {
        (m, p) if p.is_empty() => m,
        (m, p) if m.is_empty() => p,
        (m, p) => format!("{m}_{p}"),
    }
}

/// Builds Prometheus metric names for one exporter (its namespace and strategy).
#[derive(Debug, Clone, Default)]
pub struct MetricNamer {
    pub namespace: String,
    pub strategy: TranslationStrategy,
}

impl MetricNamer {
    pub fn new(namespace: &str, strategy: TranslationStrategy) -> Self {
        MetricNamer {
            namespace: namespace.to_owned(),
            strategy,
        }
    }

    /// The Prometheus name of an OTLP metric. Never empty: a name that sanitises to nothing
    /// (`...`) becomes `_`, which the caller may reject.
    pub fn build(&self, name: &str, unit: &str, kind: MetricKind) -> String {
        let n = match self.strategy {
            TranslationStrategy::NoTranslation => self.prefixed(name),
            TranslationStrategy::NoUtf8EscapingWithSuffixes => {
                self.utf8_with_suffixes(name, unit, kind)
            }
            TranslationStrategy::UnderscoreEscapingWithSuffixes => {
                self.escaped_with_suffixes(name, unit, kind)
            }
            TranslationStrategy::UnderscoreEscapingWithoutSuffixes => self.escaped(name),
        };
        if n.is_empty() { "_".to_owned() } else { n }
    }

    fn prefixed(&self, name: &str) -> String {
        if self.namespace.is_empty() {
            name.to_owned()
        } else {
            format!("{}_{name}", self.namespace)
        }
    }

    /// Go's full normalisation: tokens of valid characters joined by `_` (which also collapses
    /// runs of `_`), unit words appended unless already a token, `_total`/`_ratio` moved to
    /// the end.
    fn escaped_with_suffixes(&self, name: &str, unit: &str, kind: MetricKind) -> String {
        let mut tokens: Vec<&str> = name
            .split(|c| !is_name_char(c))
            .filter(|t| !t.is_empty())
            .collect();
        let (main, per) = unit_suffixes(unit);
        let main_new = !main.is_empty() && !tokens.contains(&main.as_str());
        let per_new = !per.is_empty() && !tokens.contains(&per.as_str());
        if main_new {
            tokens.push(&main);
        }
        if per_new {
            tokens.push(&per);
        }
        if kind == MetricKind::MonotonicCounter {
            tokens.retain(|t| *t != "total");
            tokens.push("total");
        }
        if unit == "1" && kind == MetricKind::Gauge {
            tokens.retain(|t| *t != "ratio");
            tokens.push("ratio");
        }
        let ns = clean_unit(&self.namespace);
        let mut out = String::with_capacity(name.len() + 16);
        if !ns.is_empty() {
            out.push_str(&ns);
        }
        for t in tokens {
            if !out.is_empty() {
                out.push('_');
            }
            out.push_str(t);
        }
        if out.starts_with(|c: char| c.is_ascii_digit()) {
            out.insert(0, '_');
        }
        out
    }

    /// Escaping without suffixes: invalid characters split tokens, joined by `_`.
    fn escaped(&self, name: &str) -> String {
        let body = clean_unit(name);
        if !self.namespace.is_empty() {
            return format!("{}_{body}", clean_unit(&self.namespace));
        }
        if body.starts_with(|c: char| c.is_ascii_digit()) {
            format!("_{body}")
        } else {
            body
        }
    }

    /// UTF-8 names keep their characters; suffixes are appended unless already there.
    fn utf8_with_suffixes(&self, name: &str, unit: &str, kind: MetricKind) -> String {
        let mut n = self.prefixed(name);
        let ratio = unit == "1" && kind == MetricKind::Gauge;
        let total = kind == MetricKind::MonotonicCounter;
        if ratio {
            trim_suffix_and_delimiter(&mut n, "ratio");
        }
        if total {
            trim_suffix_and_delimiter(&mut n, "total");
        }
        let (main, per) = unit_suffixes(unit);
        if !per.is_empty() {
            trim_suffix_and_delimiter(&mut n, &per);
        }
        if !main.is_empty() && !n.ends_with(&main) {
            n.push('_');
            n.push_str(&main);
        }
        if !per.is_empty() {
            n.push('_');
            n.push_str(&per);
        }
        if total {
            n.push_str("_total");
        }
        if ratio {
            n.push_str("_ratio");
        }
        n
    }
}

fn trim_suffix_and_delimiter(name: &mut String, suffix: &str) {
    if name.ends_with(suffix) && name.len() > suffix.len() + 1 {
        name.truncate(name.len() - suffix.len() - 1);
    }
}

/// A Prometheus label name from an attribute key: invalid characters become `_`, a leading
/// digit gets `key_`, a single leading `_` gets `key` (`__` is left to Prometheus's reserved
/// names). Under the UTF-8 strategies keys pass unchanged.
pub fn label_name(key: &str, strategy: TranslationStrategy) -> Cow<'_, str> {
    if !strategy.escapes() || key.is_empty() {
        return Cow::Borrowed(key);
    }
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let needs_prefix = key.starts_with(|c: char| c.is_ascii_digit())
        || (key.starts_with('_') && !key.starts_with("__"));
    if !needs_prefix && key.chars().all(valid) {
        return Cow::Borrowed(key);
    }
    let mut s: String = key
        .chars()
        .map(|c| if valid(c) { c } else { '_' })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert_str(0, "key_");
    } else if s.starts_with('_') && !s.starts_with("__") {
        s.insert_str(0, "key");
    }
    Cow::Owned(s)
}

/// Whether `name` is a valid classic Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Whether `name` is a valid classic label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A name under the `underscores` escaping scheme (what a scraper that did not ask for UTF-8
/// names gets): every character outside the legacy set becomes `_`, one per character, and
/// so does a leading digit. Label names lose `:` as well, which they may not hold.
pub fn push_underscore_escaped(out: &mut String, name: &str, label: bool) {
    for (i, c) in name.chars().enumerate() {
        let ok = c.is_ascii_alphabetic()
            || c == '_'
            || (c == ':' && !label)
            || (c.is_ascii_digit() && i > 0);
        out.push(if ok { c } else { '_' });
    }
}

/// The receiver's `trim_metric_suffixes`: drops `_total` of counters and the trailing unit
/// words (`prometheus_unit` is the Prometheus unit: `seconds`, `bytes_per_second`, from
/// `# UNIT` or metadata) — what the Go receiver does. A name that would become empty stays.
pub fn trim_suffixes<'a>(name: &'a str, kind: MetricKind, prometheus_unit: &str) -> &'a str {
    let mut n = name;
    if !n.contains('_') {
        return n;
    }
    if matches!(
        kind,
        MetricKind::MonotonicCounter | MetricKind::NonMonotonicCounter
    ) {
        n = strip_token_suffix(n, "total");
    }
    if kind == MetricKind::Gauge && prometheus_unit == "ratio" {
        n = strip_token_suffix(n, "ratio");
    } else if !prometheus_unit.is_empty() {
        n = strip_token_suffix(n, prometheus_unit);
    }
    n
}

/// `name` without a trailing `_suffix`, if that leaves something.
fn strip_token_suffix<'a>(name: &'a str, suffix: &str) -> &'a str {
    match name.strip_suffix(suffix).and_then(|s| s.strip_suffix('_')) {
        Some(rest) if !rest.is_empty() => rest,
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MetricKind::*;
    use TranslationStrategy::*;

    /// The spec's and the Go translator's cases: (name, unit, kind, expected).
    #[test]
    fn spec_table_underscore_escaping_with_suffixes() {
        let n = MetricNamer::default();
        let cases: &[(&str, &str, MetricKind, &str)] = &[
            (
                "http.server.duration",
                "s",
                Histogram,
                "http_server_duration_seconds",
            ),
            (
                "http.server.request.duration",
                "ms",
                Histogram,
                "http_server_request_duration_milliseconds",
            ),
            (
                "system.memory.usage",
                "By",
                Gauge,
                "system_memory_usage_bytes",
            ),
            (
                "requests.count",
                "1",
                MonotonicCounter,
                "requests_count_total",
            ),
            ("requests", "", MonotonicCounter, "requests_total"),
            ("requests_total", "", MonotonicCounter, "requests_total"),
            ("total_requests", "", MonotonicCounter, "requests_total"),
            ("cpu.utilization", "1", Gauge, "cpu_utilization_ratio"),
            ("cpu.ratio.used", "1", Gauge, "cpu_used_ratio"),
            (
                "cpu.utilization",
                "1",
                NonMonotonicCounter,
                "cpu_utilization",
            ),
            ("network.io", "By/s", Gauge, "network_io_bytes_per_second"),
            ("network.io", "{packet}/s", Gauge, "network_io_per_second"),
            ("packets", "{packet}", MonotonicCounter, "packets_total"),
            ("speed", "m/h", Gauge, "speed_meters_per_hour"),
            ("temperature", "Cel", Gauge, "temperature_celsius"),
            ("disk.free", "%", Gauge, "disk_free_percent"),
            ("data", "MiBy", Gauge, "data_mebibytes"),
            ("freq", "Hz", Gauge, "freq_hertz"),
            ("power", "W", Gauge, "power_watts"),
            ("latency_seconds", "s", Histogram, "latency_seconds"),
            (
                "foo",
                "furlongs/fortnight",
                Gauge,
                "foo_furlongs_per_fortnight",
            ),
            ("foo.bar-baz/qux", "", Gauge, "foo_bar_baz_qux"),
            ("foo__bar", "", Gauge, "foo_bar"),
            (
                "2xx.responses",
                "",
                MonotonicCounter,
                "_2xx_responses_total",
            ),
            ("unicode.métrique", "", Gauge, "unicode_m_trique"),
            ("a:b", "", Gauge, "a:b"),
        ];
        for (name, unit, kind, want) in cases {
            assert_eq!(
                n.build(name, unit, *kind),
                *want,
                "{name} [{unit}] {kind:?}"
            );
        }
    }

    #[test]
    fn namespace_and_strategies() {
        let with = MetricNamer::new("ns", UnderscoreEscapingWithSuffixes);
        assert_eq!(
            with.build("http.requests", "1", MonotonicCounter),
            "ns_http_requests_total"
        );
        let without = MetricNamer::new("my-ns", UnderscoreEscapingWithoutSuffixes);
        assert_eq!(
            without.build("http.requests", "s", MonotonicCounter),
            "my_ns_http_requests"
        );
        let bare = MetricNamer::new("", UnderscoreEscapingWithoutSuffixes);
        assert_eq!(bare.build("1.requests", "s", Gauge), "_1_requests");
        let utf8 = MetricNamer::new("", NoUtf8EscapingWithSuffixes);
        assert_eq!(
            utf8.build("http.server.duration", "s", Histogram),
            "http.server.duration_seconds"
        );
        assert_eq!(
            utf8.build("requests.total", "", MonotonicCounter),
            "requests_total"
        );
        assert_eq!(
            utf8.build("io", "By/s", MonotonicCounter),
            "io_bytes_per_second_total"
        );
        assert_eq!(utf8.build("use", "1", Gauge), "use_ratio");
        let none = MetricNamer::new("", NoTranslation);
        assert_eq!(
            none.build("http.server.duration", "s", Histogram),
            "http.server.duration"
        );
        assert_eq!(MetricNamer::default().build("...", "", Gauge), "_");
    }

    #[test]
    fn strategy_resolution() {
        assert_eq!(
            TranslationStrategy::resolve(None, true),
            UnderscoreEscapingWithSuffixes
        );
        assert_eq!(
            TranslationStrategy::resolve(None, false),
            UnderscoreEscapingWithoutSuffixes
        );
        assert_eq!(
            TranslationStrategy::resolve(Some(NoTranslation), true),
            NoTranslation
        );
        for s in [
            UnderscoreEscapingWithSuffixes,
            UnderscoreEscapingWithoutSuffixes,
            NoUtf8EscapingWithSuffixes,
            NoTranslation,
        ] {
            let yaml = format!("\"{s}\"");
            let back: TranslationStrategy = serde_json::from_str(&yaml).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn labels() {
        let s = UnderscoreEscapingWithSuffixes;
        assert_eq!(label_name("http.method", s), "http_method");
        assert_eq!(label_name("service.instance.id", s), "service_instance_id");
        assert_eq!(label_name("2xx", s), "key_2xx");
        assert_eq!(label_name("_private", s), "key_private");
        assert_eq!(label_name("__reserved", s), "__reserved");
        assert_eq!(label_name("ok_name", s), "ok_name");
        assert_eq!(label_name("clé", s), "cl_");
        assert_eq!(
            label_name("http.method", NoUtf8EscapingWithSuffixes),
            "http.method"
        );
        assert!(
            is_valid_label_name("a_b") && !is_valid_label_name("1a") && !is_valid_label_name("")
        );
        assert!(is_valid_metric_name("a:b_c") && !is_valid_metric_name("a.b"));
    }

    #[test]
    fn units() {
        assert_eq!(prometheus_unit("s"), "seconds");
        assert_eq!(prometheus_unit("By/s"), "bytes_per_second");
        assert_eq!(prometheus_unit("{packet}/s"), "per_second");
        assert_eq!(prometheus_unit("1"), "");
        assert_eq!(prometheus_unit("{request}"), "");
        assert_eq!(ucum_unit("seconds"), "s");
        assert_eq!(ucum_unit("bytes_per_second"), "By/s");
        assert_eq!(ucum_unit("widgets"), "widgets");
    }

    #[test]
    fn trimming() {
        assert_eq!(
            trim_suffixes("http_requests_total", MonotonicCounter, ""),
            "http_requests"
        );
        assert_eq!(
            trim_suffixes("http_duration_seconds", Histogram, "seconds"),
            "http_duration"
        );
        assert_eq!(
            trim_suffixes(
                "io_bytes_per_second_total",
                MonotonicCounter,
                "bytes_per_second"
            ),
            "io"
        );
        assert_eq!(trim_suffixes("cpu_ratio", Gauge, "ratio"), "cpu");
        assert_eq!(trim_suffixes("total", MonotonicCounter, ""), "total");
        assert_eq!(
            trim_suffixes("seconds_total", MonotonicCounter, "seconds"),
            "seconds"
        );
        assert_eq!(trim_suffixes("temp", Gauge, "celsius"), "temp");
    }

    /// Names built with suffixes trim back to the sanitised base name.
    #[test]
    fn build_then_trim_round_trips() {
        let n = MetricNamer::default();
        for (name, unit, kind) in [
            ("http.server.duration", "s", Histogram),
            ("net.io", "By", MonotonicCounter),
            ("q", "By/s", Gauge),
        ] {
            let built = n.build(name, unit, kind);
            let back = trim_suffixes(&built, kind, &prometheus_unit(unit));
            assert_eq!(back, n.strategy_free(name), "{built}");
        }
    }

    impl MetricNamer {
        fn strategy_free(&self, name: &str) -> String {
            MetricNamer::new("", UnderscoreEscapingWithoutSuffixes).build(name, "", Gauge)
        }
    }
}
