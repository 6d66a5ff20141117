//! Parser operators, cases taken from the Go operators' documented examples.

mod common;

use common::*;
use ferrotel_stanza::{Map, Value};
use serde_json::json;

#[test]
fn json_parser_numbers_are_doubles_and_null_is_empty() {
    let out = run(
        json!([{"type": "json_parser"}]),
        vec![line(
            r#"{"key": "val", "n": 1, "nil": null, "nested": {"a": [2, true]}}"#,
        )],
    );
    assert_eq!(out.len(), 1);
    let e = &out[0];
    assert_eq!(
        e.attributes,
        map(&[
            ("key", s("val")),
            ("n", Value::Double(1.0)),
            ("nil", Value::Null),
            (
                "nested",
                Value::Map(map(&[(
                    "a",
                    Value::Array(vec![Value::Double(2.0), Value::Bool(true)])
                )]))
            ),
        ])
    );
    // The body is kept (Go no longer moves parse_from away).
    assert!(body_text(e).starts_with('{'));
    assert_eq!(e.observed_time_unix_nano, 7);
}

#[test]
fn json_parser_parse_ints_and_parse_to_body() {
    let out = run(
        json!([{"type": "json_parser", "parse_ints": true, "parse_to": "body"}]),
        vec![line(r#"{"n": 3, "f": 1.5}"#)],
    );
    assert_eq!(
        out[0].body,
        Value::Map(map(&[("n", Value::Int(3)), ("f", Value::Double(1.5))]))
    );
    assert!(out[0].attributes.is_empty());
}

#[test]
fn json_parser_with_embedded_time_and_severity() {
    let out = run(
        json!([{
            "type": "json_parser",
            "timestamp": {"parse_from": "attributes.time", "layout": "%Y-%m-%dT%H:%M:%S.%LZ"},
            "severity": {"parse_from": "attributes.level"}
        }]),
        vec![line(
            r#"{"time": "2024-01-02T03:04:05.123Z", "level": "WARN", "msg": "hi"}"#,
        )],
    );
    let e = &out[0];
    assert_eq!(e.time_unix_nano, ts("2024-01-02T03:04:05.123Z"));
    assert_eq!((e.severity_number, e.severity_text.as_ref()), (13, "WARN"));
    assert_eq!(e.attributes.get("msg"), Some(&s("hi")));
}

#[test]
fn parse_errors_follow_on_error() {
    let bad = || vec![line("not json"), line(r#"{"ok": "yes"}"#), line("[1, 2]")];
    // send (the default): failed entries pass on unchanged.
    let out = run(json!([{"type": "json_parser"}]), bad());
    assert_eq!(out.len(), 3);
    assert_eq!(body_text(&out[0]), "not json");
    assert!(out[0].attributes.is_empty());
    assert_eq!(out[1].attributes.get("ok"), Some(&s("yes")));
    for mode in ["drop", "drop_quiet"] {
        let out = run(json!([{"type": "json_parser", "on_error": mode}]), bad());
        assert_eq!(out.len(), 1, "{mode}");
    }
    let out = run(
        json!([{"type": "json_parser", "on_error": "send_quiet"}]),
        bad(),
    );
    assert_eq!(out.len(), 3);
}

#[test]
fn embedded_time_error_still_sets_attributes_and_sends() {
    let out = run(
        json!([{"type": "json_parser", "timestamp": {"parse_from": "attributes.t", "layout_type": "gotime", "layout": "2006-01-02"}}]),
        vec![line(r#"{"t": "yesterday"}"#)],
    );
    assert_eq!(out[0].attributes.get("t"), Some(&s("yesterday")));
    assert_eq!(out[0].time_unix_nano, 0);
}

#[test]
fn regex_parser_named_groups() {
    let out = run(
        json!([{"type": "regex_parser", "regex": "^Host=(?P<host>[^,]+), Type=(?P<type>.*)$"}]),
        vec![line("Host=127.0.0.1, Type=HTTP"), line("no match here")],
    );
    assert_eq!(
        out[0].attributes,
        map(&[("host", s("127.0.0.1")), ("type", s("HTTP"))])
    );
    assert!(
        out[1].attributes.is_empty(),
        "unmatched lines pass on unchanged"
    );
    assert!(
        build_err(json!([{"type": "regex_parser", "regex": "(a)"}])).contains("operators[0].regex")
    );
    assert!(
        build_err(json!([{"type": "regex_parser", "regex": "(?P<a>"}]))
            .starts_with("operators[0].regex:")
    );
}

#[test]
fn regex_parser_parse_from_and_parse_to() {
    let mut e = line("x");
    e.attributes.insert("raw".into(), s("a=1"));
    let out = run(
        json!([{"type": "regex_parser", "regex": "^a=(?P<a>\\d+)$", "parse_from": "attributes.raw", "parse_to": "body.parsed"}]),
        vec![e],
    );
    assert_eq!(
        out[0].body,
        Value::Map(map(&[("parsed", Value::Map(map(&[("a", s("1"))])))]))
    );
}

#[test]
fn key_value_parser_cases() {
    let out = run(
        json!([{"type": "key_value_parser"}]),
        vec![line("name=stanza age=2 msg=\"hello world\"")],
    );
    assert_eq!(
        out[0].attributes,
        map(&[
            ("name", s("stanza")),
            ("age", s("2")),
            ("msg", s("hello world"))
        ])
    );
    let out = run(
        json!([{"type": "key_value_parser", "delimiter": ":", "pair_delimiter": "!"}]),
        vec![line("name:stanza!age:2")],
    );
    assert_eq!(
        out[0].attributes,
        map(&[("name", s("stanza")), ("age", s("2"))])
    );
    let out = run(
        json!([{"type": "key_value_parser", "on_error": "drop"}]),
        lines(&["novalue", "a=\"open"]),
    );
    assert!(out.is_empty());
    // As Go's SplitString: every quote character goes, repeated delimiters are skipped.
    let out = run(
        json!([{"type": "key_value_parser"}]),
        vec![line("  k='a b'c  y=z ")],
    );
    assert_eq!(out[0].attributes, map(&[("k", s("a bc")), ("y", s("z"))]));
    assert!(
        build_err(json!([{"type": "key_value_parser", "delimiter": " "}]))
            .contains("pair_delimiter")
    );
}

#[test]
fn csv_parser_cases() {
    let ops = json!([{"type": "csv_parser", "header": "id,severity,message"}]);
    let out = run(
        ops.clone(),
        vec![
            line("1,debug,Debug Message"),
            line("2,info,\"quoted, with comma\""),
            line("1,2"),
        ],
    );
    assert_eq!(
        out[0].attributes,
        map(&[
            ("id", s("1")),
            ("severity", s("debug")),
            ("message", s("Debug Message"))
        ])
    );
    assert_eq!(
        out[1].attributes.get("message"),
        Some(&s("quoted, with comma"))
    );
    assert!(out[2].attributes.is_empty(), "wrong field count fails");
    let out = run(
        json!([{"type": "csv_parser", "header": "a|b", "header_delimiter": "|", "delimiter": "\t"}]),
        vec![line("x\ty")],
    );
    assert_eq!(out[0].attributes, map(&[("a", s("x")), ("b", s("y"))]));
    let mut e = line("1;2");
    e.attributes.insert("hdr".into(), s("x;y"));
    let out = run(
        json!([{"type": "csv_parser", "header_attribute": "hdr", "delimiter": ";"}]),
        vec![e],
    );
    assert_eq!(out[0].attributes.get("y"), Some(&s("2")));
    let out = run(
        json!([{"type": "csv_parser", "header": "a,b", "lazy_quotes": true}]),
        vec![line("a\"b,c")],
    );
    assert_eq!(out[0].attributes.get("a"), Some(&s("a\"b")));
    assert!(build_err(json!([{"type": "csv_parser"}])).contains("operators[0].header"));
}

#[test]
fn json_array_parser_cases() {
    let out = run(
        json!([{"type": "json_array_parser", "header": "a,b,c,d"}]),
        vec![line(r#"[1, "x", null, {"k": 1}]"#)],
    );
    assert_eq!(
        out[0].attributes,
        map(&[
            ("a", Value::Int(1)),
            ("b", s("x")),
            ("c", Value::Null),
            ("d", s(r#"{"k":1}"#))
        ])
    );
    let out = run(
        json!([{"type": "json_array_parser"}]),
        vec![line(r#"["a", true]"#)],
    );
    assert_eq!(out[0].body, Value::Array(vec![s("a"), Value::Bool(true)]));
}

#[test]
fn syslog_rfc5424() {
    let out = run(
        json!([{"type": "syslog_parser", "protocol": "rfc5424"}]),
        vec![line(
            r#"<86>1 2015-08-05T21:58:59.693Z 192.168.2.132 SecureAuth0 23108 ID52020 [SecureAuth@27389 UserHostAddress="192.168.2.132" Realm="SecureAuth0" UserID="Tester2" PEN="27389"] Found the user for retrieving user's profile"#,
        )],
    );
    let e = &out[0];
    let sd = map(&[(
        "SecureAuth@27389",
        Value::Map(map(&[
            ("UserHostAddress", s("192.168.2.132")),
            ("Realm", s("SecureAuth0")),
            ("UserID", s("Tester2")),
            ("PEN", s("27389")),
        ])),
    )]);
    assert_eq!(
        e.attributes,
        map(&[
            ("appname", s("SecureAuth0")),
            ("facility", Value::Int(10)),
            ("hostname", s("192.168.2.132")),
            ("message", s("Found the user for retrieving user's profile")),
            ("msg_id", s("ID52020")),
            ("priority", Value::Int(86)),
            ("proc_id", s("23108")),
            ("structured_data", Value::Map(sd)),
            ("version", Value::Int(1)),
        ])
    );
    assert_eq!(e.time_unix_nano, ts("2015-08-05T21:58:59.693Z"));
    assert_eq!((e.severity_number, e.severity_text.as_ref()), (9, "info"));
}

#[test]
fn syslog_rfc5424_octet_counting_and_nil_values() {
    let msg = "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed";
    let framed = format!("{} {msg}", msg.len());
    let out = run(
        json!([{"type": "syslog_parser", "protocol": "rfc5424", "enable_octet_counting": true}]),
        vec![line(&framed)],
    );
    assert_eq!(
        out[0].attributes.get("message"),
        Some(&s("'su root' failed"))
    );
    assert_eq!(out[0].attributes.get("proc_id"), None);
    assert_eq!(
        (out[0].severity_number, out[0].severity_text.as_ref()),
        (18, "crit")
    );
}

#[test]
fn syslog_rfc3164_takes_the_current_year_in_location() {
    let out = run(
        json!([{"type": "syslog_parser", "protocol": "rfc3164", "location": "America/New_York"}]),
        vec![line(
            "<34>Jan 12 06:30:00 1.2.3.4 apache_server[42]: test message",
        )],
    );
    let e = &out[0];
    assert_eq!(
        e.attributes,
        map(&[
            ("appname", s("apache_server")),
            ("facility", Value::Int(4)),
            ("hostname", s("1.2.3.4")),
            ("message", s("test message")),
            ("priority", Value::Int(34)),
            ("proc_id", s("42")),
        ])
    );
    let now = jiff::Timestamp::now();
    let tz = jiff::tz::TimeZone::get("America/New_York").unwrap();
    let year = tz.to_datetime(now).year();
    let at = |y: i16| {
        tz.to_ambiguous_timestamp(jiff::civil::date(y, 1, 12).at(6, 30, 0, 0))
            .compatible()
            .unwrap()
            .as_nanosecond() as u64
    };
    let expected = if at(year) > (now.as_nanosecond() as u64) + 7 * 86_400_000_000_000 {
        at(year - 1)
    } else {
        at(year)
    };
    assert_eq!(e.time_unix_nano, expected);
    assert_eq!(e.severity_number, 18);
}

const POD_PATH: &str = "/var/log/pods/some_kube-scheduler-kind-control-plane_49cc7c1fd3702c40b2686ea7486091d3/kube-scheduler44/1.log";

#[test]
fn container_docker_with_k8s_metadata() {
    let e = with_path(
        line(
            r#"{"log":"INFO: log line here","stream":"stdout","time":"2029-03-30T08:31:20.545192187Z"}"#,
        ),
        POD_PATH,
    );
    let out = run(json!([{"type": "container"}]), vec![e]);
    let e = &out[0];
    assert_eq!(body_text(e), "INFO: log line here");
    assert_eq!(
        e.attributes,
        map(&[
            ("log.iostream", s("stdout")),
            ("log.file.path", s(POD_PATH)),
            ("time", s("2029-03-30T08:31:20.545192187Z"))
        ])
    );
    assert_eq!(e.time_unix_nano, ts("2029-03-30T08:31:20.545192187Z"));
    assert_eq!(
        e.resource,
        map(&[
            ("k8s.container.name", s("kube-scheduler44")),
            ("k8s.container.restart_count", s("1")),
            ("k8s.namespace.name", s("some")),
            ("k8s.pod.name", s("kube-scheduler-kind-control-plane")),
            ("k8s.pod.uid", s("49cc7c1fd3702c40b2686ea7486091d3")),
        ])
    );
}

#[test]
fn container_cri_partial_lines_join_keeping_the_first_parts_fields() {
    for (t, format) in [
        ("2024-04-13T07:59:37.505201169Z", "containerd"),
        ("2024-04-13T07:59:37.505201169-10:00", "crio"),
    ] {
        let entries = vec![
            with_path(
                line(&format!("{t} stdout P standalone {format} line which i")),
                POD_PATH,
            ),
            with_path(line(&format!("{t} stdout F s awesome!")), POD_PATH),
            with_path(
                line(&format!(
                    "{t} stdout F standalone {format}2 line which is awesome!"
                )),
                POD_PATH,
            ),
        ];
        // Auto-detected format, as in the Go operator's tests.
        let out = run(json!([{"type": "container"}]), entries);
        assert_eq!(out.len(), 2, "{format}");
        assert_eq!(
            body_text(&out[0]),
            format!("standalone {format} line which is awesome!")
        );
        assert_eq!(
            out[0].attributes,
            map(&[
                ("time", s(t)),
                ("log.iostream", s("stdout")),
                ("logtag", s("P")),
                ("log.file.path", s(POD_PATH))
            ])
        );
        assert_eq!(out[0].time_unix_nano, ts(t));
        assert_eq!(
            body_text(&out[1]),
            format!("standalone {format}2 line which is awesome!")
        );
        assert_eq!(out[1].attributes.get("logtag"), Some(&s("F")));
        assert_eq!(
            out[1].resource.get("k8s.pod.uid"),
            Some(&s("49cc7c1fd3702c40b2686ea7486091d3"))
        );
    }
}

#[test]
fn container_detects_crio_with_offset_time() {
    let e = with_path(
        line("2024-04-13T07:59:37.505201169-10:00 stdout F my log"),
        POD_PATH,
    );
    let out = run(
        json!([{"type": "container", "add_metadata_from_filepath": false}]),
        vec![e],
    );
    assert_eq!(body_text(&out[0]), "my log");
    assert_eq!(out[0].time_unix_nano, ts("2024-04-13T17:59:37.505201169Z"));
    assert!(out[0].resource.is_empty());
}

#[test]
fn time_parser_layouts() {
    let cases: &[(serde_json::Value, Value, &str)] = &[
        (
            json!({"layout": "%Y-%m-%dT%H:%M:%S.%f%z"}),
            s("2020-01-02T03:04:05.123456+0100"),
            "2020-01-02T02:04:05.123456Z",
        ),
        (
            json!({"layout": "%d/%b/%Y:%H:%M:%S %z"}),
            s("10/Oct/2000:13:55:36 -0700"),
            "2000-10-10T20:55:36Z",
        ),
        (
            json!({"layout": "%Y-%m-%d %H:%M:%S", "location": "Asia/Tokyo"}),
            s("2021-06-01 09:00:00"),
            "2021-06-01T00:00:00Z",
        ),
        (
            json!({"layout_type": "gotime", "layout": "2006-01-02T15:04:05Z07:00"}),
            s("2019-12-31T23:59:59Z"),
            "2019-12-31T23:59:59Z",
        ),
        (
            json!({"layout_type": "gotime", "layout": "Jan _2 15:04:05.000 2006", "location": "UTC"}),
            s("Feb  3 04:05:06.789 2022"),
            "2022-02-03T04:05:06.789Z",
        ),
        (
            json!({"layout_type": "gotime", "layout": "02 Jan 06 15:04 MST"}),
            s("02 Jan 06 15:04 UTC"),
            "2006-01-02T15:04:00Z",
        ),
        (
            json!({"layout_type": "gotime", "layout": "3:04PM 2006-01-02", "location": "UTC"}),
            s("1:30PM 2020-05-05"),
            "2020-05-05T13:30:00Z",
        ),
        (
            json!({"layout_type": "epoch", "layout": "s"}),
            s("1136214245"),
            "2006-01-02T15:04:05Z",
        ),
        (
            json!({"layout_type": "epoch", "layout": "ms"}),
            Value::Double(1136214245123.0),
            "2006-01-02T15:04:05.123Z",
        ),
        (
            json!({"layout_type": "epoch", "layout": "s.us"}),
            s("1136214245.123456"),
            "2006-01-02T15:04:05.123456Z",
        ),
        (
            json!({"layout_type": "epoch", "layout": "ns"}),
            Value::Int(1136214245000000001),
            "2006-01-02T15:04:05.000000001Z",
        ),
    ];
    for (cfg, input, want) in cases {
        let mut op = cfg.clone();
        op["type"] = json!("time_parser");
        op["parse_from"] = json!("attributes.t");
        let mut e = line("x");
        e.attributes.insert("t".into(), input.clone());
        let out = run(json!([op]), vec![e]);
        assert_eq!(out[0].time_unix_nano, ts(want), "{cfg} {input:?}");
    }
}

#[test]
fn time_parser_errors_and_bad_configs() {
    let out = run(
        json!([{"type": "time_parser", "layout": "%Y", "on_error": "drop"}]),
        vec![line("20x1"), line("2021")],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].time_unix_nano, ts("2021-01-01T00:00:00Z"));
    assert!(
        build_err(json!([{"type": "time_parser", "layout": "%Q"}]))
            .starts_with("operators[0].layout:")
    );
    assert!(
        build_err(json!([{"type": "time_parser", "layout_type": "epoch", "layout": "h"}]))
            .contains("layout")
    );
    assert!(
        build_err(json!([{"type": "time_parser", "layout": "%Y", "location": "Mars/Base"}]))
            .contains("location")
    );
}

#[test]
fn severity_parser_presets_mappings_and_ranges() {
    let ops = json!([{
        "type": "severity_parser",
        "parse_from": "attributes.s",
        "mapping": {"error": ["oops", "5xx"], "info": {"min": 100, "max": 199}, "warn": 42, "fatal": "nooo"}
    }]);
    let cases: &[(Value, i32, &str)] = &[
        (s("OOPS"), 17, "OOPS"),
        (s("503"), 17, "503"),
        (Value::Double(150.0), 9, "150"),
        (Value::Int(42), 13, "42"),
        (s("Warning"), 13, "Warning"),
        (s("INFO3"), 11, "INFO3"),
        (s("nOoO"), 21, "nOoO"),
        (s("unknown"), 0, "unknown"),
    ];
    for (v, n, t) in cases {
        let mut e = line("x");
        e.attributes.insert("s".into(), v.clone());
        let out = run(ops.clone(), vec![e]);
        assert_eq!(
            (out[0].severity_number, out[0].severity_text.as_ref()),
            (*n, *t),
            "{v:?}"
        );
    }
    let mut e = line("x");
    e.attributes.insert("s".into(), s("info"));
    let out = run(
        json!([{"type": "severity_parser", "parse_from": "attributes.s", "preset": "none"}]),
        vec![e.clone()],
    );
    assert_eq!(out[0].severity_number, 0);
    let out = run(
        json!([{"type": "severity_parser", "parse_from": "attributes.s", "overwrite_text": true, "mapping": {"warn2": "info"}}]),
        vec![e],
    );
    assert_eq!(
        (out[0].severity_number, out[0].severity_text.as_ref()),
        (14, "WARN2")
    );
    assert!(
        build_err(json!([{"type": "severity_parser", "mapping": {"loud": "x"}}]))
            .starts_with("operators[0].mapping.loud")
    );
}

#[test]
fn trace_and_scope_name_parsers() {
    let mut e = line("x");
    e.attributes
        .insert("trace_id".into(), s("480140f3d770a5ae32f0a22b6a812cff"));
    e.attributes.insert("span_id".into(), s("92c3792d54ba94f3"));
    e.attributes.insert("trace_flags".into(), s("01"));
    e.attributes.insert("logger".into(), s("com.example.Main"));
    let out = run(
        json!([{"type": "trace_parser"}, {"type": "scope_name_parser", "parse_from": "attributes.logger"}]),
        vec![e],
    );
    let e = &out[0];
    assert_eq!(e.trace_id.len(), 16);
    assert_eq!(e.trace_id[0], 0x48);
    assert_eq!(
        e.span_id,
        vec![0x92, 0xc3, 0x79, 0x2d, 0x54, 0xba, 0x94, 0xf3]
    );
    assert_eq!(e.trace_flags, 1);
    assert_eq!(e.scope_name, "com.example.Main");
    assert!(!e.attributes.contains_key("logger"));
    let mut bad = line("x");
    bad.attributes.insert("trace_id".into(), s("xyz"));
    let out = run(
        json!([{"type": "trace_parser", "on_error": "drop"}]),
        vec![bad],
    );
    assert!(out.is_empty());
}

#[test]
fn invalid_utf8_bytes_become_one_replacement_each() {
    assert_eq!(
        ferrotel_stanza::text_from_bytes(b"a\xE2\x82b"),
        "a\u{FFFD}\u{FFFD}b"
    );
    assert_eq!(ferrotel_stanza::text_from_bytes(b"ok"), "ok");
    assert_eq!(
        ferrotel_stanza::text_from_bytes(b"\xff\xfe"),
        "\u{FFFD}\u{FFFD}"
    );
    let _: Map = Map::new();
}

#[test]
fn syslog_go_cases_skip_pri_and_framing() {
    let sd_line = r#"1 2015-08-05T21:58:59.693Z 192.168.2.132 SecureAuth0 23108 ID52020 [SecureAuth@27389 UserHostAddress="192.168.2.132" Realm="SecureAuth0" UserID="Tester2" PEN="27389"] Found the user for retrieving user's profile"#;
    let skip =
        json!([{"type": "syslog_parser", "protocol": "rfc5424", "allow_skip_pri_header": true}]);
    let out = run(skip.clone(), vec![line(sd_line)]);
    assert_eq!(
        (out[0].severity_number, out[0].severity_text.as_ref()),
        (0, "")
    );
    assert!(!out[0].attributes.contains_key("priority"));
    assert_eq!(out[0].time_unix_nano, ts("2015-08-05T21:58:59.693Z"));
    let out = run(skip, vec![line(&format!("<123>{sd_line}"))]);
    assert_eq!(
        (out[0].severity_number, out[0].severity_text.as_ref()),
        (17, "err")
    );
    assert_eq!(out[0].attributes.get("facility"), Some(&Value::Int(15)));
    assert_eq!(out[0].attributes.get("priority"), Some(&Value::Int(123)));
    assert!(!out[0].attributes.contains_key("severity"));

    let out = run(
        json!([{"type": "syslog_parser", "protocol": "rfc5424", "enable_octet_counting": true}]),
        vec![line(&format!("215 <86>{sd_line}"))],
    );
    assert_eq!(
        out[0].attributes.get("message"),
        Some(&s("Found the user for retrieving user's profile"))
    );
    let out = run(
        json!([{"type": "syslog_parser", "protocol": "rfc5424", "non_transparent_framing_trailer": "NUL"}]),
        vec![line(&format!("<86>{sd_line}\0"))],
    );
    assert_eq!(
        out[0].attributes.get("message"),
        Some(&s("Found the user for retrieving user's profile"))
    );

    let out = run(
        json!([{"type": "syslog_parser", "protocol": "rfc3164", "allow_skip_pri_header": true}]),
        vec![line("Jan  2 15:04:05 1.2.3.4 apache_server: test message")],
    );
    assert_eq!(
        out[0].attributes,
        map(&[
            ("appname", s("apache_server")),
            ("hostname", s("1.2.3.4")),
            ("message", s("test message"))
        ])
    );
    assert_eq!(out[0].severity_number, 0);
}
