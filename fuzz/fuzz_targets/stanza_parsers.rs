//! Fuzzes the stanza parsers (json, regex, key_value, csv, json_array, syslog 3164/5424,
//! container, time, severity, unquote, recombine): no line panics, and every parser either
//! parses or sends the entry on, so nothing is lost.
#![no_main]

use ferrotel_stanza::{Entry, OperatorsConfig, Pipeline};

const CONFIGS: &[&str] = &[
    r#"[{"type": "json_parser", "timestamp": {"parse_from": "attributes.t", "layout": "%Y-%m-%dT%H:%M:%S.%f%z"}, "severity": {"parse_from": "attributes.l"}}]"#,
    r#"[{"type": "regex_parser", "regex": "^(?P<a>\\w+) (?P<b>.*)$"}]"#,
    r#"[{"type": "key_value_parser"}]"#,
    r#"[{"type": "csv_parser", "header": "a,b,c", "lazy_quotes": true}]"#,
    r#"[{"type": "csv_parser", "header": "a,b,c"}]"#,
    r#"[{"type": "json_array_parser"}]"#,
    r#"[{"type": "syslog_parser", "protocol": "rfc3164", "location": "Europe/Paris"}]"#,
    r#"[{"type": "syslog_parser", "protocol": "rfc5424", "enable_octet_counting": true}]"#,
    r#"[{"type": "syslog_parser", "protocol": "rfc5424", "allow_skip_pri_header": true}]"#,
    r#"[{"type": "container", "add_metadata_from_filepath": false}]"#,
    r#"[{"type": "time_parser", "layout_type": "gotime", "layout": "Mon Jan _2 15:04:05.000 MST 2006"}]"#,
    r#"[{"type": "time_parser", "layout_type": "epoch", "layout": "s.ms"}]"#,
    r#"[{"type": "severity_parser", "mapping": {"error": "5xx"}}]"#,
    r#"[{"type": "unquote", "field": "body"}]"#,
    r#"[{"type": "recombine", "combine_field": "body", "is_first_entry": "body matches '^\\\\S'", "max_log_size": 64}]"#,
];

thread_local! {
    // Built once: building (regexes, zones) costs more than parsing one input.
    static PIPELINES: std::cell::RefCell<Vec<Pipeline>> = std::cell::RefCell::new(
        CONFIGS
            .iter()
            .map(|c| {
                let cfg: OperatorsConfig = serde_json::from_str(c).expect("config");
                Pipeline::build(&cfg).expect("builds")
            })
            .collect(),
    );
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    PIPELINES.with_borrow_mut(|pipelines| {
        let n = pipelines.len();
        run(&mut pipelines[selector as usize % n], rest);
    });
});

fn run(p: &mut Pipeline, rest: &[u8]) {
    let mut out = Vec::new();
    let text = ferrotel_stanza::text_from_bytes(rest);
    let lines: Vec<&str> = text.split('\n').collect();
    for l in &lines {
        p.process(Entry::from_line(l.to_string(), 1), &mut out);
    }
    p.flush_all(&mut out);
    assert!(!out.is_empty() || lines.is_empty());
}
