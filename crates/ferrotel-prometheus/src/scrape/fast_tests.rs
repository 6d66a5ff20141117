//! The encoding fast path against the reference conversion: the same scrapes (series coming
//! and going, label order changing, families changing type, scope labels, label conflicts with
//! the target, resets, sample limits, histograms and summaries losing their `_count`) give the same OTLP request once decoded, the same
//! resource attributes and counts. Staleness points are compared as sets: the reference emits
//! them in its hash map's order.

use std::fmt::Write;

use ferrotel_pdata::proto::metrics::v1::{Metric, ScopeMetrics, metric};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::{Payload, Request};
use proptest::prelude::*;

use super::convert::{Converted, SeriesTracker, TargetContext, convert_reference};
use super::parse::{Format, parse};
use super::relabel::Labels;
use super::scraper::{Scraped, convert_body};

const KINDS: [&str; 6] = [
    "counter",
    "gauge",
    "histogram",
    "summary",
    "untyped",
    "gaugehistogram",
];
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

/// The exposition of one scrape; OpenMetrics adds counters' `_total`, `_created` (odd values)
/// and exemplars (values divisible by 3).
fn body(fams: &[Fam], om: bool) -> String {
    let mut s = String::new();
    for (f, k, series) in fams {
        let name = format!("fam_{f}");
        let kind = match KINDS[*k] {
            "untyped" if om => "unknown",
            // The text format has no gaugehistogram type.
            "gaugehistogram" if !om => "gauge",
            k => k,
        };
        let _ = writeln!(s, "# HELP {name} family {f}\n# TYPE {name} {kind}");
        for (mask, rev, v) in series {
            let l = |extra| label_text(*mask, *rev, extra);
            match KINDS[*k] {
                "counter" if om => {
                    let exemplar = if v % 3 == 0 {
                        " # {trace_id=\"0af7651916cd43dd8448eb211c80319c\",user=\"u\"} 1.5 1700000000.1"
                    } else {
                        ""
                    };
                    let _ = writeln!(s, "{name}_total{} {v}{exemplar}", l(None));
                    if v % 2 == 1 {
                        let _ = writeln!(s, "{name}_created{} 1600000{v}.25", l(None));
                    }
                }
                "histogram" => {
                    for (i, le) in ["0.1", "1", "+Inf"].iter().enumerate() {
                        let _ =
                            writeln!(s, "{name}_bucket{} {}", l(Some(("le", le))), v + i as u16);
                    }
                    if v % 5 == 4 {
                        // No `_count`: the spec drops the point. OpenMetrics allows leaving out
                        // `_sum` and `_count` together only.
                        if !om {
                            let _ = writeln!(s, "{name}_sum{} {v}.5", l(None));
                        }
                        continue;
                    }
                    let _ = writeln!(
                        s,
                        "{name}_sum{} {v}.5\n{name}_count{} {}",
                        l(None),
                        l(None),
                        v + 2
                    );
                }
                "gaugehistogram" if om => {
                    for (i, le) in ["1", "+Inf"].iter().enumerate() {
                        let _ =
                            writeln!(s, "{name}_bucket{} {}", l(Some(("le", le))), v + i as u16);
                    }
                    let _ = writeln!(
                        s,
                        "{name}_gsum{} {v}\n{name}_gcount{} {}",
                        l(None),
                        l(None),
                        v + 1
                    );
                }
                "summary" => {
                    for q in ["0.5", "0.9"] {
                        let _ = writeln!(s, "{name}{} {v}", l(Some(("quantile", q))));
                    }
                    if v % 5 == 4 {
                        continue;
                    }
                    let _ = writeln!(s, "{name}_sum{} {v}\n{name}_count{} {v}", l(None), l(None));
                }
                _ => {
                    let _ = writeln!(s, "{name}{} {v}", l(None));
                }
            }
        }
    }
    if om {
        s.push_str("# TYPE target info\ntarget_info{env=\"prod\"} 1\n# EOF\n");
    } else {
        s.push_str("target_info{env=\"prod\"} 1\n");
    }
    s
}

/// Whether every point of the metric is a staleness point.
fn is_stale(m: &Metric) -> bool {
    let flags: Vec<u32> = match &m.data {
        Some(metric::Data::Gauge(g)) => g.data_points.iter().map(|p| p.flags).collect(),
        Some(metric::Data::Sum(s)) => s.data_points.iter().map(|p| p.flags).collect(),
        Some(metric::Data::Histogram(h)) => h.data_points.iter().map(|p| p.flags).collect(),
        Some(metric::Data::Summary(s)) => s.data_points.iter().map(|p| p.flags).collect(),
        _ => Vec::new(),
    };
    !flags.is_empty() && flags.iter().all(|f| *f == 1)
}

/// The request with its staleness metrics (after the live ones) and their points sorted, and
/// the named scopes sorted.
fn normalized(p: Payload) -> Vec<ScopeMetrics> {
    let Ok(Request::Metrics(mut req)) = p.into_request() else {
        panic!("not a metrics request");
    };
    assert_eq!(req.resource_metrics.len(), 1);
    let mut sms = std::mem::take(&mut req.resource_metrics[0].scope_metrics);
    for sm in &mut sms {
        let live = sm.metrics.iter().take_while(|m| !is_stale(m)).count();
        for m in &mut sm.metrics[live..] {
            // Sorted points, each with sorted attributes: the reference's staleness points
            // keep the label order of the point's first scrape, the fast path's its last.
            macro_rules! sort_points {
                ($points:expr) => {{
                    for p in $points.iter_mut() {
                        p.attributes.sort_by(|a, b| a.key.cmp(&b.key));
                    }
                    $points.sort_by_key(|p| format!("{:?}", p.attributes));
                }};
            }
            match &mut m.data {
                Some(metric::Data::Gauge(g)) => sort_points!(g.data_points),
                Some(metric::Data::Sum(s)) => sort_points!(s.data_points),
                Some(metric::Data::Histogram(h)) => sort_points!(h.data_points),
                Some(metric::Data::Summary(s)) => sort_points!(s.data_points),
                _ => {}
            }
        }
        sm.metrics[live..].sort_by_key(|m| format!("{}{:?}", m.name, m.metadata));
    }
    if sms.len() > 1 {
        sms[1..].sort_by_key(|sm| format!("{:?}", sm.scope));
    }
    sms
}

fn payload(s: Scraped) -> Payload {
    s.into_payload(Vec::new(), Resource::default(), None)
}

fn same(a: Scraped, b: Converted) -> Result<(), TestCaseError> {
    let Scraped::Encoded(f) = &a else {
        return Err(TestCaseError::fail("the fast path was not taken"));
    };
    prop_assert_eq!(&f.resource_attrs, &b.resource_attrs);
    prop_assert_eq!(f.samples_scraped, b.samples_scraped);
    prop_assert_eq!(f.samples_post_relabel, b.samples_post_relabel);
    prop_assert_eq!(f.series_added, b.series_added);
    prop_assert_eq!(
        normalized(payload(a)),
        normalized(payload(Scraped::Decoded(b)))
    );
    Ok(())
}

fn arb_scrape() -> impl Strategy<Value = Vec<Fam>> {
    proptest::collection::vec(
        (
            0usize..4,
            0usize..KINDS.len(),
            proptest::collection::vec((0u8..32, any::<bool>(), 0u16..20), 0..4),
        ),
        0..5,
    )
}

/// A scrape after the first: mostly the base exposition with some series left out, new values
/// (resets included) and label order flipped; sometimes an unrelated one (types change).
#[derive(Debug, Clone)]
enum Round {
    Derived {
        keep: u64,
        values: Vec<u16>,
        flip: bool,
    },
    Random(Vec<Fam>),
}

fn arb_round() -> impl Strategy<Value = Round> {
    prop_oneof![
        4 => (any::<u64>(), proptest::collection::vec(0u16..20, 1..8), any::<bool>())
            .prop_map(|(keep, values, flip)| Round::Derived { keep, values, flip }),
        1 => arb_scrape().prop_map(Round::Random),
    ]
}

fn realize(base: &[Fam], round: &Round) -> Vec<Fam> {
    let Round::Derived { keep, values, flip } = round else {
        let Round::Random(fams) = round else {
            unreachable!()
        };
        return fams.clone();
    };
    let mut i = 0;
    base.iter()
        .map(|(f, k, series)| {
            let kept = series
                .iter()
                .filter_map(|(mask, rev, _)| {
                    i += 1;
                    (keep & (1 << (i % 64)) != 0)
                        .then(|| (*mask, rev ^ flip, values[i % values.len()]))
                })
                .collect();
            (*f, *k, kept)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn cached_conversion_equals_the_reference(
        base in arb_scrape(),
        rounds in proptest::collection::vec(arb_round(), 0..6),
        honor_labels in any::<bool>(),
        sample_limit in prop_oneof![3 => Just(0u64), 1 => 1u64..40],
        trim_metric_suffixes in any::<bool>(),
        om in any::<bool>(),
    ) {
        let target = TargetContext {
            labels: Labels::from_pairs([("job", "j"), ("instance", "h:1"), ("a", "t")]),
            honor_labels,
            honor_timestamps: true,
            trim_metric_suffixes,
            sample_limit,
            metric_relabel: Vec::new(),
        };
        let (mut fast, mut reference) = (SeriesTracker::default(), SeriesTracker::default());
        let scrapes = std::iter::once(base.clone()).chain(rounds.iter().map(|r| realize(&base, r)));
        for (i, fams) in scrapes.enumerate() {
            let text = body(&fams, om);
            let format = if om { Format::OpenMetrics } else { Format::Text };
            // Duplicate series and other malformed bodies are the parser's to refuse.
            let Ok(exp) = parse(text.as_bytes(), format) else { continue };
            let ms = 1_700_000_000_000 + i as i64 * 5000;
            let a = convert_body(text.as_bytes(), format, &target, &mut fast, ms);
            let b = convert_reference(&exp, &target, &mut reference, ms);
            match (a, b) {
                (Ok(a), Ok(b)) => same(a, b)?,
                (Err(a), Err(b)) => {
                    prop_assert_eq!(a, b.to_string());
                    // A refused scrape: the loop marks everything stale.
                    let stale = |t: &mut SeriesTracker| {
                        let (metrics, scoped) = t.all_stale(ms as u64 * 1_000_000);
                        normalized(payload(Scraped::Decoded(Converted {
                            metrics,
                            scoped,
                            ..Default::default()
                        })))
                    };
                    prop_assert_eq!(stale(&mut fast), stale(&mut reference));
                }
                (a, b) => prop_assert!(false, "fast {:?} vs reference {:?}", a.is_ok(), b.is_ok()),
            }
            prop_assert_eq!(fast.len(), reference.len());
        }
    }
}

/// The generator's bodies parse (else the property above would compare nothing), in both
/// formats, exemplars and `_created` included.
#[test]
fn generated_bodies_parse() {
    let fams: Vec<Fam> = (0..4)
        .map(|f| (f, f + 1, vec![(1, false, 3), (2, true, 5)]))
        .chain([(0, 0, vec![(3, true, 9), (0, false, 7)])])
        .collect();
    for om in [false, true] {
        let format = if om {
            Format::OpenMetrics
        } else {
            Format::Text
        };
        let text = body(&fams, om);
        let exp = parse(text.as_bytes(), format).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(
            exp.samples.iter().filter(|s| s.exemplar.is_some()).count(),
            usize::from(om)
        );
    }
}
