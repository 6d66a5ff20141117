//! No input line panics any parser, and no layout text panics the time parser's builder.

mod common;

use common::*;
use proptest::prelude::*;
use serde_json::json;

fn all_parsers() -> Vec<ferrotel_stanza::Pipeline> {
    [
        json!([{"type": "json_parser", "timestamp": {"parse_from": "attributes.t", "layout": "%Y-%m-%dT%H:%M:%S.%f%z"}, "severity": {"parse_from": "attributes.l"}}]),
        json!([{"type": "regex_parser", "regex": "^(?P<a>\\w+) (?P<b>.*)$"}]),
        json!([{"type": "key_value_parser"}]),
        json!([{"type": "csv_parser", "header": "a,b,c"}]),
        json!([{"type": "csv_parser", "header": "a,b,c", "lazy_quotes": true}]),
        json!([{"type": "json_array_parser"}]),
        json!([{"type": "syslog_parser", "protocol": "rfc3164"}]),
        json!([{"type": "syslog_parser", "protocol": "rfc5424"}]),
        json!([{"type": "syslog_parser", "protocol": "rfc5424", "enable_octet_counting": true}]),
        json!([{"type": "container"}]),
        json!([{"type": "time_parser", "layout_type": "gotime", "layout": "Mon Jan _2 15:04:05.000 MST 2006"}]),
        json!([{"type": "time_parser", "layout": "%d/%b/%Y:%H:%M:%S %z"}]),
        json!([{"type": "time_parser", "layout_type": "epoch", "layout": "s.ms"}]),
        json!([{"type": "severity_parser"}]),
        json!([{"type": "unquote", "field": "body"}]),
        json!([{"type": "recombine", "combine_field": "body", "is_first_entry": "body matches '^\\\\S'"}]),
    ]
    .into_iter()
    .map(build)
    .collect()
}

thread_local! {
    // Built once per test thread: building (regexes, zones) costs more than parsing.
    static PIPELINES: std::cell::RefCell<Vec<ferrotel_stanza::Pipeline>> = std::cell::RefCell::new(all_parsers());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_line_panics_a_parser(text in "\\PC{0,80}", bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let mut out = Vec::new();
        let n = PIPELINES.with_borrow_mut(|pipelines| {
            for p in pipelines.iter_mut() {
                p.process(line(&text), &mut out);
                p.process(line(&ferrotel_stanza::text_from_bytes(&bytes)), &mut out);
                p.flush_all(&mut out);
            }
            pipelines.len()
        });
        // Every parser sends failed entries on; only recombine may join the two lines.
        prop_assert!(out.len() >= 2 * n - 1);
    }

    #[test]
    fn structured_looking_lines_do_not_panic(
        pri in 0u32..300, a in "[ -~]{0,20}", b in "[0-9:TZ.+-]{0,30}",
    ) {
        let mut out = Vec::new();
        let candidates = [
            format!("<{pri}>1 {b} host app - - [x@1 k=\"{a}\"] {a}"),
            format!("<{pri}>Jan {}{} {b} host {a}: msg", pri % 40, if pri % 2 == 0 { " " } else { "" }),
            format!("{{\"log\":\"{a}\",\"stream\":\"stdout\",\"time\":\"{b}\"}}"),
            format!("{b} stdout P {a}"),
            format!("[{b}, \"{a}\", {{\"k\": {pri}}}]"),
        ];
        PIPELINES.with_borrow_mut(|pipelines| {
            for p in pipelines.iter_mut() {
                for c in &candidates {
                    p.process(line(c), &mut out);
                }
                p.flush_all(&mut out);
            }
        });
    }

    #[test]
    fn layouts_never_panic(layout in "[%a-zA-Z0-9 :./_-]{0,24}", value in "[a-zA-Z0-9 :./+_-]{0,30}") {
        for kind in ["strptime", "gotime"] {
            let cfg: ferrotel_stanza::OperatorsConfig = serde_json::from_value(json!([
                {"type": "time_parser", "layout_type": kind, "layout": layout.clone()}
            ])).unwrap();
            if let Ok(mut p) = ferrotel_stanza::Pipeline::build(&cfg) {
                let mut out = Vec::new();
                p.process(line(&value), &mut out);
                prop_assert_eq!(out.len(), 1);
            }
        }
    }
}
