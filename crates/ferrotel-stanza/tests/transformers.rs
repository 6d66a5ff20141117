//! Transformers, recombine, router, expressions and the operator graph.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ferrotel_stanza::{Entry, Value};
use serde_json::json;

fn entry(body: Value, attrs: &[(&str, Value)]) -> Entry {
    let mut e = line("");
    e.body = body;
    e.attributes = map(attrs);
    e
}

#[test]
fn add_literals_maps_and_expr() {
    let out = run(
        json!([
            {"type": "add", "field": "attributes.env", "value": "prod"},
            {"type": "add", "field": "body.n", "value": 3},
            {"type": "add", "field": "resource.r", "value": {"a": [1, "b"]}},
            {"type": "add", "field": "attributes.up", "value": "EXPR(upper(body.k) + '-' + attributes.env)"},
        ]),
        vec![entry(Value::Map(map(&[("k", s("v"))])), &[])],
    );
    let e = &out[0];
    assert_eq!(e.attributes.get("env"), Some(&s("prod")));
    assert_eq!(
        e.body,
        Value::Map(map(&[("k", s("v")), ("n", Value::Int(3))]))
    );
    assert_eq!(
        e.resource.get("r"),
        Some(&Value::Map(map(&[(
            "a",
            Value::Array(vec![Value::Int(1), s("b")])
        )])))
    );
    assert_eq!(e.attributes.get("up"), Some(&s("V-prod")));
}

#[test]
fn copy_move_remove() {
    let e = entry(
        Value::Map(map(&[
            ("a", s("1")),
            ("nested", Value::Map(map(&[("x", s("y"))]))),
        ])),
        &[("k", s("v"))],
    );
    let out = run(
        json!([
            {"type": "copy", "from": "body.a", "to": "attributes[\"a.copy\"]"},
            {"type": "move", "from": "attributes.k", "to": "resource.k"},
            {"type": "move", "from": "body.nested.x", "to": "body.x"},
            {"type": "remove", "field": "body.nested"},
        ]),
        vec![e],
    );
    let e = &out[0];
    assert_eq!(e.attributes, map(&[("a.copy", s("1"))]));
    assert_eq!(e.resource, map(&[("k", s("v"))]));
    assert_eq!(e.body, Value::Map(map(&[("a", s("1")), ("x", s("y"))])));
    // A missing source is an error: with on_error drop, the entry goes.
    let out = run(
        json!([{"type": "move", "from": "body.none", "to": "body.b", "on_error": "drop"}]),
        vec![line("x")],
    );
    assert!(out.is_empty());
    // Moving the whole body into an attribute.
    let out = run(
        json!([{"type": "move", "from": "body", "to": "attributes.msg"}]),
        vec![line("text")],
    );
    assert_eq!(out[0].attributes.get("msg"), Some(&s("text")));
    assert_eq!(out[0].body, Value::Null);
    let out = run(
        json!([{"type": "remove", "field": "attributes"}]),
        vec![entry(s("x"), &[("a", s("b"))])],
    );
    assert!(out[0].attributes.is_empty());
}

#[test]
fn retain_keeps_only_listed_fields_of_each_listed_root() {
    let e = entry(
        Value::Map(map(&[("a", s("1")), ("b", s("2"))])),
        &[("x", s("1")), ("y", s("2"))],
    );
    let out = run(
        json!([{"type": "retain", "fields": ["body.a", "attributes.y"]}]),
        vec![e],
    );
    assert_eq!(out[0].body, Value::Map(map(&[("a", s("1"))])));
    assert_eq!(out[0].attributes, map(&[("y", s("2"))]));
    let e = entry(s("keep"), &[("x", s("1")), ("y", s("2"))]);
    let out = run(
        json!([{"type": "retain", "fields": ["attributes.x"]}]),
        vec![e],
    );
    assert_eq!(body_text(&out[0]), "keep");
}

#[test]
fn flatten_regex_replace_unquote() {
    let e = entry(
        Value::Map(map(&[
            ("key1", s("v1")),
            (
                "wrapper",
                Value::Map(map(&[("key2", s("v2")), ("key3", s("v3"))])),
            ),
        ])),
        &[],
    );
    let out = run(
        json!([{"type": "flatten", "field": "body.wrapper"}]),
        vec![e],
    );
    assert_eq!(
        out[0].body,
        Value::Map(map(&[
            ("key1", s("v1")),
            ("key2", s("v2")),
            ("key3", s("v3"))
        ]))
    );
    let out = run(
        json!([{"type": "regex_replace", "regex_name": "ansi_control_sequences", "field": "body"}]),
        vec![line("\x1b[31mred\x1b[0m text")],
    );
    assert_eq!(body_text(&out[0]), "red text");
    let out = run(
        json!([{"type": "regex_replace", "regex": "(\\d+)", "replace_with": "<$1>", "field": "body"}]),
        vec![line("a 12 b 3")],
    );
    assert_eq!(body_text(&out[0]), "a <12> b <3>");
    let out = run(
        json!([{"type": "unquote", "field": "body"}]),
        vec![
            line(r#""hello \"world\"\n""#),
            line("`raw`"),
            line("not quoted"),
        ],
    );
    assert_eq!(body_text(&out[0]), "hello \"world\"\n");
    assert_eq!(body_text(&out[1]), "raw");
    assert_eq!(body_text(&out[2]), "not quoted");
    // otelcol-contrib 0.135 flattens below attributes too (the equivalence case `transform`).
    let mut e = line("x");
    e.attributes
        .insert("ctx".into(), Value::Map(map(&[("a", s("1"))])));
    let out = run(
        json!([{"type": "flatten", "field": "attributes.ctx"}]),
        vec![e],
    );
    assert_eq!(out[0].attributes.get("a"), Some(&s("1")));
    assert!(!out[0].attributes.contains_key("ctx"));
    assert!(
        build_err(json!([{"type": "flatten", "field": "attributes"}]))
            .starts_with("operators[0].field")
    );
}

#[test]
fn filter_router_noop_and_if() {
    let out = run(
        json!([{"type": "filter", "expr": "body matches '^DEBUG'"}, {"type": "noop"}]),
        lines(&["DEBUG x", "INFO y"]),
    );
    assert_eq!(out.len(), 1);
    assert_eq!(body_text(&out[0]), "INFO y");
    let out = run(
        json!([{"type": "filter", "expr": "true", "drop_ratio": 0.0}]),
        lines(&["a"]),
    );
    assert_eq!(out.len(), 1);

    let ops = json!([
        {"type": "router", "routes": [
            {"output": "json", "expr": "body startsWith '{'", "attributes": {"fmt": "json"}},
            {"output": "kv", "expr": "body contains '='"}
        ], "default": "tag"},
        {"type": "json_parser", "id": "json", "output": "tag"},
        {"type": "key_value_parser", "id": "kv", "output": "tag"},
        {"type": "add", "id": "tag", "field": "attributes.seen", "value": true},
    ]);
    let out = run(ops, lines(&[r#"{"a": "b"}"#, "k=v", "plain"]));
    assert_eq!(out.len(), 3);
    assert_eq!(
        out[0].attributes,
        map(&[
            ("a", s("b")),
            ("fmt", s("json")),
            ("seen", Value::Bool(true))
        ])
    );
    assert_eq!(
        out[1].attributes,
        map(&[("k", s("v")), ("seen", Value::Bool(true))])
    );
    assert_eq!(out[2].attributes, map(&[("seen", Value::Bool(true))]));
    // No default: unmatched entries are dropped.
    let out = run(
        json!([{"type": "router", "routes": [{"output": "n", "expr": "body == 'x'"}]}, {"type": "noop", "id": "n"}]),
        lines(&["x", "y"]),
    );
    assert_eq!(out.len(), 1);

    let out = run(
        json!([{"type": "add", "field": "attributes.hit", "value": 1, "if": "body.level in ['warn', 'error'] and not (body.msg endsWith '!')"}]),
        vec![
            entry(
                Value::Map(map(&[("level", s("warn")), ("msg", s("a"))])),
                &[],
            ),
            entry(
                Value::Map(map(&[("level", s("info")), ("msg", s("a"))])),
                &[],
            ),
            entry(
                Value::Map(map(&[("level", s("error")), ("msg", s("a!"))])),
                &[],
            ),
        ],
    );
    let hits: Vec<bool> = out
        .iter()
        .map(|e| e.attributes.contains_key("hit"))
        .collect();
    assert_eq!(hits, [true, false, false]);
}

#[test]
fn expressions_cover_the_subset() {
    let e = entry(
        Value::Map(map(&[
            ("n", Value::Double(5.0)),
            ("s", s("abc")),
            ("arr", Value::Array(vec![s("x")])),
        ])),
        &[("k", s("v")), ("dotted.key", s("d"))],
    );
    let cases = [
        ("body.n == 5", true),
        ("body.n > 4 && body.n <= 5.0", true),
        ("body['s'] != 'abc' || false", false),
        (
            "attributes.k == 'v' and attributes[\"dotted.key\"] == 'd'",
            true,
        ),
        ("body.missing == nil", true),
        ("'x' in body.arr", true),
        ("'y' not in body.arr", true),
        ("body.s matches '^a.c$'", true),
        ("body.s not matches 'z'", true),
        ("len(body.s) == 3 ? true : false", true),
        ("!(body.n < 1)", true),
        ("body.n * 2 - 1 == 9", true),
        ("resource.none == nil", true),
        ("'k' in attributes", true),
    ];
    for (expr, want) in cases {
        let out = run(json!([{"type": "filter", "expr": expr}]), vec![e.clone()]);
        assert_eq!(out.is_empty(), want, "{expr}");
    }
    assert!(
        build_err(json!([{"type": "filter", "expr": "body ==="}])).starts_with("operators[0].expr")
    );
    assert!(build_err(json!([{"type": "filter", "expr": "bogus.x == 1"}])).contains("bogus"));
    assert!(build_err(json!([{"type": "filter", "expr": "body matches '('"}])).contains("regex"));
}

#[test]
fn recombine_stack_traces_with_is_first_entry() {
    let input = [
        "Log message 1",
        "Error: java.lang.Exception: Stack trace",
        "        at java.lang.Thread.dumpStack(Thread.java:1336)",
        "        at Main.demo3(Main.java:15)",
        "Another log message",
    ];
    let out = run(
        json!([{"type": "recombine", "combine_field": "body", "is_first_entry": "body matches \"^[^\\\\s]\""}]),
        lines(&input),
    );
    let bodies: Vec<&str> = out.iter().map(body_text).collect();
    assert_eq!(
        bodies,
        [
            "Log message 1",
            "Error: java.lang.Exception: Stack trace\n        at java.lang.Thread.dumpStack(Thread.java:1336)\n        at Main.demo3(Main.java:15)",
            "Another log message",
        ]
    );
}

#[test]
fn recombine_text_before_the_first_match_is_its_own_record() {
    let out = run(
        json!([{"type": "recombine", "combine_field": "body", "is_first_entry": "body startsWith 'START'"}]),
        lines(&["orphan 1", "orphan 2", "START a", "b", "START c"]),
    );
    let bodies: Vec<&str> = out.iter().map(body_text).collect();
    assert_eq!(bodies, ["orphan 1\norphan 2", "START a\nb", "START c"]);
}

#[test]
fn recombine_cri_with_is_last_entry() {
    let ops = json!([
        {"type": "regex_parser", "regex": "^(?P<timestamp>[^\\s]+) (?P<stream>\\w+) (?P<logtag>\\w) (?P<message>.*)", "parse_to": "body"},
        {"type": "recombine", "combine_field": "body.message", "combine_with": "", "is_last_entry": "body.logtag == 'F'", "overwrite_with": "newest"}
    ]);
    let out = run(
        ops,
        lines(&[
            "2016-10-06T00:17:09.669794202Z stdout F Single entry log 1",
            "2016-10-06T00:17:10.113242941Z stdout P This is a very very long line th",
            "2016-10-06T00:17:10.113242941Z stdout P at is really really long and spa",
            "2016-10-06T00:17:10.113242941Z stdout F ns across multiple log entries",
        ]),
    );
    assert_eq!(out.len(), 2);
    let Value::Map(b) = &out[1].body else {
        panic!("map body")
    };
    assert_eq!(
        b.get("message"),
        Some(&s(
            "This is a very very long line that is really really long and spans across multiple log entries"
        ))
    );
    assert_eq!(b.get("logtag"), Some(&s("F")));
}

#[test]
fn recombine_max_unmatched_batch_size_examples() {
    let input = [
        "log2", "log3", "log4", "log5", "log1", "log6", "log7", "log1", "log8", "log1",
    ];
    let cases = [
        (
            "is_first_entry",
            3,
            vec![
                "log2\nlog3\nlog4",
                "log5",
                "log1\nlog6\nlog7",
                "log1\nlog8",
                "log1",
            ],
        ),
        (
            "is_last_entry",
            3,
            vec![
                "log2\nlog3\nlog4",
                "log5\nlog1",
                "log6\nlog7\nlog1",
                "log8\nlog1",
            ],
        ),
        (
            "is_first_entry",
            1,
            vec![
                "log2",
                "log3",
                "log4",
                "log5",
                "log1\nlog6\nlog7",
                "log1\nlog8",
                "log1",
            ],
        ),
        (
            "is_first_entry",
            0,
            vec![
                "log2\nlog3\nlog4\nlog5",
                "log1\nlog6\nlog7",
                "log1\nlog8",
                "log1",
            ],
        ),
    ];
    for (key, n, want) in cases {
        let mut op =
            json!({"type": "recombine", "combine_field": "body", "max_unmatched_batch_size": n});
        op[key] = json!("body == 'log1'");
        let out = run(json!([op]), lines(&input));
        let bodies: Vec<&str> = out.iter().map(body_text).collect();
        assert_eq!(bodies, want, "{key} {n}");
    }
}

#[test]
fn recombine_sources_limits_and_force_flush() {
    let a = |t: &str| with_path(line(t), "/a.log");
    let b = |t: &str| with_path(line(t), "/b.log");
    let out = run(
        json!([{"type": "recombine", "combine_field": "body", "is_last_entry": "body endsWith '.'"}]),
        vec![a("a1"), b("b1"), a("a2."), b("b2.")],
    );
    let bodies: Vec<&str> = out.iter().map(body_text).collect();
    assert_eq!(bodies, ["a1\na2.", "b1\nb2."]);

    let out = run(
        json!([{"type": "recombine", "combine_field": "body", "is_first_entry": "body == 'S'", "max_batch_size": 2}]),
        lines(&["S", "1", "2", "3"]),
    );
    assert_eq!(
        out.iter().map(body_text).collect::<Vec<_>>(),
        ["S\n1", "2\n3"]
    );
    let out = run(
        json!([{"type": "recombine", "combine_field": "body", "is_first_entry": "body == 'S'", "max_log_size": 5}]),
        lines(&["S", "12345", "x"]),
    );
    assert_eq!(
        out.iter().map(body_text).collect::<Vec<_>>(),
        ["S\n12345", "x"]
    );

    let mut p = build(
        json!([{"type": "recombine", "combine_field": "body", "is_first_entry": "body == 'S'", "force_flush_period": "50ms"}]),
    );
    let mut out = Vec::new();
    assert!(p.next_deadline().is_none());
    let before = Instant::now();
    p.process(line("S"), &mut out);
    p.process(line("tail"), &mut out);
    assert!(out.is_empty());
    let deadline = p.next_deadline().expect("a batch is held");
    assert!(
        deadline >= before + Duration::from_millis(50)
            && deadline <= Instant::now() + Duration::from_millis(50)
    );
    p.flush_expired(deadline - Duration::from_millis(10), &mut out);
    assert!(out.is_empty(), "nothing is due before the deadline");
    p.flush_expired(deadline, &mut out);
    assert_eq!(out.iter().map(body_text).collect::<Vec<_>>(), ["S\ntail"]);
    assert!(p.next_deadline().is_none());
}

#[test]
fn graph_wiring_ids_and_errors() {
    // Default ids are numbered as Go does, so two unnamed parsers of one type are fine.
    let out = run(
        json!([{"type": "add", "field": "attributes.a", "value": 1}, {"type": "add", "field": "attributes.b", "value": 2}]),
        lines(&["x"]),
    );
    assert_eq!(out[0].attributes.len(), 2);
    // Skipping ahead by output id; fan-out to two outputs copies the entry.
    let out = run(
        json!([
            {"type": "noop", "output": ["b", "c"]},
            {"type": "add", "id": "a", "field": "attributes.a", "value": 1},
            {"type": "add", "id": "b", "field": "attributes.b", "value": 1, "output": "end"},
            {"type": "add", "id": "c", "field": "attributes.c", "value": 1, "output": "end"},
            {"type": "noop", "id": "end"},
        ]),
        lines(&["x"]),
    );
    let keys: Vec<Vec<&str>> = out
        .iter()
        .map(|e| e.attributes.keys().map(|k| &**k).collect())
        .collect();
    assert_eq!(keys, [vec!["b"], vec!["c"]]);

    let errs = [
        (
            json!([{"type": "nope"}]),
            "operators[0].type: unsupported operator type",
        ),
        (
            json!([{"type": "noop"}, {"type": "regex_parser", "regexx": "x"}]),
            "operators[1].regexx:",
        ),
        (
            json!([{"type": "noop", "output": "missing"}]),
            "operators[0].output: operator \"missing\" does not exist",
        ),
        (
            json!([{"type": "noop", "id": "a"}, {"type": "noop", "id": "a"}]),
            "operators[1].id: duplicate",
        ),
        (
            json!([{"type": "noop", "id": "a", "output": "b"}, {"type": "noop", "id": "b", "output": "a"}]),
            "cycle",
        ),
        (
            json!([{"type": "noop", "on_error": "explode"}]),
            "operators[0].on_error",
        ),
        (
            json!([{"type": "json_parser", "timestamp": {"layout": "%Y"}}]),
            "operators[0].timestamp.parse_from",
        ),
        (
            json!([{"type": "json_parser", "parse_from": "message"}]),
            "operators[0].parse_from",
        ),
        (
            json!([{"type": "recombine", "combine_field": "body"}]),
            "operators[0].is_first_entry",
        ),
        (
            json!([{"type": "add", "field": "body"}]),
            "operators[0].value",
        ),
        (json!([{"type": "syslog_parser"}]), "operators[0].protocol"),
    ];
    for (ops, want) in errs {
        let got = build_err(ops.clone());
        assert!(got.contains(want), "{ops}: got {got:?}, want {want:?}");
    }
}

#[test]
fn on_error_send_passes_the_entry_after_a_failed_operator() {
    let out = run(
        json!([
            {"type": "regex_parser", "regex": "^(?P<a>\\d+)$"},
            {"type": "add", "field": "attributes.after", "value": "yes"},
        ]),
        lines(&["abc"]),
    );
    assert_eq!(out[0].attributes, map(&[("after", s("yes"))]));
    let mut p = build(json!([{"type": "regex_parser", "regex": "^(?P<a>\\d+)$"}]));
    let mut sink = Vec::new();
    p.process(line("abc"), &mut sink);
    assert_eq!(p.errors(), 1);
}

#[test]
fn converts_to_otlp_grouped_by_resource_and_scope() {
    use ferrotel_pdata::proto::common::v1::any_value::Value as V;
    let mut a = line("a");
    a.resource.insert("host".into(), s("h1"));
    a.attributes.insert("n".into(), Value::Double(1.5));
    a.attributes.insert("none".into(), Value::Null);
    a.severity_number = 9;
    a.severity_text = "info".into();
    a.time_unix_nano = 42;
    let mut b = line("b");
    b.resource.insert("host".into(), s("h2"));
    let mut c = line("c");
    c.resource.insert("host".into(), s("h1"));
    c.scope_name = "lib".into();
    let rls = ferrotel_stanza::into_resource_logs(vec![a, b, c]);
    assert_eq!(rls.len(), 2);
    assert_eq!(rls[0].scope_logs.len(), 2, "two scopes under h1");
    assert_eq!(rls[0].scope_logs[1].scope.as_ref().unwrap().name, "lib");
    let rec = &rls[0].scope_logs[0].log_records[0];
    assert_eq!(
        (
            rec.time_unix_nano,
            rec.observed_time_unix_nano,
            rec.severity_number
        ),
        (42, 7, 9)
    );
    assert_eq!(rec.severity_text, "info");
    assert!(matches!(rec.body.as_ref().unwrap().value, Some(V::StringValue(ref t)) if t == "a"));
    assert_eq!(rec.attributes[0].key, "n");
    assert!(
        matches!(rec.attributes[0].value.as_ref().unwrap().value, Some(V::DoubleValue(d)) if d == 1.5)
    );
    assert_eq!(
        rec.attributes[1].value.as_ref().unwrap().value,
        None,
        "null is an empty value"
    );
    assert_eq!(rls[1].scope_logs[0].log_records.len(), 1);
}
