//! `trim_metric_suffixes` as the Go receiver applies it to scraped families (unit words → UCUM
//! are `crate::naming::ucum_unit`, shared with the remote-write receiver).

use super::parse::MetricType;

/// Strips the type suffix (`_total` of counters) and then the `# UNIT` suffix, token-wise on
/// `_`, as the Go receiver's `TrimPromSuffixes`. A single-token name is never trimmed.
pub fn trim_suffixes(name: &str, kind: MetricType, unit: Option<&str>) -> String {
    let mut tokens: Vec<&str> = name.split('_').collect();
    if tokens.len() == 1 {
        return name.to_string();
    }
    if kind == MetricType::Counter && tokens.last() == Some(&"total") && tokens.len() > 1 {
        tokens.pop();
    }
    if let Some(unit) = unit.filter(|u| !u.is_empty()) {
        let unit_tokens: Vec<&str> = unit.split('_').collect();
        if tokens.len() > unit_tokens.len() && tokens.ends_with(&unit_tokens) {
            tokens.truncate(tokens.len() - unit_tokens.len());
        }
    }
    tokens.join("_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use MetricType::*;

    /// The spec's and the Go receiver's examples, as a table.
    #[test]
    fn naming_table() {
        let cases: &[(&str, MetricType, Option<&str>, &str)] = &[
            ("http_requests_total", Counter, None, "http_requests"),
            ("http_requests_total", Gauge, None, "http_requests_total"),
            (
                "request_duration_seconds",
                Histogram,
                Some("seconds"),
                "request_duration",
            ),
            (
                "request_duration_seconds_total",
                Counter,
                Some("seconds"),
                "request_duration",
            ),
            ("memory_usage_bytes", Gauge, Some("bytes"), "memory_usage"),
            ("memory_usage_bytes", Gauge, None, "memory_usage_bytes"),
            ("total", Counter, None, "total"),
            ("seconds", Gauge, Some("seconds"), "seconds"),
            ("rx_bytes_per_second", Gauge, Some("bytes_per_second"), "rx"),
            ("up", Gauge, None, "up"),
        ];
        for (name, kind, unit, want) in cases {
            assert_eq!(
                trim_suffixes(name, *kind, *unit),
                *want,
                "{name} {kind:?} {unit:?}"
            );
        }
        let units = [
            ("seconds", "s"),
            ("bytes", "By"),
            ("bytes_per_second", "By/s"),
            ("ratio", "1"),
            ("celsius", "Cel"),
            ("widgets", "widgets"),
        ];
        for (word, ucum) in units {
            assert_eq!(crate::naming::ucum_unit(word), ucum);
        }
    }
}
