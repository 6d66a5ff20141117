//! The series cache's fast path against the reference conversion: the same scrapes (series
//! coming and going, label order changing, families changing type, scope labels, label
//! conflicts with the target) give the same OTLP metrics, resource attributes and counts.

use std::fmt::Write;

use proptest::prelude::*;

use super::convert::{Converted, SeriesTracker, TargetContext, convert, convert_reference};
use super::parse::{Format, parse};
use super::relabel::Labels;

const KINDS: [&str; 5] = ["counter", "gauge", "histogram", "summary", "untyped"];
const LABELS: [(&str, &str); 5] = [
    ("a", "1"),
    ("b", "x\\\"y"),
    ("job", "other"),
    ("otel_scope_name", "lib"),
    ("otel_scope_version", "1.0"),
];

/// One series of a scrape: which labels (bit mask over LABELS), in reverse order or not, and
/// a value.
type Series = (u8, bool, u16);
/// One family of a scrape: which name, which type, its series.
type Fam = (usize, usize, Vec<Series>);

fn label_text(mask: u8, reverse: bool, extra: Option<(&str, &str)>) -> String {
    let mut ls: Vec<(&str, &str)> = LABELS
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, l)| *l)
        .collect();
    ls.extend(extra);
    if reverse {
        ls.reverse();
    }
    let inner: Vec<String> = ls.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    if inner.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", inner.join(","))
    }
}

fn body(fams: &[Fam]) -> String {
    let mut s = String::new();
    for (f, k, series) in fams {
        let name = format!("fam_{f}");
        let _ = writeln!(s, "# HELP {name} family {f}\n# TYPE {name} {}", KINDS[*k]);
        for (mask, rev, v) in series {
            let l = |extra| label_text(*mask, *rev, extra);
            match KINDS[*k] {
                "histogram" => {
                    for (i, le) in ["0.1", "1", "+Inf"].iter().enumerate() {
                        let _ =
                            writeln!(s, "{name}_bucket{} {}", l(Some(("le", le))), v + i as u16);
                    }
                    let _ = writeln!(
                        s,
                        "{name}_sum{} {v}.5\n{name}_count{} {}",
                        l(None),
                        l(None),
                        v + 2
                    );
                }
                "summary" => {
                    for q in ["0.5", "0.9"] {
                        let _ = writeln!(s, "{name}{} {v}", l(Some(("quantile", q))));
                    }
                    let _ = writeln!(s, "{name}_sum{} {v}\n{name}_count{} {v}", l(None), l(None));
                }
                _ => {
                    let _ = writeln!(s, "{name}{} {v}", l(None));
                }
            }
        }
    }
    s.push_str("target_info{env=\"prod\"} 1\n");
    s
}

fn same(a: &Converted, b: &Converted) -> Result<(), TestCaseError> {
    prop_assert_eq!(&a.metrics, &b.metrics);
    prop_assert_eq!(&a.scoped, &b.scoped);
    prop_assert_eq!(&a.resource_attrs, &b.resource_attrs);
    prop_assert_eq!(a.samples_scraped, b.samples_scraped);
    prop_assert_eq!(a.samples_post_relabel, b.samples_post_relabel);
    prop_assert_eq!(a.series_added, b.series_added);
    Ok(())
}

fn arb_scrape() -> impl Strategy<Value = Vec<Fam>> {
    proptest::collection::vec(
        (
            0usize..4,
            0usize..5,
            proptest::collection::vec((0u8..32, any::<bool>(), 0u16..20), 0..4),
        ),
        0..5,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn cached_conversion_equals_the_reference(
        scrapes in proptest::collection::vec(arb_scrape(), 1..6),
        honor_labels in any::<bool>(),
        sample_limit in prop_oneof![Just(0u64), 1u64..40],
    ) {
        let target = TargetContext {
            labels: Labels::from_pairs([("job", "j"), ("instance", "h:1"), ("a", "t")]),
            honor_labels,
            honor_timestamps: true,
            trim_metric_suffixes: false,
            sample_limit,
            metric_relabel: Vec::new(),
        };
        let (mut fast, mut reference) = (SeriesTracker::default(), SeriesTracker::default());
        for (i, fams) in scrapes.iter().enumerate() {
            let text = body(fams);
            // Duplicate series and other malformed bodies are the parser's to refuse.
            let Ok(exp) = parse(text.as_bytes(), Format::Text) else { continue };
            let ms = 1_700_000_000_000 + i as i64 * 5000;
            let a = convert(&exp, &target, &mut fast, ms);
            let b = convert_reference(&exp, &target, &mut reference, ms);
            match (a, b) {
                (Ok(a), Ok(b)) => same(&a, &b)?,
                (Err(a), Err(b)) => {
                    prop_assert_eq!(a, b);
                    // A refused scrape: the loop marks everything stale.
                    fast.all_stale(0);
                    reference.all_stale(0);
                }
                (a, b) => prop_assert!(false, "fast {:?} vs reference {:?}", a.is_ok(), b.is_ok()),
            }
            prop_assert_eq!(fast.len(), reference.len());
        }
    }
}
