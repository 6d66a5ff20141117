//! Grammar, compile errors and evaluation of every function.

use ferrotel_pdata::proto::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value::Value as V,
};
use ferrotel_pdata::proto::logs::v1::LogRecord;
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::Span;

use super::*;
use crate::parser::BinOp;
use crate::value::kv;

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

fn list(items: Vec<Value>) -> Value {
    Value::List(items.into_iter().map(Value::into_any).collect())
}

fn fixture() -> Span {
    Span {
        name: "operationA".into(),
        trace_id: vec![1; 16].into(),
        span_id: vec![2; 8].into(),
        kind: 2,
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 3_500,
        attributes: vec![
            kv("s", s("hello world")),
            kv("i", Value::Int(5)),
            kv("d", Value::Double(2.5)),
            kv("b", Value::Bool(true)),
            kv(
                "m",
                Value::Map(vec![
                    kv("x", s("y")),
                    kv("n", Value::Map(vec![kv("z", Value::Int(1))])),
                ]),
            ),
            kv("l", list(vec![s("a"), s("b")])),
            kv("json", s(r#"{"a":1,"b":[1,"x"],"c":{"d":true}}"#)),
            kv("camel", s("HelloWorld")),
            kv("when", s("2023-05-26 12:34:56")),
        ],
        ..Default::default()
    }
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", s("svc-checkout"))],
        ..Default::default()
    })
}

/// Runs statements in the span context on the fixture span.
fn run_on(stmts: &[&str], span: &mut Span) -> Result<(), String> {
    let compiled = parse_statements(stmts, Ctx::Span)?;
    let mut res = resource();
    let mut scope = None;
    let mut t = TCtx::new(&mut res);
    t.scope = Some(&mut scope);
    t.span = Some(span);
    for st in &compiled {
        st.execute(&mut t)?;
    }
    Ok(())
}

fn run(stmts: &[&str]) -> Result<Span, String> {
    let mut span = fixture();
    run_on(stmts, &mut span)?;
    Ok(span)
}

fn attr(span: &Span, key: &str) -> Value {
    Value::from_any(
        span.attributes
            .iter()
            .find(|a| a.key == key)
            .and_then(|a| a.value.as_ref()),
    )
}

fn keys(span: &Span) -> Vec<&str> {
    span.attributes.iter().map(|a| a.key.as_str()).collect()
}

/// Evaluates an expression: `set(attributes["out"], EXPR)`, then reads `out` (nil if unset).
fn eval(expr: &str) -> Result<Value, String> {
    let span = run(&[&format!("set(attributes[\"out\"], {expr})")])?;
    Ok(attr(&span, "out"))
}

fn cond(c: &str) -> Result<bool, String> {
    let span = run(&[&format!("set(attributes[\"out\"], true) where {c}")])?;
    Ok(attr(&span, "out") == Value::Bool(true))
}

fn compile_err(stmt: &str) -> String {
    parse_statements(&[stmt], Ctx::Span).expect_err(stmt)
}

// ---- grammar ----

#[test]
fn valid_statements_parse_and_compile() {
    let ok = [
        r#"set(attributes["test"], "pass")"#,
        r#"set(attributes["test"], "pass") where name == "operationA""#,
        r#"delete_key(attributes, "http.request.header.authorization")"#,
        r#"keep_keys(attributes, ["service.name", "service.namespace", "cloud.region"])"#,
        r#"limit(attributes, 100, ["host.name"])"#,
        r#"truncate_all(attributes, 4096)"#,
        r#"replace_pattern(attributes["http.url"], "token=[^&]*", "token=***")"#,
        r#"set(span.status.code, STATUS_CODE_ERROR) where span.kind == SPAN_KIND_SERVER and span.attributes["http.status"] >= 500"#,
        r#"set(attributes["x"], Concat([attributes["a"], "b"], "-"))"#,
        r#"set(attributes["x"], Split(attributes["a"], ",")[0])"#,
        r#"set(attributes["n"], attributes["a"] * 2 + 1 - (3 / 1))"#,
        r#"set(attributes["x"], {"a": [1, 2.5, true, nil, 0x01], "b": {}})"#,
        r#"set(trace_id, TraceID(0x0102030405060708090a0b0c0d0e0f10)) where not (name == "a" or name != "b")"#,
        r#"set(attributes["x"], resource.attributes["service.name"]) where IsMatch(resource.attributes["service.name"], "^svc-.*")"#,
        r#"merge_maps(attributes, ParseJSON(attributes["json"]), "upsert")"#,
        r#"replace_all_matches(attributes, "*/secret/*", "redacted")"#,
        r#"set(attributes["neg"], -1) where attributes["i"] > -2.5"#,
        r#"delete_matching_keys(target = attributes, pattern = "^tmp\\..*")"#,
        r#"set(attributes["m"]["k"][0], "v")"#,
        r#"set(attributes["x"], "a \"quoted\" string") where true"#,
        r#"set(span.end_time, span.start_time) where scope.name == "lib" and resource.attributes["k"] == nil"#,
        "flatten(attributes[\"m\"], \"p\", 2)",
    ];
    for (i, st) in ok.iter().enumerate() {
        if let Err(e) = parse_statements(&[st], Ctx::Span) {
            panic!("{i}: {st}: {e}");
        }
    }
}

#[test]
fn precedence_and_structure() {
    let st = parser::parse_statement(r#"set(name, "x") where a or b and not c"#).unwrap();
    let Some(Expr {
        kind: ExprKind::Binary(BinOp::Or, lhs, rhs),
        ..
    }) = st.condition
    else {
        panic!("or at the top")
    };
    assert!(matches!(lhs.kind, ExprKind::Path(_)));
    let ExprKind::Binary(BinOp::And, _, r) = rhs.kind else {
        panic!("and below or")
    };
    assert!(matches!(r.kind, ExprKind::Not(_)));
    assert_eq!(st.editor.name, "set");
    assert_eq!(st.editor.args.len(), 2);
    assert_eq!(eval("1 + 2 * 3").unwrap(), Value::Int(7));
    assert_eq!(eval("(1 + 2) * 3").unwrap(), Value::Int(9));
    assert_eq!(eval("10 - 4 - 3").unwrap(), Value::Int(3));
    assert!(cond("true or false and false").unwrap());
    assert!(!cond("(true or false) and false").unwrap());
}

#[test]
fn invalid_statements_have_exact_errors() {
    let cases: &[(&str, &str)] = &[
        (
            r#"SETT(attributes["x"], "y")"#,
            r#"statement 1, col 1: unknown function "SETT""#,
        ),
        (
            r#"set(attributes["x"], "y""#,
            r#"statement 1, col 25: expected ")" but found end of statement"#,
        ),
        (
            r#"set(attributes["x"], "y) "#,
            "statement 1, col 22: unterminated string",
        ),
        (
            r#"set(attributes["x"], "y") where"#,
            "statement 1, col 32: expected a value but found end of statement",
        ),
        (
            r#"set(attributes["x"], Foo())"#,
            r#"statement 1, col 22: unknown function "Foo""#,
        ),
        (
            r#"set(attributes["x"], "y") where name == "a" == "b""#,
            r#"statement 1, col 45: comparisons cannot be chained; use "and""#,
        ),
        (
            r#"set(attributes["x"], "y") when name == "a""#,
            r#"statement 1, col 27: expected "where" or end of statement, found "when""#,
        ),
        (
            "set(nosuch.path, 1)",
            r#"statement 1, col 5: unknown path "nosuch.path" in the span context"#,
        ),
        (
            r#"set(log.body, "x")"#,
            r#"statement 1, col 5: path "log.body" is not available in the span context"#,
        ),
        (
            r#"set("x", "y")"#,
            r#"statement 1, col 5: the target of "set" must be a path"#,
        ),
        (
            r#"set(attributes["x"])"#,
            r#"statement 1, col 1: missing argument "value" of "set""#,
        ),
        (
            r#"set(attributes["x"], "y", "z")"#,
            r#"statement 1, col 1: too many arguments to "set": expected at most 2, got 3"#,
        ),
        (
            r#"set(attributes["x"], 1 +)"#,
            r#"statement 1, col 25: expected a value but found ")""#,
        ),
        (
            r#"set(attributes["x"], UNKNOWN_ENUM)"#,
            r#"statement 1, col 22: unknown enum "UNKNOWN_ENUM""#,
        ),
        (
            r#"set(attributes["x"], "y") where attributes["a"] # 1"#,
            "statement 1, col 49: unexpected character '#'",
        ),
        (
            r#"set(attributes["x"], Concat)"#,
            r#"statement 1, col 22: converter "Concat" must be called with ()"#,
        ),
        (
            r#"set(attributes["x"], keep_keys(attributes, []))"#,
            r#"statement 1, col 22: editor "keep_keys" cannot be used as a value; converters start with an upper-case letter"#,
        ),
        (
            "limit(attributes, -1, [])",
            "statement 1, col 19: invalid limit for limit function, -1 cannot be negative",
        ),
        (
            r#"set(attributes["x"], "y") where 1"#,
            "statement 1, col 33: condition must be a boolean expression",
        ),
        ("", "statement 1, col 1: empty statement"),
        (
            r#"set(attributes[1.5], "x")"#,
            "statement 1, col 16: index must be a string, an integer or a path, found number 1.5",
        ),
        (
            r#"set(attributes["x"], 0x123)"#,
            r#"statement 1, col 22: invalid bytes literal "0x123""#,
        ),
        (
            r#"Set(name, "x")"#,
            r#"statement 1, col 1: unknown function "Set""#,
        ),
        (
            r#"Concat(["a"], "")"#,
            r#"statement 1, col 1: converter "Concat" cannot be used as an editor"#,
        ),
        (
            r#"set(attributes["x"], "y") where not"#,
            "statement 1, col 36: expected a value but found end of statement",
        ),
        (
            r#"set(attributes["x"], Substring("abc", 0, 0))"#,
            "statement 1, col 42: invalid length for Substring function, 0 cannot be negative or zero",
        ),
        (
            r#"set(name.string, "x")"#,
            r#"statement 1, col 5: unknown path "name.string" in the span context"#,
        ),
        (
            r#"set(attributes["x"], SpanID(0x0102))"#,
            "statement 1, col 29: SpanID: expected 8 bytes, got 2",
        ),
        (
            r#"set(attributes["x"], ConvertCase(name, "kebab"))"#,
            "statement 1, col 40: invalid case: kebab, allowed cases are: lower, upper, snake, camel",
        ),
        (
            r#"merge_maps(attributes, attributes, "replace")"#,
            r#"statement 1, col 36: invalid value for strategy, "replace", must be 'insert', 'update' or 'upsert'"#,
        ),
        (
            r#"set(attributes["x"], 12abc)"#,
            r#"statement 1, col 22: invalid number "12abc""#,
        ),
        (
            r#"set(name, "x") where name == "a" and"#,
            "statement 1, col 37: expected a value but found end of statement",
        ),
        (
            r#"convert_sum_to_gauge() where name == "a""#,
            r#"statement 1, col 1: function "convert_sum_to_gauge" is not supported in the span context"#,
        ),
        (
            r#"set(attributes["x"], Time(attributes["t"], "%Q"))"#,
            "statement 1, col 44: unsupported time format directive %Q",
        ),
        (
            r#"delete_key(attributes, key = "a", key = "b")"#,
            r#"statement 1, col 41: argument "key" given twice"#,
        ),
        (
            r#"delete_key(attributes, nokey = "a")"#,
            r#"statement 1, col 32: unknown argument "nokey" of "delete_key""#,
        ),
    ];
    for (src, want) in cases {
        assert_eq!(&compile_err(src), want, "{src}");
    }
}

#[test]
fn errors_name_the_statement_and_column() {
    let e = parse_statements(
        &[r#"set(name, "a")"#, r#"set(name, "b") where SETT(name)"#],
        Ctx::Span,
    )
    .unwrap_err();
    assert_eq!(e, r#"statement 2, col 22: unknown function "SETT""#);
    let e = parse_statements(&[r#"set(span.name, "a")"#], Ctx::Log).unwrap_err();
    assert_eq!(
        e,
        r#"statement 1, col 5: path "span.name" is not available in the log context"#
    );
    let e = parse_conditions(&["name == "], Ctx::Span).unwrap_err();
    assert_eq!(
        e,
        "condition 1, col 9: expected a value but found end of statement"
    );
    let e = parse_statements(&[r#"regex_invalid(name)"#], Ctx::Span).unwrap_err();
    assert_eq!(e, r#"statement 1, col 1: unknown function "regex_invalid""#);
    let e = parse_statements(&[r#"delete_matching_keys(attributes, "[")"#], Ctx::Span).unwrap_err();
    assert!(
        e.starts_with(r#"statement 1, col 34: invalid regex "[": "#),
        "{e}"
    );
}

#[test]
fn context_inference() {
    let all = [Ctx::Resource, Ctx::Scope, Ctx::Span, Ctx::SpanEvent];
    let c = |s: &str| infer_context(s, &all);
    assert_eq!(c(r#"set(span.name, "x")"#).unwrap(), Ctx::Span);
    assert_eq!(
        c(r#"set(resource.attributes["a"], "x")"#).unwrap(),
        Ctx::Resource
    );
    assert_eq!(
        c(r#"set(resource.attributes["a"], "x") where spanevent.name == "e""#).unwrap(),
        Ctx::SpanEvent
    );
    assert_eq!(
        c(r#"set(attributes["a"], "x")"#).unwrap_err().message,
        "cannot infer the context: prefix paths with a context (span.name, resource.attributes[...])"
    );
    assert_eq!(
        c(r#"set(log.body, "x")"#).unwrap_err().message,
        r#"context "log" is not valid here"#
    );
    let st = parse_statements_inferred(&[r#"set(scope.name, "x")"#], &all).unwrap();
    assert_eq!(st[0].context(), Ctx::Scope);
}

// ---- paths, literals, comparisons ----

#[test]
fn paths_read_and_write() {
    assert_eq!(eval("name").unwrap(), s("operationA"));
    assert_eq!(eval("span.name").unwrap(), s("operationA"));
    assert_eq!(eval("kind").unwrap(), Value::Int(2));
    assert_eq!(eval(r#"attributes["m"]["n"]["z"]"#).unwrap(), Value::Int(1));
    assert_eq!(eval(r#"attributes["l"][1]"#).unwrap(), s("b"));
    assert_eq!(eval(r#"attributes["missing"]"#).unwrap(), Value::Nil);
    assert_eq!(
        eval(r#"attributes["m"]["missing"]["deeper"]"#).unwrap(),
        Value::Nil
    );
    assert_eq!(
        eval(r#"attributes["l"][5]"#).unwrap_err(),
        "index 5 out of bounds"
    );
    assert_eq!(
        eval(r#"attributes["s"]["x"]"#).unwrap_err(),
        "type string does not support indexing"
    );
    assert_eq!(
        eval(r#"resource.attributes["service.name"]"#).unwrap(),
        s("svc-checkout")
    );
    assert_eq!(eval("trace_id.string").unwrap(), s(&"01".repeat(16)));
    assert_eq!(
        eval("end_time_unix_nano - start_time_unix_nano").unwrap(),
        Value::Int(2500)
    );
    assert_eq!(eval("UnixNano(end_time)").unwrap(), Value::Int(3500));

    let span = run(&[
        r#"set(name, "renamed")"#,
        "set(status.code, STATUS_CODE_ERROR)",
        r#"set(status.message, "boom")"#,
        "set(kind, SPAN_KIND_CLIENT)",
        r#"set(attributes["m"]["n"]["new"], "deep")"#,
        r#"set(attributes["fresh"]["a"], 1)"#,
        r#"set(attributes["l"][0], "z")"#,
        r#"set(resource.attributes["env"], "prod")"#,
        r#"set(attributes["nil"], attributes["missing"])"#,
    ])
    .unwrap();
    assert_eq!(span.name, "renamed");
    assert_eq!(span.status.as_ref().unwrap().code, 2);
    assert_eq!(span.status.as_ref().unwrap().message, "boom");
    assert_eq!(span.kind, 3);
    let m = Value::from_any(Some(&AnyValue {
        value: Some(V::KvlistValue(KeyValueList {
            values: vec![kv("z", Value::Int(1)), kv("new", s("deep"))],
        })),
    }));
    let mut probe = span.clone();
    run_on(
        &[r#"set(attributes["probe"], attributes["m"]["n"])"#],
        &mut probe,
    )
    .unwrap();
    assert_eq!(attr(&probe, "probe"), m);
    assert_eq!(
        attr(&span, "fresh"),
        Value::Map(vec![kv("a", Value::Int(1))])
    );
    assert_eq!(attr(&span, "l"), list(vec![s("z"), s("b")]));
    // Setting nil does nothing.
    assert!(!keys(&span).contains(&"nil"));
    // Wrong type for a typed field is an error.
    assert_eq!(
        run(&["set(name, 5)"]).unwrap_err(),
        "name must be a string, got int"
    );
    assert_eq!(
        run(&[r#"set(kind, "server")"#]).unwrap_err(),
        "kind must be an int, got string"
    );
}

#[test]
fn resource_writes_reach_the_resource() {
    let st = parse_statements(&[r#"set(attributes["env"], "prod")"#], Ctx::Resource).unwrap();
    let mut res = None;
    let mut t = TCtx::new(&mut res);
    st[0].execute(&mut t).unwrap();
    assert_eq!(res.unwrap().attributes, vec![kv("env", s("prod"))]);
}

#[test]
fn log_paths() {
    let st = parse_statements(
        &[
            r#"set(body, "redacted") where severity_number >= SEVERITY_NUMBER_WARN"#,
            r#"set(attributes["sev"], severity_text)"#,
            r#"set(log.severity_number, SEVERITY_NUMBER_ERROR2) where IsMatch(log.body, "^red")"#,
        ],
        Ctx::Log,
    )
    .unwrap();
    let mut log = LogRecord {
        severity_number: 13,
        severity_text: "WARN".into(),
        body: Some(s("secret").into_any()),
        ..Default::default()
    };
    let mut res = None;
    let mut t = TCtx::new(&mut res);
    t.log = Some(&mut log);
    for x in &st {
        x.execute(&mut t).unwrap();
    }
    assert_eq!(Value::from_any(log.body.as_ref()), s("redacted"));
    assert_eq!(log.attributes, vec![kv("sev", s("WARN"))]);
    assert_eq!(log.severity_number, 18);
}

#[test]
fn comparisons_follow_ottl_rules() {
    assert!(cond(r#"name == "operationA""#).unwrap());
    assert!(cond(r#"attributes["i"] == 5"#).unwrap());
    assert!(cond(r#"attributes["i"] == 5.0"#).unwrap());
    assert!(cond(r#"attributes["d"] > 2"#).unwrap());
    assert!(cond(r#"attributes["missing"] == nil"#).unwrap());
    assert!(!cond(r#"attributes["missing"] == "x""#).unwrap());
    assert!(cond(r#"attributes["missing"] != "x""#).unwrap());
    assert!(!cond(r#"attributes["missing"] < 1"#).unwrap());
    assert!(!cond(r#"attributes["s"] == 5"#).unwrap());
    assert!(!cond(r#"attributes["s"] > 5"#).unwrap());
    assert!(cond(r#""abc" < "abd""#).unwrap());
    assert!(!cond("true > false").unwrap());
    assert!(cond(r#"attributes["l"] == ["a", "b"]"#).unwrap());
    assert!(cond("kind == SPAN_KIND_SERVER").unwrap());
    assert!(cond(r#"not (name == "x")"#).unwrap());
    // A non-bool value in a condition is an evaluation error.
    assert_eq!(
        cond(r#"attributes["s"]"#).unwrap_err(),
        "condition must be a bool, got string"
    );
}

#[test]
fn math() {
    assert_eq!(eval(r#"attributes["i"] * 2"#).unwrap(), Value::Int(10));
    assert_eq!(eval(r#"attributes["d"] + 1"#).unwrap(), Value::Double(3.5));
    assert_eq!(eval("7 / 2").unwrap(), Value::Int(3));
    assert_eq!(eval("7.0 / 2").unwrap(), Value::Double(3.5));
    assert_eq!(eval("1 / 0").unwrap_err(), "attempted to divide by 0");
    assert_eq!(
        eval(r#"attributes["s"] + 1"#).unwrap_err(),
        "unsupported math operation + on string and int"
    );
    assert_eq!(
        eval(r#"attributes["missing"] + 1"#).unwrap_err(),
        "unsupported math operation + on nil and int"
    );
}

// ---- editors ----

#[test]
fn set_and_delete_key() {
    let span = run(&[
        r#"delete_key(attributes, "s")"#,
        r#"delete_key(attributes, "missing")"#,
    ])
    .unwrap();
    assert!(!keys(&span).contains(&"s"));
    assert_eq!(span.attributes.len(), fixture().attributes.len() - 1);
    // Nested map target; nil target is a no-op; non-map target is an error.
    let span = run(&[
        r#"delete_key(attributes["m"], "x")"#,
        r#"delete_key(attributes["nope"], "x")"#,
    ])
    .unwrap();
    assert_eq!(
        attr(&span, "m"),
        Value::Map(vec![kv("n", Value::Map(vec![kv("z", Value::Int(1))]))])
    );
    assert_eq!(
        run(&[r#"delete_key(attributes["s"], "x")"#]).unwrap_err(),
        "delete_key: expected a map but got string"
    );
}

#[test]
fn matching_keys() {
    let span = run(&[r#"delete_matching_keys(attributes, "^[sidb]$")"#]).unwrap();
    assert_eq!(keys(&span), ["m", "l", "json", "camel", "when"]);
    let span = run(&[r#"keep_matching_keys(attributes, "^[sidb]$")"#]).unwrap();
    assert_eq!(keys(&span), ["s", "i", "d", "b"]);
    let span = run(&[r#"keep_keys(attributes, ["i", "l", "missing"])"#]).unwrap();
    assert_eq!(keys(&span), ["i", "l"]);
    let span = run(&[r#"keep_keys(attributes, [])"#]).unwrap();
    assert!(span.attributes.is_empty());
    assert_eq!(
        run(&[r#"keep_keys(attributes["i"], ["x"])"#]).unwrap_err(),
        "keep_keys: expected a map but got int"
    );
}

#[test]
fn limit_keeps_priority_keys() {
    let span = run(&[r#"limit(attributes, 2, ["when"])"#]).unwrap();
    assert_eq!(keys(&span), ["s", "when"]);
    let span = run(&["limit(attributes, 100)"]).unwrap();
    assert_eq!(span.attributes.len(), fixture().attributes.len());
    assert_eq!(
        compile_err(r#"limit(attributes, 1, ["a", "b"])"#),
        "statement 1, col 22: invalid limit for limit function, 1 cannot be less than number of priority attributes 2"
    );
}

#[test]
fn truncate_all() {
    let span = run(&["truncate_all(attributes, 5)"]).unwrap();
    assert_eq!(attr(&span, "s"), s("hello"));
    assert_eq!(attr(&span, "i"), Value::Int(5));
    let mut sp = fixture();
    sp.attributes = vec![kv("u", s("héllo"))];
    run_on(&["truncate_all(attributes, 2)"], &mut sp).unwrap();
    assert_eq!(attr(&sp, "u"), s("h"), "never splits a character");
}

#[test]
fn merge_maps_strategies() {
    let src = r#"{"s": "new", "extra": 1}"#;
    let span = run(&[&format!(r#"merge_maps(attributes, {src}, "insert")"#)]).unwrap();
    assert_eq!(
        (attr(&span, "s"), attr(&span, "extra")),
        (s("hello world"), Value::Int(1))
    );
    let span = run(&[&format!(r#"merge_maps(attributes, {src}, "update")"#)]).unwrap();
    assert_eq!(
        (attr(&span, "s"), attr(&span, "extra")),
        (s("new"), Value::Nil)
    );
    let span = run(&[&format!(r#"merge_maps(attributes, {src}, "upsert")"#)]).unwrap();
    assert_eq!(
        (attr(&span, "s"), attr(&span, "extra")),
        (s("new"), Value::Int(1))
    );
    let span =
        run(&[r#"merge_maps(attributes, ParseJSON(attributes["json"]), "upsert")"#]).unwrap();
    assert_eq!(attr(&span, "a"), Value::Int(1));
    // Nil source: nothing; non-map source: error.
    run(&[r#"merge_maps(attributes, attributes["missing"], "upsert")"#]).unwrap();
    assert_eq!(
        run(&[r#"merge_maps(attributes, attributes["s"], "upsert")"#]).unwrap_err(),
        "merge_maps: source must be a map, got string"
    );
}

#[test]
fn replace_functions() {
    let span = run(&[r#"replace_pattern(attributes["s"], "o(\\w)", "0$1")"#]).unwrap();
    assert_eq!(attr(&span, "s"), s("hello w0rld"));
    let span = run(&[r#"replace_pattern(name, "^operation", "op-")"#]).unwrap();
    assert_eq!(span.name, "op-A");
    // Non-string and missing targets are left alone.
    let span = run(&[
        r#"replace_pattern(attributes["i"], "5", "6")"#,
        r#"replace_pattern(attributes["missing"], ".*", "x")"#,
    ])
    .unwrap();
    assert_eq!(attr(&span, "i"), Value::Int(5));
    assert!(!keys(&span).contains(&"missing"));

    let span = run(&[r#"replace_all_patterns(attributes, "value", "^hello", "bye")"#]).unwrap();
    assert_eq!(attr(&span, "s"), s("bye world"));
    let span = run(&[r#"replace_all_patterns(attributes, "key", "^(s|i)$", "k_$1")"#]).unwrap();
    assert_eq!(&keys(&span)[..2], ["k_s", "k_i"]);
    assert_eq!(
        compile_err(r#"replace_all_patterns(attributes, "both", "a", "b")"#),
        r#"statement 1, col 34: invalid mode "both", must be "key" or "value""#
    );

    let span = run(&[r#"replace_match(attributes["s"], "hello *", "greeting")"#]).unwrap();
    assert_eq!(attr(&span, "s"), s("greeting"));
    let span = run(&[r#"replace_match(attributes["s"], "bye*", "x")"#]).unwrap();
    assert_eq!(attr(&span, "s"), s("hello world"));
    let span = run(&[r#"replace_all_matches(attributes, "{Hello,hello}*", "x")"#]).unwrap();
    assert_eq!((attr(&span, "s"), attr(&span, "camel")), (s("x"), s("x")));
    assert_eq!(attr(&span, "when"), s("2023-05-26 12:34:56"));
}

#[test]
fn flatten_maps() {
    let span = run(&[r#"flatten(attributes["m"])"#]).unwrap();
    assert_eq!(
        attr(&span, "m"),
        Value::Map(vec![kv("x", s("y")), kv("n.z", Value::Int(1))])
    );
    let span = run(&[r#"flatten(attributes["m"], "p", 0)"#]).unwrap();
    assert_eq!(
        attr(&span, "m"),
        Value::Map(vec![
            kv("p.x", s("y")),
            kv("p.n", Value::Map(vec![kv("z", Value::Int(1))]))
        ])
    );
    let mut sp = fixture();
    sp.attributes = vec![kv(
        "a",
        list(vec![s("x"), Value::Map(vec![kv("b", Value::Int(2))])]),
    )];
    run_on(&["flatten(attributes)"], &mut sp).unwrap();
    assert_eq!(keys(&sp), ["a.0", "a.1.b"]);
    assert_eq!(
        run(&[r#"flatten(attributes["s"])"#]).unwrap_err(),
        "flatten: expected a map but got string"
    );
}

// ---- converters ----

#[test]
fn is_match() {
    assert_eq!(
        eval(r#"IsMatch(name, "^op.*A$")"#).unwrap(),
        Value::Bool(true)
    );
    assert_eq!(
        eval(r#"IsMatch(attributes["i"], "^5$")"#).unwrap(),
        Value::Bool(true)
    );
    assert_eq!(
        eval(r#"IsMatch(attributes["missing"], ".*")"#).unwrap(),
        Value::Bool(false)
    );
    assert_eq!(
        eval(r#"IsMatch(attributes["m"], ".*")"#).unwrap_err(),
        "IsMatch: unsupported type map"
    );
}

#[test]
fn concat_split_case() {
    assert_eq!(
        eval(r#"Concat([name, attributes["i"], attributes["b"], "x"], "-")"#).unwrap(),
        s("operationA-5-true-x")
    );
    assert_eq!(
        eval(r#"Concat([name, attributes["missing"]], "/")"#).unwrap(),
        s("operationA/<nil>")
    );
    assert_eq!(
        eval(r#"Concat([attributes["m"]], "")"#).unwrap_err(),
        "Concat: unsupported type map"
    );
    assert_eq!(
        eval(r#"Split(attributes["s"], " ")"#).unwrap(),
        list(vec![s("hello"), s("world")])
    );
    assert_eq!(
        eval(r#"Split(attributes["missing"], " ")"#).unwrap(),
        Value::Nil
    );
    assert_eq!(
        eval(r#"Split(attributes["i"], " ")"#).unwrap_err(),
        "Split: expected a string but got int"
    );
    assert_eq!(
        eval(r#"ConvertCase(name, "upper")"#).unwrap(),
        s("OPERATIONA")
    );
    assert_eq!(
        eval(r#"ConvertCase(name, "lower")"#).unwrap(),
        s("operationa")
    );
    assert_eq!(
        eval(r#"ConvertCase(attributes["camel"], "snake")"#).unwrap(),
        s("hello_world")
    );
    assert_eq!(
        eval(r#"ConvertCase("hello_world", "camel")"#).unwrap(),
        s("HelloWorld")
    );
    assert_eq!(
        eval(r#"ConvertCase(attributes["missing"], "upper")"#).unwrap(),
        Value::Nil
    );
    assert_eq!(
        eval(r#"ConvertCase(attributes["i"], "upper")"#).unwrap_err(),
        "ConvertCase: expected a string but got int"
    );
}

#[test]
fn type_conversions() {
    assert_eq!(eval(r#"Int("42")"#).unwrap(), Value::Int(42));
    assert_eq!(eval(r#"Int(attributes["d"])"#).unwrap(), Value::Int(2));
    assert_eq!(eval("Int(true)").unwrap(), Value::Int(1));
    assert_eq!(eval(r#"Int("abc")"#).unwrap(), Value::Nil);
    assert_eq!(eval(r#"Int(attributes["missing"])"#).unwrap(), Value::Nil);
    assert_eq!(eval(r#"Double("1.5")"#).unwrap(), Value::Double(1.5));
    assert_eq!(
        eval(r#"Double(attributes["i"])"#).unwrap(),
        Value::Double(5.0)
    );
    assert_eq!(eval(r#"Double(attributes["m"])"#).unwrap(), Value::Nil);
    assert_eq!(eval(r#"String(attributes["i"])"#).unwrap(), s("5"));
    assert_eq!(eval(r#"String(attributes["d"])"#).unwrap(), s("2.5"));
    assert_eq!(
        eval(r#"String(attributes["l"])"#).unwrap(),
        s(r#"["a","b"]"#)
    );
    assert_eq!(eval("String(trace_id)").unwrap(), s(&"01".repeat(16)));
    assert_eq!(
        eval(r#"String(attributes["missing"])"#).unwrap(),
        Value::Nil
    );
    assert_eq!(eval(r#"IsString(name)"#).unwrap(), Value::Bool(true));
    assert_eq!(
        eval(r#"IsString(attributes["i"])"#).unwrap(),
        Value::Bool(false)
    );
    assert_eq!(
        eval(r#"IsString(attributes["missing"])"#).unwrap(),
        Value::Bool(false)
    );
    assert_eq!(
        eval(r#"IsInt(attributes["i"])"#).unwrap(),
        Value::Bool(true)
    );
    assert_eq!(
        eval(r#"IsInt(attributes["d"])"#).unwrap(),
        Value::Bool(false)
    );
}

#[test]
fn len_and_json() {
    assert_eq!(eval(r#"Len(attributes["s"])"#).unwrap(), Value::Int(11));
    assert_eq!(eval(r#"Len(attributes["l"])"#).unwrap(), Value::Int(2));
    assert_eq!(eval(r#"Len(attributes["m"])"#).unwrap(), Value::Int(2));
    assert_eq!(eval("Len(trace_id)").unwrap(), Value::Int(16));
    assert_eq!(
        eval(r#"Len(attributes["i"])"#).unwrap_err(),
        "Len: unsupported type int"
    );
    assert_eq!(
        eval(r#"Len(attributes["missing"])"#).unwrap_err(),
        "Len: unsupported type nil"
    );
    assert_eq!(
        eval(r#"ParseJSON(attributes["json"])["c"]["d"]"#).unwrap(),
        Value::Bool(true)
    );
    assert_eq!(
        eval(r#"ParseJSON(attributes["json"])["b"]"#).unwrap(),
        list(vec![Value::Int(1), s("x")])
    );
    assert!(
        eval(r#"ParseJSON("{bad")"#)
            .unwrap_err()
            .starts_with("ParseJSON: ")
    );
    assert_eq!(
        eval(r#"ParseJSON(attributes["missing"])"#).unwrap_err(),
        "ParseJSON: expected a string but got nil"
    );
}

#[test]
fn hashing_and_ids() {
    assert_eq!(
        eval(r#"SHA256("abc")"#).unwrap(),
        s("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(
        eval(r#"SHA256(attributes["missing"])"#).unwrap(),
        Value::Nil
    );
    assert_eq!(
        eval(r#"SHA256(attributes["i"])"#).unwrap_err(),
        "SHA256: expected a string but got int"
    );
    let span = run(&[
        "set(span_id, SpanID(0x0102030405060708))",
        "set(trace_id, TraceID(0x0102030405060708090a0b0c0d0e0f10))",
    ])
    .unwrap();
    assert_eq!(&span.span_id[..], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(span.trace_id[15], 0x10);
    assert_eq!(
        run(&["set(span_id, TraceID(0x0102030405060708090a0b0c0d0e0f10))"]).unwrap_err(),
        "span_id must be 8 bytes, got bytes"
    );
}

#[test]
fn substring() {
    assert_eq!(eval(r#"Substring(name, 0, 9)"#).unwrap(), s("operation"));
    assert_eq!(
        eval(r#"Substring(attributes["missing"], 0, 1)"#).unwrap(),
        Value::Nil
    );
    assert_eq!(
        eval(r#"Substring(name, 5, 10)"#).unwrap_err(),
        "invalid range for substring function, 15 cannot be greater than the length of target string(10)"
    );
    assert_eq!(
        eval(r#"Substring(attributes["i"], 0, 1)"#).unwrap_err(),
        "Substring: expected a string but got int"
    );
}

#[test]
fn time_functions() {
    // 2023-05-26T12:34:56Z
    let want = 1_685_104_496_000_000_000i64;
    assert_eq!(
        eval(r#"UnixNano(Time(attributes["when"], "%Y-%m-%d %H:%M:%S"))"#).unwrap(),
        Value::Int(want)
    );
    assert_eq!(
        eval(r#"UnixNano(Time("2023-05-26T14:34:56.250+0200", "%Y-%m-%dT%H:%M:%S.%L%z"))"#)
            .unwrap(),
        Value::Int(want + 250_000_000)
    );
    assert_eq!(
        eval(r#"UnixNano(Time("26 May 2023", "%d %b %Y"))"#).unwrap(),
        Value::Int(want - (12 * 3600 + 34 * 60 + 56) * 1_000_000_000)
    );
    assert!(
        eval(r#"Time("nope", "%Y")"#)
            .unwrap_err()
            .starts_with("Time: cannot parse \"nope\"")
    );
    assert_eq!(
        eval(r#"Time(attributes["missing"], "%Y")"#).unwrap_err(),
        "Time: expected a string but got nil"
    );
    assert_eq!(
        eval(r#"UnixNano(TruncateTime(Time(attributes["when"], "%Y-%m-%d %H:%M:%S"), Duration("1h")))"#)
            .unwrap(),
        Value::Int(want - (34 * 60 + 56) * 1_000_000_000)
    );
    assert_eq!(
        eval(r#"UnixNano(name)"#).unwrap_err(),
        "UnixNano: expected a time but got string"
    );
    let Value::Int(now) = eval("UnixNano(Now())").unwrap() else {
        panic!()
    };
    assert!(now > want);
    let span =
        run(&[r#"set(end_time, Time("2023-05-26 12:34:56", "%Y-%m-%d %H:%M:%S"))"#]).unwrap();
    assert_eq!(span.end_time_unix_nano, want as u64);
    assert_eq!(time::parse_duration("1h30m").unwrap(), 5_400_000_000_000);
    assert_eq!(time::parse_duration("-1.5s").unwrap(), -1_500_000_000);
    assert!(time::parse_duration("5 parsecs").is_err());
}

#[test]
fn enums() {
    assert_eq!(compile::enum_value("SEVERITY_NUMBER_INFO"), Some(9));
    assert_eq!(compile::enum_value("SEVERITY_NUMBER_FATAL4"), Some(24));
    assert_eq!(compile::enum_value("SEVERITY_NUMBER_INFO5"), None);
    assert_eq!(compile::enum_value("STATUS_CODE_ERROR"), Some(2));
    assert_eq!(compile::enum_value("METRIC_DATA_TYPE_SUM"), Some(2));
}

#[test]
fn array_values_round_trip() {
    let v = Value::from_any(Some(&AnyValue {
        value: Some(V::ArrayValue(ArrayValue {
            values: vec![s("a").into_any()],
        })),
    }));
    assert_eq!(v, list(vec![s("a")]));
    let _: KeyValue = kv("k", v);
}

#[test]
fn metric_editors_compile_only_in_the_metric_context() {
    let m = |s: &str| parse_statements(&[s], Ctx::Metric);
    m("convert_sum_to_gauge()").unwrap();
    m(r#"convert_gauge_to_sum("cumulative", false) where name == "a""#).unwrap();
    m("extract_sum_metric(true)").unwrap();
    m(r#"extract_count_metric(true, "_total")"#).unwrap();
    assert_eq!(
        m(r#"convert_gauge_to_sum("weekly", true)"#).unwrap_err(),
        "statement 1, col 22: unknown aggregation temporality: weekly"
    );
    assert_eq!(
        m(r#"extract_sum_metric("yes")"#).unwrap_err(),
        "statement 1, col 20: monotonic must be a bool literal"
    );
    assert_eq!(
        m("extract_count_metric()").unwrap_err(),
        r#"statement 1, col 1: missing argument "monotonic" of "extract_count_metric""#
    );
    assert_eq!(
        parse_statements(&["convert_sum_to_gauge()"], Ctx::Span).unwrap_err(),
        r#"statement 1, col 1: function "convert_sum_to_gauge" is not supported in the span context"#
    );
}

#[test]
fn cache_and_dynamic_keys() {
    let span = run(&[
        r#"set(cache["parts"], Split(attributes["s"], " "))"#,
        r#"set(attributes["first"], cache["parts"][0])"#,
        r#"set(attributes["key"], "i")"#,
        r#"set(attributes["via_key"], attributes[attributes["key"]])"#,
        r#"delete_key(cache, "parts")"#,
    ])
    .unwrap();
    assert_eq!(attr(&span, "first"), s("hello"));
    assert_eq!(attr(&span, "via_key"), Value::Int(5));
    // The cache is per evaluation context, never written to the item.
    assert!(!keys(&span).contains(&"parts"));
    // Editing a resource without attributes creates them.
    let st = parse_statements(
        &[r#"merge_maps(attributes, {"a": "b"}, "upsert")"#],
        Ctx::Resource,
    )
    .unwrap();
    let mut res = None;
    st[0].execute(&mut TCtx::new(&mut res)).unwrap();
    assert_eq!(res.unwrap().attributes, vec![kv("a", s("b"))]);
}
