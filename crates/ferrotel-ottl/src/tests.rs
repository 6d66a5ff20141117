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

/// Number and string literals as Go's OTTL lexer reads them: `\d*\.\d+([eE][-+]?\d+)?` for
/// floats, a sign on ints and floats, `strconv.Unquote`'s escapes, trailing commas in maps.
#[test]
fn literals_follow_go_lexer() {
    assert_eq!(eval("1.5e3").unwrap(), Value::Double(1500.0));
    assert_eq!(eval("2.5E-1").unwrap(), Value::Double(0.25));
    assert_eq!(eval(".5").unwrap(), Value::Double(0.5));
    assert_eq!(eval("-.5").unwrap(), Value::Double(-0.5));
    assert_eq!(eval("+5").unwrap(), Value::Int(5));
    assert_eq!(eval("3 - +2").unwrap(), Value::Int(1));
    assert_eq!(eval("+1.5e+1").unwrap(), Value::Double(15.0));
    assert_eq!(
        eval(r#""\u00e9\x41\U0001F600\t""#).unwrap(),
        s("\u{e9}A\u{1F600}\t")
    );
    assert_eq!(
        eval(r#"{"a": 1, "b": 2,}"#).unwrap(),
        Value::Map(vec![kv("a", Value::Int(1)), kv("b", Value::Int(2))])
    );
    // A path segment is never read as a float: `.` then a letter stays punctuation.
    assert_eq!(eval("status.code").unwrap(), Value::Int(0));
    assert_eq!(
        compile_err(r#"set(attributes["x"], "\u00g1")"#),
        r#"statement 1, col 23: invalid escape "\u00g1""#
    );
    assert_eq!(
        compile_err(r#"set(attributes["x"], "\xff")"#),
        r#"statement 1, col 23: invalid escape "\xff""#
    );
    assert_eq!(
        compile_err(r#"set(attributes["x"], 1e3)"#),
        r#"statement 1, col 22: invalid number "1e3""#
    );
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

/// Nesting is bounded, so a config cannot overflow the parser's stack.
#[test]
fn deep_nesting_is_refused() {
    for src in [
        format!("set(name, {}1{})", "(".repeat(10_000), ")".repeat(10_000)),
        format!("set(name, {}1{})", "[".repeat(10_000), "]".repeat(10_000)),
        format!("set(name, \"a\") where {}true", "not ".repeat(10_000)),
        format!("set(name, {}1)", "-".repeat(10_000)),
    ] {
        let e = compile_err(&src);
        assert!(e.contains("expression nested too deeply"), "{e}");
    }
    // 90 parentheses are fine.
    parse_statements(
        &[format!(
            "set(attributes[\"x\"], {}1{})",
            "(".repeat(90),
            ")".repeat(90)
        )],
        Ctx::Span,
    )
    .unwrap();
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
    assert_eq!(attr(&span, "a"), Value::Double(1.0));
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
    // A nil replacement is an error, as for every string argument in Go's OTTL.
    let e = run(&[r#"replace_pattern(attributes["s"], "o", attributes["missing"])"#]).unwrap_err();
    assert!(
        e.contains("replace_pattern: expected a string but got nil"),
        "{e}"
    );

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
    // Keys renamed onto one another: the first place, the last value (Go's PutEmpty).
    let mut sp = fixture();
    sp.attributes = vec![
        kv("a.1", Value::Int(1)),
        kv("b", Value::Int(2)),
        kv("a.2", Value::Int(3)),
    ];
    run_on(
        &[r#"replace_all_patterns(attributes, "key", "^a\\..*", "a")"#],
        &mut sp,
    )
    .unwrap();
    assert_eq!(keys(&sp), ["a", "b"]);
    assert_eq!(attr(&sp, "a"), Value::Int(3));
    // A glob's `*` runs over line breaks, as gobwas/glob's does.
    let mut sp = fixture();
    sp.attributes = vec![kv("s", s("line 1\nline 2"))];
    run_on(
        &[r#"replace_match(attributes["s"], "line*2", "x")"#],
        &mut sp,
    )
    .unwrap();
    assert_eq!(attr(&sp, "s"), s("x"));
}

#[test]
fn flatten_maps() {
    let span = run(&[r#"flatten(attributes["m"])"#]).unwrap();
    assert_eq!(
        attr(&span, "m"),
        Value::Map(vec![kv("x", s("y")), kv("n.z", Value::Int(1))])
    );
    // The Go README's depth example: one level opened.
    let nest = |k: &str, v: Value| Value::Map(vec![kv(k, v)]);
    let mut sp = fixture();
    sp.attributes = vec![kv(
        "m",
        nest("0", nest("1", nest("2", nest("3", s("value"))))),
    )];
    run_on(&[r#"flatten(attributes["m"], "p", 1)"#], &mut sp).unwrap();
    assert_eq!(
        attr(&sp, "m"),
        nest("p.0.1", nest("2", nest("3", s("value"))))
    );
    assert_eq!(
        compile_err(r#"flatten(attributes["m"], "p", 0)"#),
        "statement 1, col 31: invalid depth '0' for flatten function, must be greater than 0"
    );
    // A key written twice keeps its first place and its last value; with resolveConflicts
    // the later values get suffixes (the Go README's example).
    let input = || {
        Value::Map(vec![
            kv(
                "address",
                Value::Map(vec![
                    kv("street", Value::Map(vec![kv("number", s("first"))])),
                    kv("house", s("1234")),
                ]),
            ),
            kv(
                "address.street",
                Value::Map(vec![kv("number", list(vec![s("second"), s("third")]))]),
            ),
            kv("address.street.number", s("fourth")),
            kv("occupants", list(vec![s("user 1"), s("user 2")])),
        ])
    };
    let mut sp = fixture();
    sp.attributes = vec![kv("m", input())];
    run_on(&[r#"flatten(attributes["m"])"#], &mut sp).unwrap();
    assert_eq!(
        attr(&sp, "m"),
        Value::Map(vec![
            kv("address.street.number", s("fourth")),
            kv("address.house", s("1234")),
            kv("address.street.number.0", s("second")),
            kv("address.street.number.1", s("third")),
            kv("occupants.0", s("user 1")),
            kv("occupants.1", s("user 2")),
        ])
    );
    sp.attributes = vec![kv("m", input())];
    run_on(
        &[r#"flatten(attributes["m"], resolveConflicts=true)"#],
        &mut sp,
    )
    .unwrap();
    assert_eq!(
        attr(&sp, "m"),
        Value::Map(vec![
            kv("address.street.number", s("first")),
            kv("address.house", s("1234")),
            kv("address.street.number.0", s("second")),
            kv("address.street.number.1", s("third")),
            kv("address.street.number.2", s("fourth")),
            kv("occupants", s("user 1")),
            kv("occupants.0", s("user 2")),
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
    // Maps and lists are matched as JSON (keys sorted; Go leaves their order to its map),
    // bytes as lower-case hex (Go's StringLikeGetter).
    assert_eq!(
        eval(r#"IsMatch(attributes["m"], "^\\{\"n\":\\{\"z\":1\\},\"x\":\"y\"\\}$")"#).unwrap(),
        Value::Bool(true)
    );
    assert_eq!(
        eval(r#"IsMatch(attributes["l"], "^\\[\"a\",\"b\"\\]$")"#).unwrap(),
        Value::Bool(true)
    );
    assert_eq!(
        eval(r#"IsMatch(trace_id, "^(01){16}$")"#).unwrap(),
        Value::Bool(true)
    );
    assert_eq!(
        eval(r#"IsMatch(attributes["d"], "^2\\.5$")"#).unwrap(),
        Value::Bool(true)
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
        eval(r#"Concat([attributes["l"], span_id, attributes["d"]], "|")"#).unwrap(),
        s(r#"["a","b"]|0202020202020202|2.5"#)
    );
    assert_eq!(
        eval(r#"Split(attributes["s"], " ")"#).unwrap(),
        list(vec![s("hello"), s("world")])
    );
    // An empty separator splits into characters, as Go's strings.Split.
    assert_eq!(
        eval(r#"Split("aé", "")"#).unwrap(),
        list(vec![s("a"), s("é")])
    );
    assert_eq!(eval(r#"Split("", "")"#).unwrap(), list(vec![]));
    assert_eq!(eval(r#"Split("", ",")"#).unwrap(), list(vec![s("")]));
    assert_eq!(
        eval(r#"Split(attributes["missing"], " ")"#).unwrap_err(),
        "Split: expected a string but got nil"
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
    // snake and camel as iancoleman/strcase, which Go's OTTL uses (cases from its tests).
    for (input, snake) in [
        ("testCase", "test_case"),
        (" Test Case ", "test_case"),
        ("ManyManyWords", "many_many_words"),
        ("AnyKind of_string", "any_kind_of_string"),
        ("numbers2and55with000", "numbers_2_and_55_with_000"),
        ("JSONData", "json_data"),
        ("userID", "user_id"),
        ("myHTTPServer", "my_http_server"),
        ("AAAbbb", "aa_abbb"),
        ("A1 A2 A3", "a_1_a_2_a_3"),
        ("AB1AB2AB3", "ab_1_ab_2_ab_3"),
        ("http.server-duration", "http_server_duration"),
        ("", ""),
    ] {
        assert_eq!(crate::funcs::convert_case(input, "snake"), snake, "{input}");
    }
    for (input, camel) in [
        ("test_case", "TestCase"),
        ("test.case", "TestCase"),
        (" test  case ", "TestCase"),
        ("TestCase", "TestCase"),
        ("AnyKind of_string", "AnyKindOfString"),
        ("odd-fix", "OddFix"),
        ("numbers2And55with000", "Numbers2And55With000"),
        ("v2beta", "V2Beta"),
        ("foo/bar", "Foobar"),
        ("", ""),
    ] {
        assert_eq!(crate::funcs::convert_case(input, "camel"), camel, "{input}");
    }
    assert_eq!(
        eval(r#"ConvertCase(attributes["missing"], "upper")"#).unwrap_err(),
        "ConvertCase: expected a string but got nil"
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
    // Go: other types are errors; a string Int cannot read is nil, one Double cannot read an
    // error (strconv.ParseFloat's); no trimming.
    assert_eq!(
        eval(r#"Double(attributes["m"])"#).unwrap_err(),
        "Double: unsupported type: map"
    );
    assert_eq!(
        eval(r#"Int(attributes["l"])"#).unwrap_err(),
        "Int: unsupported type: slice"
    );
    assert_eq!(eval(r#"Int(" 1")"#).unwrap(), Value::Nil);
    assert_eq!(eval(r#"Int("1.5")"#).unwrap(), Value::Nil);
    assert_eq!(
        eval(r#"Double("abc")"#).unwrap_err(),
        r#"strconv.ParseFloat: parsing "abc": invalid syntax"#
    );
    assert_eq!(
        eval(r#"Double(attributes["missing"])"#).unwrap(),
        Value::Nil
    );
    assert_eq!(eval(r#"String(attributes["i"])"#).unwrap(), s("5"));
    assert_eq!(eval(r#"String(attributes["d"])"#).unwrap(), s("2.5"));
    // Exponents below 1e-6 and from 1e21 on, as Go's AsString and JSON write them.
    assert_eq!(eval("String(1.0e21)").unwrap(), s("1e+21"));
    assert_eq!(eval("String(1.5e22)").unwrap(), s("1.5e+22"));
    assert_eq!(eval("String(0.00000015)").unwrap(), s("1.5e-7"));
    assert_eq!(eval("String(0.000001)").unwrap(), s("0.000001"));
    assert_eq!(eval("String(123456789.0)").unwrap(), s("123456789"));
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
    // Every JSON number is a double, as Go decodes it into float64.
    assert_eq!(
        eval(r#"ParseJSON(attributes["json"])["b"]"#).unwrap(),
        list(vec![Value::Double(1.0), s("x")])
    );
    assert_eq!(
        eval(r#"ParseJSON(attributes["json"])["a"]"#).unwrap(),
        Value::Double(1.0)
    );
    assert_eq!(
        eval(r#"ParseJSON("[1, {\"k\": null}]")"#).unwrap(),
        list(vec![
            Value::Double(1.0),
            Value::Map(vec![kv("k", Value::Nil)])
        ])
    );
    assert!(
        eval(r#"ParseJSON("42")"#)
            .unwrap_err()
            .contains("could not convert parsed value of type")
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
        eval(r#"SHA256(attributes["missing"])"#).unwrap_err(),
        "SHA256: expected a string but got nil"
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
    // Start and length are int getters, evaluated per item.
    assert_eq!(
        eval(r#"Substring(name, Len(name) - 1, 1)"#).unwrap(),
        s("A")
    );
    assert_eq!(
        eval(r#"Substring(name, attributes["i"], attributes["i"])"#).unwrap(),
        s("tionA")
    );
    assert_eq!(
        eval(r#"Substring(name, 0, attributes["i"] - 5)"#).unwrap_err(),
        "invalid length for substring function, 0 cannot be negative or zero"
    );
    assert_eq!(
        eval(r#"Substring(name, 0 - attributes["i"], 1)"#).unwrap_err(),
        "invalid start for substring function, -5 cannot be negative"
    );
    assert_eq!(
        eval(r#"Substring(name, attributes["s"], 1)"#).unwrap_err(),
        "Substring: expected int64 but got string"
    );
    assert_eq!(
        eval(r#"Substring(attributes["missing"], 0, 1)"#).unwrap_err(),
        "Substring: expected a string but got nil"
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
    // Since Go's zero time (0001-01-01): a week starts on a Monday, 2023-05-22.
    assert_eq!(
        eval(r#"UnixNano(TruncateTime(Time("2023-05-26", "%Y-%m-%d"), Duration("168h")))"#)
            .unwrap(),
        Value::Int(1_684_713_600_000_000_000)
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

// ---- converters added after the first release: hashes, encodings, strings, URL, Format,
// maps, time and duration parts; the `function` argument of the replace_* editors ----

fn map_sorted(v: Value) -> Vec<(String, Value)> {
    let Value::Map(m) = v else {
        panic!("expected a map, got {v:?}")
    };
    let mut out: Vec<(String, Value)> = m
        .into_iter()
        .map(|kv| (kv.key, Value::from_any(kv.value.as_ref())))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn pairs(items: &[(&str, Value)]) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = items
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn hash_converters() {
    let cases = [
        ("SHA1", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("MD5", "900150983cd24fb0d6963f7d28e17f72"),
        (
            "SHA512",
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
    ];
    for (f, want) in cases {
        assert_eq!(eval(&format!(r#"{f}("abc")"#)).unwrap(), s(want), "{f}");
        // Missing is nil (as SHA256 here); other types are errors, as in Go.
        assert_eq!(
            eval(&format!(r#"{f}(attributes["missing"])"#)).unwrap_err(),
            format!("{f}: expected a string but got nil")
        );
        assert_eq!(
            eval(&format!(r#"{f}(attributes["i"])"#)).unwrap_err(),
            format!("{f}: expected a string but got int")
        );
    }
    // The Go Collector's own test values.
    assert_eq!(
        eval(r#"FNV("hello world")"#).unwrap(),
        Value::Int(8618312879776256743)
    );
    assert_eq!(
        eval(r#"FNV("")"#).unwrap(),
        Value::Int(-3750763034362895579)
    );
    assert_eq!(
        eval(r#"Murmur3Hash("Hello World")"#).unwrap(),
        s("ce837619")
    );
    assert_eq!(eval(r#"Murmur3Hash("")"#).unwrap(), s("00000000"));
    assert_eq!(
        eval(r#"Murmur3Hash128("Hello World")"#).unwrap(),
        s("dbc2a0c1ab26631a27b4c09fcf1fe683")
    );
    assert_eq!(
        eval(r#"Murmur3Hash128("")"#).unwrap(),
        s("00000000000000000000000000000000")
    );
    assert_eq!(
        eval(r#"FNV(attributes["b"])"#).unwrap_err(),
        "FNV: expected a string but got bool"
    );
}

#[test]
fn hex_and_decode() {
    // The README's examples: doubles, ints and bools as big-endian bytes, strings as UTF-8.
    assert_eq!(eval("Hex(1.1)").unwrap(), s("3ff199999999999a"));
    assert_eq!(eval(r#"Hex("1")"#).unwrap(), s("31"));
    assert_eq!(eval("Hex(true)").unwrap(), s("01"));
    assert_eq!(eval("Hex(false)").unwrap(), s("00"));
    assert_eq!(eval("Hex(12)").unwrap(), s("000000000000000c"));
    assert_eq!(eval("Hex(span_id)").unwrap(), s("0202020202020202"));
    assert_eq!(eval("Hex(0x02)").unwrap(), s("02"));
    assert_eq!(eval(r#"Hex(attributes["missing"])"#).unwrap(), s(""));
    assert_eq!(
        eval(r#"Hex(attributes["m"])"#).unwrap_err(),
        "Hex: unsupported type: map"
    );

    assert_eq!(
        eval(r#"Base64Decode("aGVsbG8gd29ybGQ=")"#).unwrap(),
        s("hello world")
    );
    assert_eq!(
        eval(r#"Base64Decode(attributes["missing"])"#).unwrap_err(),
        "Base64Decode: expected a string but got nil"
    );
    assert!(
        eval(r#"Base64Decode("not base64!")"#)
            .unwrap_err()
            .starts_with("Base64Decode: failed to decode base64")
    );
    assert_eq!(
        eval(r#"Decode("aGVsbG8gd29ybGQ=", "base64")"#).unwrap(),
        s("hello world")
    );
    assert_eq!(
        eval(r#"Decode("aGVsbG8gd29ybGQ", "base64-raw")"#).unwrap(),
        s("hello world")
    );
    assert_eq!(
        eval(r#"Decode("_-8", "base64-raw-url")"#).unwrap(),
        s("\u{FFFD}\u{FFFD}")
    );
    assert_eq!(eval(r#"Decode("café", "utf-8")"#).unwrap(), s("café"));
    assert_eq!(
        eval(r#"Decode(attributes["i"], "base64")"#).unwrap_err(),
        "Decode: unsupported type provided to Decode function: int"
    );
    assert_eq!(
        compile_err(r#"set(attributes["x"], Decode(name, "ebcdic"))"#),
        r#"statement 1, col 35: unsupported encoding 'ebcdic'"#
    );
    // Character sets by name, bytes in: Go's overrides, IANA's ISO-8859-1 (0x80 is a C1
    // control there, the euro sign in windows-1252), multi-byte sets, UTF-16 both ways.
    for (call, want) in [
        (r#"Decode(0x636166c3a9, "ascii")"#, "café"),
        (r#"Decode(0x636166ff, "utf-8")"#, "caf\u{FFFD}"),
        (r#"Decode(0xe974e980, "ISO-8859-1")"#, "été\u{80}"),
        (r#"Decode(0xe974e980, "windows-1252")"#, "été€"),
        (r#"Decode(0x82a082a2, "Shift_JIS")"#, "あい"),
        (r#"Decode(0xc4e3bac3, "GBK")"#, "你好"),
        (r#"Decode(0xc7d1b1b9, "EUC-KR")"#, "한국"),
        (r#"Decode(0xc1c2c3, "KOI8-R")"#, "абц"),
        (r#"Decode(0x6800690021000000, "utf-16")"#, "hi!\0"),
        (r#"Decode(0x0068006900, "UTF-16BE")"#, "hi\u{FFFD}"),
    ] {
        assert_eq!(eval(call).unwrap(), s(want), "{call}");
    }
}

#[test]
fn bool_and_log() {
    for (arg, want) in [
        (r#""true""#, Value::Bool(true)),
        (r#""T""#, Value::Bool(true)),
        (r#""0""#, Value::Bool(false)),
        (r#""False""#, Value::Bool(false)),
        (r#""yes""#, Value::Nil),
        ("0", Value::Bool(false)),
        ("attributes[\"d\"]", Value::Bool(true)),
        ("attributes[\"b\"]", Value::Bool(true)),
        ("attributes[\"m\"]", Value::Nil),
        ("attributes[\"missing\"]", Value::Nil),
    ] {
        assert_eq!(eval(&format!("Bool({arg})")).unwrap(), want, "{arg}");
    }

    assert_eq!(eval("Log(1)").unwrap(), Value::Double(0.0));
    assert_eq!(
        eval(r#"Log(attributes["d"])"#).unwrap(),
        Value::Double(2.5f64.ln())
    );
    assert_eq!(eval(r#"Log("100")"#).unwrap(), Value::Double(100f64.ln()));
    assert_eq!(
        eval("Log(0)").unwrap_err(),
        "Log: value must be greater than zero, got 0"
    );
    assert_eq!(
        eval("Log(false)").unwrap_err(),
        "Log: value must be greater than zero, got 0"
    );
    assert_eq!(
        eval(r#"Log(attributes["missing"])"#).unwrap_err(),
        "Log: expected a number but got nil"
    );
    assert_eq!(
        eval(r#"Log(attributes["l"])"#).unwrap_err(),
        "Log: unsupported type: slice"
    );
}

#[test]
fn string_converters() {
    assert_eq!(
        eval(r#"ToLowerCase(attributes["camel"])"#).unwrap(),
        s("helloworld")
    );
    assert_eq!(
        eval(r#"ToUpperCase(attributes["camel"])"#).unwrap(),
        s("HELLOWORLD")
    );
    assert_eq!(
        eval(r#"ToSnakeCase(attributes["camel"])"#).unwrap(),
        s("hello_world")
    );
    assert_eq!(
        eval(r#"ToCamelCase("my_metric_name")"#).unwrap(),
        s("MyMetricName")
    );
    assert_eq!(
        eval(r#"ToLowerCase(attributes["missing"])"#).unwrap_err(),
        "ToLowerCase: expected a string but got nil"
    );
    assert_eq!(
        eval(r#"ToUpperCase(attributes["i"])"#).unwrap_err(),
        "ToUpperCase: expected a string but got int"
    );

    assert!(cond(r#"HasPrefix(name, "oper")"#).unwrap());
    assert!(!cond(r#"HasPrefix(name, "A")"#).unwrap());
    assert!(cond(r#"HasSuffix(name, "A")"#).unwrap());
    assert!(cond(r#"HasSuffix("ingest_service", "_service")"#).unwrap());
    assert_eq!(eval(r#"TrimPrefix(name, "operation")"#).unwrap(), s("A"));
    assert_eq!(
        eval(r#"TrimPrefix(name, "nope")"#).unwrap(),
        s("operationA")
    );
    assert_eq!(
        eval(r#"TrimSuffix("ingest_service", "_service")"#).unwrap(),
        s("ingest")
    );
    // Go: not a string or missing is an error.
    assert_eq!(
        eval(r#"HasPrefix(attributes["i"], "5")"#).unwrap_err(),
        "HasPrefix: expected a string but got int"
    );
    assert_eq!(
        eval(r#"TrimSuffix(attributes["missing"], "x")"#).unwrap_err(),
        "TrimSuffix: expected a string but got nil"
    );
    assert_eq!(
        eval(r#"HasSuffix(name, attributes["i"])"#).unwrap_err(),
        "HasSuffix: expected a string but got int"
    );
    assert_eq!(
        compile_err(r#"set(attributes["x"], HasPrefix(name))"#),
        r#"statement 1, col 22: missing argument "prefix" of "HasPrefix""#
    );
}

#[test]
fn extract_patterns() {
    let got = eval(
        r#"ExtractPatterns(attributes["s"], "^(?P<first>\\w+) (?P<second>\\w+)(?P<bang>!)?$")"#,
    )
    .unwrap();
    assert_eq!(
        map_sorted(got),
        pairs(&[
            ("first", s("hello")),
            ("second", s("world")),
            ("bang", s(""))
        ])
    );
    // The README's example.
    let span = run(&[
        r#"set(attributes["cause"], "deploy GIT_SHA=abc123 by ci")"#,
        r#"set(attributes["out"], ExtractPatterns(attributes["cause"], "GIT_SHA=(?P<git.sha>\\w+)"))"#,
    ])
    .unwrap();
    assert_eq!(
        map_sorted(attr(&span, "out")),
        pairs(&[("git.sha", s("abc123"))])
    );
    // No match: an empty map.
    assert_eq!(
        eval(r#"ExtractPatterns(name, "^(?P<x>\\d+)$")"#).unwrap(),
        Value::Map(vec![])
    );
    assert_eq!(
        eval(r#"ExtractPatterns(attributes["missing"], "(?P<x>.*)")"#).unwrap_err(),
        "ExtractPatterns: expected a string but got nil"
    );
    assert_eq!(
        eval(r#"ExtractPatterns(attributes["i"], "(?P<x>.*)")"#).unwrap_err(),
        "ExtractPatterns: expected a string but got int"
    );
    assert_eq!(
        compile_err(r#"set(attributes["x"], ExtractPatterns(name, "(.*)"))"#),
        "statement 1, col 44: at least 1 named capture group must be supplied in the given regex"
    );
}

#[test]
fn url() {
    // The README's examples.
    assert_eq!(
        map_sorted(eval(r#"URL("http://www.example.com")"#).unwrap()),
        pairs(&[
            ("url.original", s("http://www.example.com")),
            ("url.scheme", s("http")),
            ("url.domain", s("www.example.com")),
            ("url.path", s("")),
        ])
    );
    let full =
        "http://myusername:mypassword@www.example.com:80/foo.gif?key1=val1&key2=val2#fragment";
    assert_eq!(
        map_sorted(eval(&format!(r#"URL("{full}")"#)).unwrap()),
        pairs(&[
            ("url.path", s("/foo.gif")),
            ("url.fragment", s("fragment")),
            ("url.extension", s("gif")),
            ("url.password", s("mypassword")),
            ("url.original", s(full)),
            ("url.scheme", s("http")),
            ("url.port", Value::Int(80)),
            ("url.user_info", s("myusername:mypassword")),
            ("url.domain", s("www.example.com")),
            ("url.query", s("key1=val1&key2=val2")),
            ("url.username", s("myusername")),
        ])
    );
    // IPv6 hosts, escaped paths, relative references.
    assert_eq!(
        map_sorted(eval(r#"URL("HTTPS://[::1]:8443/a%20b/")"#).unwrap()),
        pairs(&[
            ("url.original", s("https://[::1]:8443/a%20b/")),
            ("url.scheme", s("https")),
            ("url.domain", s("::1")),
            ("url.port", Value::Int(8443)),
            ("url.path", s("/a b/")),
        ])
    );
    assert_eq!(
        map_sorted(eval(r#"URL("/api/v1/users.json?limit=5")"#).unwrap()),
        pairs(&[
            ("url.original", s("/api/v1/users.json?limit=5")),
            ("url.scheme", s("")),
            ("url.domain", s("")),
            ("url.path", s("/api/v1/users.json")),
            ("url.query", s("limit=5")),
            ("url.extension", s("json")),
        ])
    );
    assert_eq!(
        eval(r#"URL("http://host:port/")"#).unwrap_err(),
        r#"URL: parse "http://host:port/": invalid port ":port" after host"#
    );
    assert_eq!(
        eval(r#"URL("http://host/%zz")"#).unwrap_err(),
        r#"URL: parse "http://host/%zz": invalid URL escape "%zz""#
    );
    assert_eq!(
        eval(r#"URL(":foo")"#).unwrap_err(),
        r#"URL: parse ":foo": missing protocol scheme"#
    );
    assert_eq!(
        eval(r#"URL(attributes["missing"])"#).unwrap_err(),
        "URL: expected a string but got nil"
    );
    assert_eq!(eval(r#"URL("")"#).unwrap_err(), "URL: url cannot be empty");
    assert_eq!(
        eval(r#"URL(attributes["i"])"#).unwrap_err(),
        "URL: expected a string but got int"
    );
}

#[test]
fn keys_and_values() {
    assert_eq!(
        eval(r#"Keys(attributes["m"])"#).unwrap(),
        list(vec![s("x"), s("n")])
    );
    assert_eq!(
        eval(r#"Values(attributes["m"])"#).unwrap(),
        list(vec![s("y"), Value::Map(vec![kv("z", Value::Int(1))])])
    );
    assert_eq!(
        eval(r#"Keys({"k1": "v1", "k2": "v2"})"#).unwrap(),
        list(vec![s("k1"), s("k2")])
    );
    assert_eq!(eval(r#"Len(Keys(attributes))"#).unwrap(), Value::Int(9));
    assert_eq!(eval(r#"Keys(attributes["missing"])"#).unwrap(), Value::Nil);
    assert_eq!(
        eval("Keys(name)").unwrap_err(),
        "Keys: expected a map but got string"
    );
    assert_eq!(
        eval(r#"Values(attributes["l"])"#).unwrap_err(),
        "Values: expected a map but got slice"
    );
}

#[test]
fn format() {
    let cases = [
        (r#"Format("%02d", [attributes["i"]])"#, "05"),
        (r#"Format("%s/%s", [name, "x"])"#, "operationA/x"),
        (
            r#"Format("%.2f|%6.1f|%-4d|%+d", [attributes["d"], 3.14159, 7, 7])"#,
            "2.50|   3.1|7   |+7",
        ),
        (
            r#"Format("%v %v %v", [attributes["b"], attributes["d"], nil])"#,
            "true 2.5 <nil>",
        ),
        (
            r#"Format("%x %X %o %b %#x", [255, 255, 8, 5, 255])"#,
            "ff FF 10 101 0xff",
        ),
        (r#"Format("%x", ["hi"])"#, "6869"),
        (
            r#"Format("%q %5s|%-5s|", ["a\"b", "ab", "ab"])"#,
            r#""a\"b"    ab|ab   |"#,
        ),
        (
            r#"Format("%e %g %g", [1234.5678, 0.00001, 100000.0])"#,
            "1.234568e+03 1e-05 100000",
        ),
        (r#"Format("100%%", [])"#, "100%"),
        // Go's inline errors.
        (r#"Format("%d", ["x"])"#, "%!d(string=x)"),
        (r#"Format("%s %s", ["a"])"#, "a %!s(MISSING)"),
        (r#"Format("a", [1])"#, "a%!(EXTRA int64=1)"),
        (r#"Format("%t", [1])"#, "%!t(int64=1)"),
        // Times and durations keep their types inside a list literal.
        (
            r#"Format("%04d-%02d-%02d", [Year(Time(attributes["when"], "%Y-%m-%d %H:%M:%S")), Month(Time(attributes["when"], "%Y-%m-%d %H:%M:%S")), Day(Time(attributes["when"], "%Y-%m-%d %H:%M:%S"))])"#,
            "2023-05-26",
        ),
        (
            r#"Format("%v|%s", [Duration("90m"), Duration("1.5s")])"#,
            "1h30m0s|1.5s",
        ),
    ];
    for (expr, want) in cases {
        assert_eq!(eval(expr).unwrap(), s(want), "{expr}");
    }
    assert_eq!(
        eval(r#"Format(attributes["missing"], [1])"#).unwrap_err(),
        "Format: expected a string but got nil"
    );
    assert_eq!(
        eval(r#"Format("%d", attributes["i"])"#).unwrap_err(),
        "expected a list, got int"
    );
}

#[test]
fn time_and_duration_parts() {
    let t = r#"Time("2023-05-26 12:34:56.125", "%Y-%m-%d %H:%M:%S.%L")"#;
    for (f, want) in [
        ("Year", 2023),
        ("Month", 5),
        ("Day", 26),
        ("Hour", 12),
        ("Minute", 34),
        ("Second", 56),
        ("Nanosecond", 125_000_000),
        // 2023-05-26 was a Friday (0 is Sunday).
        ("Weekday", 5),
        ("UnixSeconds", 1_685_104_496),
        ("UnixMilli", 1_685_104_496_125),
        ("UnixMicro", 1_685_104_496_125_000),
    ] {
        assert_eq!(eval(&format!("{f}({t})")).unwrap(), Value::Int(want), "{f}");
        assert_eq!(
            eval(&format!("{f}(name)")).unwrap_err(),
            format!("{f}: expected a time")
        );
    }
    assert_eq!(eval("Year(Unix(0))").unwrap(), Value::Int(1970));
    assert_eq!(eval("Weekday(Unix(0))").unwrap(), Value::Int(4));
    assert_eq!(
        eval("UnixNano(Unix(1672527600, 5))").unwrap(),
        Value::Int(1_672_527_600_000_000_005)
    );
    assert_eq!(eval("UnixMilli(Unix(-1))").unwrap(), Value::Int(-1000));
    assert_eq!(
        eval(r#"Unix("1")"#).unwrap_err(),
        "Unix: seconds must be an int"
    );

    for (f, want) in [
        ("Hours", Value::Double(1.5)),
        ("Minutes", Value::Double(90.0)),
        ("Seconds", Value::Double(5400.0)),
        ("Milliseconds", Value::Int(5_400_000)),
        ("Microseconds", Value::Int(5_400_000_000)),
        ("Nanoseconds", Value::Int(5_400_000_000_000)),
    ] {
        assert_eq!(
            eval(&format!(r#"{f}(Duration("1h30m"))"#)).unwrap(),
            want,
            "{f}"
        );
        assert_eq!(
            eval(&format!(r#"{f}("1h")"#)).unwrap_err(),
            format!("{f}: expected a duration")
        );
    }
    assert_eq!(
        eval(r#"Seconds(Duration("1.5ms"))"#).unwrap(),
        Value::Double(0.0015)
    );
    assert_eq!(
        eval(r#"Milliseconds(Duration("-1.9ms"))"#).unwrap(),
        Value::Int(-1)
    );
}

#[test]
fn time_location_locale_and_directives() {
    // 2023-05-26T12:34:56Z
    let utc = 1_685_104_496_000_000_000i64;
    let h = 3_600_000_000_000i64;
    let nano = |e: &str| eval(&format!("UnixNano({e})"));
    // A local time of the location (EDT, UTC-4), from the bundled time zone database.
    assert_eq!(
        nano(r#"Time("2023-05-26 12:34:56", "%Y-%m-%d %H:%M:%S", "America/New_York")"#).unwrap(),
        Value::Int(utc + 4 * h)
    );
    // Winter: EST, UTC-5.
    assert_eq!(
        nano(r#"Time("2023-01-26 12:00:00", "%Y-%m-%d %H:%M:%S", "America/New_York")"#).unwrap(),
        nano(r#"Time("2023-01-26 17:00:00", "%Y-%m-%d %H:%M:%S")"#).unwrap()
    );
    // An offset in the text wins over the location; "" is UTC.
    assert_eq!(
        nano(r#"Time("2023-05-26 12:34:56 +0000", "%Y-%m-%d %H:%M:%S %z", "Asia/Tokyo")"#).unwrap(),
        Value::Int(utc)
    );
    assert_eq!(
        nano(r#"Time("2023-05-26 12:34:56", "%Y-%m-%d %H:%M:%S", "")"#).unwrap(),
        Value::Int(utc)
    );
    // "Local" is the host's zone (UTC when it has none); it always loads.
    assert!(nano(r#"Time("2023-05-26 12:34:56", "%Y-%m-%d %H:%M:%S", "Local")"#).is_ok());
    // %Z: the zone's own abbreviation takes its offset; UTC is UTC; others are offset 0.
    assert_eq!(
        nano(r#"Time("2023-05-26 12:34:56 EDT", "%Y-%m-%d %H:%M:%S %Z", "America/New_York")"#)
            .unwrap(),
        Value::Int(utc + 4 * h)
    );
    assert_eq!(
        nano(r#"Time("2023-05-26 12:34:56 HST", "%Y-%m-%d %H:%M:%S %Z")"#).unwrap(),
        Value::Int(utc)
    );
    // A location from the data.
    let span = run(&[
        r#"set(attributes["tz"], "Europe/Berlin")"#,
        r#"set(attributes["out"], UnixNano(Time(attributes["when"], "%Y-%m-%d %H:%M:%S", attributes["tz"])))"#,
    ])
    .unwrap();
    assert_eq!(attr(&span, "out"), Value::Int(utc - 2 * h));
    let e = run(&[
        r#"set(attributes["tz"], "Mars/Olympus")"#,
        r#"set(attributes["out"], Time(attributes["when"], "%Y-%m-%d %H:%M:%S", attributes["tz"]))"#,
    ])
    .unwrap_err();
    assert_eq!(e, "unknown time zone Mars/Olympus");
    assert_eq!(
        compile_err(r#"set(attributes["x"], Time("1", "%Y", "Nowhere/City"))"#),
        "statement 1, col 38: unknown time zone Nowhere/City"
    );

    // Locales: the README's examples.
    assert_eq!(
        nano(r#"Time("mercoledì set 4 2024", "%A %h %e %Y", "", "it")"#).unwrap(),
        nano(r#"Time("2024-09-04", "%Y-%m-%d")"#).unwrap()
    );
    assert_eq!(
        nano(r#"Time("Febrero 25 lunes, 2002, 02:03:04 p.m.", "%B %d %A, %Y, %r", "America/New_York", "es-ES")"#)
            .unwrap(),
        nano(r#"Time("2002-02-25 19:03:04", "%Y-%m-%d %H:%M:%S")"#).unwrap()
    );
    assert_eq!(
        compile_err(r#"set(attributes["x"], Time("1", "%Y", "", "tlh"))"#),
        r#"statement 1, col 42: unsupported locale "tlh": supported are en, de, es, fr, it, nl, pt"#
    );

    // More directives: composites, 12-hour clock, padded and unpadded fields, offsets.
    for (text, format) in [
        ("2023-05-26T12:34:56", "%FT%T"),
        ("05/26/23 12:34:56", "%D %X"),
        ("Fri May 26 12:34:56 2023", "%c"),
        ("2023-05-26 12:34:56 PM", "%Y-%m-%d %I:%M:%S %p"),
        ("2023-5-26 12:34:56", "%Y-%q-%g %H:%M:%S"),
        ("2023- 5-26 12:34:56", "%Y-%o-%e %H:%M:%S"),
        ("2023-05-26 14:34:56 +02", "%Y-%m-%d %H:%M:%S %i"),
        ("2023-05-26 14:34:56 +02:00", "%Y-%m-%d %H:%M:%S %j"),
        ("2023-05-26 14:34:56 +02:00:00", "%Y-%m-%d %H:%M:%S %k"),
        ("2023-05-26 14:34:56 +020000", "%Y-%m-%d %H:%M:%S %w"),
        ("Friday, 26-May-23 12:34:56 UTC", "%A, %d-%b-%y %H:%M:%S %Z"),
    ] {
        assert_eq!(
            nano(&format!(r#"Time("{text}", "{format}")"#)).unwrap(),
            Value::Int(utc),
            "{text} / {format}"
        );
    }
    assert_eq!(
        nano(r#"Time("2023-05-26 12:34:56 AM", "%Y-%m-%d %I:%M:%S %p")"#).unwrap(),
        Value::Int(utc - 12 * h)
    );
    assert_eq!(
        compile_err(r#"set(attributes["x"], Time("1", "%Q"))"#),
        "statement 1, col 32: unsupported time format directive %Q"
    );
    assert_eq!(eval(r#"Time("", "%Y")"#).unwrap_err(), "time cannot be nil");
}

#[test]
fn replace_functions_with_a_function_argument() {
    let sha = |x: &str| {
        let mut out = String::new();
        crate::sha256::hex_digest_into(x.as_bytes(), &mut out);
        out
    };
    // The README's forms.
    let span = run(&[r#"replace_match(attributes["s"], "hello *", "x", SHA256)"#]).unwrap();
    assert_eq!(attr(&span, "s"), s(&sha("x")));
    let span =
        run(&[r#"replace_match(attributes["s"], "hello *", "x", SHA256, "/user/%s")"#]).unwrap();
    assert_eq!(attr(&span, "s"), s(&format!("/user/{}", sha("x"))));
    let span = run(&[
        r#"set(name, "kube_pod_info")"#,
        r#"replace_pattern(name, "^kube_([0-9A-Za-z]+_)", "$1.", SHA256, "k8s.%s")"#,
    ])
    .unwrap();
    assert_eq!(span.name, format!("k8s.{}info", sha("pod_.")));
    // Per match: every occurrence of the matched text is replaced by its own result.
    let span =
        run(&[r#"replace_pattern(attributes["s"], "l+", "$0", ToUpperCase, "<%s>")"#]).unwrap();
    assert_eq!(attr(&span, "s"), s("he<LL>o wor<L>d"));
    let span =
        run(&[r#"replace_pattern(attributes["s"], "o(\\w)", "$1", ToUpperCase, "<%s>")"#]).unwrap();
    assert_eq!(attr(&span, "s"), s("hello w<R>ld"));
    let span = run(&[r#"replace_all_matches(attributes, "hello*", "x", ToUpperCase)"#]).unwrap();
    assert_eq!(attr(&span, "s"), s("X"));
    let span = run(&[
        r#"replace_all_patterns(attributes, "value", "world", "planet", ToUpperCase, "[%s]")"#,
    ])
    .unwrap();
    assert_eq!(attr(&span, "s"), s("hello [PLANET]"));
    let span =
        run(&[r#"replace_all_patterns(attributes, "key", "^came(l)$", "$1", MD5)"#]).unwrap();
    assert!(keys(&span).contains(&"2db95e8e1a9267b7a1188556b2013b33"));
    // A format without a function is ignored, as in Go.
    let span =
        run(&[r#"replace_match(attributes["s"], "hello *", "x", replacementFormat = "%s!")"#])
            .unwrap();
    assert_eq!(attr(&span, "s"), s("x"));
    // Named arguments.
    let span =
        run(&[r#"replace_match(attributes["s"], "hello *", "x", function = SHA1)"#]).unwrap();
    assert_eq!(
        attr(&span, "s"),
        s("11f6ad8ec52a2984abaafd7c3b516503785c2072")
    );
    // Missing targets and non-strings are left alone.
    let span = run(&[r#"replace_match(attributes["missing"], "*", "x", SHA256)"#]).unwrap();
    assert!(!keys(&span).contains(&"missing"));

    // replace_all_patterns leaves an entry whose function fails as it is, as in Go.
    let span = run(&[r#"replace_all_patterns(attributes, "value", "world", "x", FNV)"#]).unwrap();
    assert_eq!(attr(&span, "s"), s("hello world"));
    // Errors: a function that does not return a string, a bad format (when evaluated, as in
    // Go), a converter that is not a string function, a value that is not a function name.
    assert_eq!(
        run(&[r#"replace_match(attributes["s"], "*", "x", FNV)"#]).unwrap_err(),
        "replacement value is not a string"
    );
    assert_eq!(
        run(&[r#"replace_match(attributes["s"], "*", "x", SHA256, "%d")"#]).unwrap_err(),
        "replacementFormat must be format string containing a single %s and no other format specifiers"
    );
    assert!(
        compile_err(r#"replace_match(attributes["s"], "*", "x", Concat)"#).starts_with(
            r#"statement 1, col 42: function "Concat" is not a converter of one string"#
        )
    );
    assert_eq!(
        compile_err(r#"replace_pattern(attributes["s"], "a", "x", "SHA256")"#),
        "statement 1, col 44: function must be the name of a converter, e.g. SHA256"
    );
    // A bare converter name elsewhere is still an error.
    assert_eq!(
        compile_err(r#"set(attributes["x"], SHA256)"#),
        r#"statement 1, col 22: converter "SHA256" must be called with ()"#
    );
}

#[test]
fn format_time() {
    // The README's example.
    assert_eq!(
        eval(r#"FormatTime(Time("02/04/2023", "%m/%d/%Y"), "%A %h %e %Y")"#).unwrap(),
        s("Saturday Feb  4 2023")
    );
    let t = r#"Time("2023-05-26 14:04:05.123456789", "%Y-%m-%d %H:%M:%S.%f")"#;
    for (format, want) in [
        ("%Y-%m-%d %H:%M:%S", "2023-05-26 14:04:05"),
        ("%y %o %q %g %e", "23  5 5 26 26"),
        ("%I %l %p %P", "02 2 PM pm"),
        ("%L|%f|%s", "123|123456|123456789"),
        (
            "%z %Z %i %j %k %w",
            "+0000 UTC +00 +00:00 +00:00:00 +000000",
        ),
        ("%D|%F|%T|%R", "05/26/23|2023-05-26|14:04:05|14:04"),
        ("%r", "02:04:05 pm"),
        ("%c", "Fri May 26 14:04:05 2023"),
        ("%b %B %a %A 100%%", "May May Fri Friday 100%"),
    ] {
        assert_eq!(
            eval(&format!(r#"FormatTime({t}, "{format}")"#)).unwrap(),
            s(want),
            "{format}"
        );
    }
    assert_eq!(
        eval(r#"FormatTime(name, "%Y")"#).unwrap_err(),
        "FormatTime: expected a time but got string"
    );
    assert_eq!(
        eval(r#"FormatTime(attributes["missing"], "%Y")"#).unwrap_err(),
        "FormatTime: expected a time but got nil"
    );
    assert_eq!(
        compile_err(r#"set(attributes["x"], FormatTime(Now(), "%Q"))"#),
        "statement 1, col 40: unsupported time format directive %Q"
    );
}

#[test]
fn times_keep_their_zone() {
    // As Go's time.Time keeps its location: calendar fields and formatting are in the
    // location (or parsed offset) the time was made with; the instant is the same.
    let ny = r#"Time("2023-05-26 23:34:56", "%Y-%m-%d %H:%M:%S", "America/New_York")"#;
    assert_eq!(eval(&format!("Hour({ny})")).unwrap(), Value::Int(23));
    assert_eq!(eval(&format!("Day({ny})")).unwrap(), Value::Int(26));
    assert_eq!(eval(&format!("Weekday({ny})")).unwrap(), Value::Int(5));
    assert_eq!(
        eval(&format!(r#"FormatTime({ny}, "%Y-%m-%d %H:%M %Z %z %j")"#)).unwrap(),
        s("2023-05-26 23:34 EDT -0400 -04:00")
    );
    // Arithmetic keeps the zone.
    assert_eq!(
        eval(&format!(r#"Day({ny} + Duration("1h"))"#)).unwrap(),
        Value::Int(27)
    );
    assert_eq!(
        eval(&format!(r#"Format("%v", [{ny}])"#)).unwrap(),
        s("2023-05-26 23:34:56 -0400 EDT")
    );
    // The instant is UTC's next day.
    assert_eq!(
        eval(&format!("Day(Unix(UnixSeconds({ny})))")).unwrap(),
        Value::Int(27)
    );
    // A parsed offset is a fixed zone; UTC offsets and times without a zone are UTC.
    let fixed = r#"Time("2023-05-26T14:34:56+0530", "%Y-%m-%dT%H:%M:%S%z")"#;
    assert_eq!(eval(&format!("Hour({fixed})")).unwrap(), Value::Int(14));
    assert_eq!(
        eval(&format!(r#"FormatTime({fixed}, "%H:%M %Z %k")"#)).unwrap(),
        s("14:34 +0530 +05:30:00")
    );
    let utc = r#"Time("2023-05-26T14:34:56Z", "%Y-%m-%dT%H:%M:%S%z")"#;
    assert_eq!(
        eval(&format!(r#"FormatTime({utc}, "%H %Z %z")"#)).unwrap(),
        s("14 UTC +0000")
    );
    // An offset that is the location's own keeps the location.
    assert_eq!(
        eval(r#"FormatTime(Time("2023-01-10 08:00 +0100", "%Y-%m-%d %H:%M %z", "Europe/Paris"), "%H %Z")"#)
            .unwrap(),
        s("08 CET")
    );
    // Span times are UTC.
    assert_eq!(
        eval(r#"FormatTime(start_time, "%Y-%m-%d %H:%M:%S.%s %Z")"#).unwrap(),
        s("1970-01-01 00:00:00.000001000 UTC")
    );
}

// ---- paths beyond the basic fields (Go's ctxspan, ctxresource, ctxscope, ctxdatapoint) ----

/// Runs `stmts` in `ctx` over every item of `req` through the walk the processors use.
fn run_walk(req: &mut ferrotel_pdata::Request, ctx: Ctx, stmts: &[&str]) -> Result<(), String> {
    let compiled = parse_statements(stmts, ctx)?;
    walk(req, ctx, false, &mut |t| {
        for st in &compiled {
            st.execute(t)?;
        }
        Ok(true)
    })
}

#[test]
fn span_kind_strings_ids_trace_state_and_counts() {
    // The fixture is a server span with no parent.
    assert_eq!(eval("kind.string").unwrap(), s("Server"));
    assert_eq!(
        eval("kind.deprecated_string").unwrap(),
        s("SPAN_KIND_SERVER")
    );
    assert_eq!(
        eval("parent_span_id.string").unwrap(),
        s("0000000000000000")
    );
    assert_eq!(eval("trace_id.string").unwrap(), s(&"01".repeat(16)));
    let span = run(&[
        r#"set(kind.string, "Client")"#,
        r#"set(parent_span_id.string, "0102030405060708")"#,
        r#"set(span_id.string, "a1a2a3a4a5a6a7a8")"#,
        "set(dropped_events_count, 3)",
        "set(dropped_links_count, dropped_events_count + 1)",
    ])
    .unwrap();
    assert_eq!(span.kind, 3);
    assert_eq!(&span.parent_span_id[..], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(
        &span.span_id[..],
        &[0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8]
    );
    assert_eq!(
        (span.dropped_events_count, span.dropped_links_count),
        (3, 4)
    );
    let span = run(&[r#"set(kind.deprecated_string, "SPAN_KIND_CONSUMER")"#]).unwrap();
    assert_eq!(span.kind, 5);
    assert_eq!(
        run(&[r#"set(kind.string, "server")"#]).unwrap_err(),
        "unknown span kind string, server"
    );
    assert_eq!(
        run(&[r#"set(span_id.string, "0102")"#]).unwrap_err(),
        r#"span_id.string: "0102" is not 8 bytes of hex"#
    );

    // trace_state["key"]: a W3C member; a set key moves to the front.
    let mut span = fixture();
    span.trace_state = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".into();
    run_on(
        &[
            r#"set(attributes["congo"], trace_state["congo"])"#,
            r#"set(attributes["none"], trace_state["none"])"#,
            r#"set(trace_state["congo"], "x1")"#,
            r#"set(trace_state["new"], "y")"#,
        ],
        &mut span,
    )
    .unwrap();
    assert_eq!(attr(&span, "congo"), s("t61rcWkgMzE"));
    assert_eq!(attr(&span, "none"), Value::Nil);
    assert_eq!(span.trace_state, "new=y,congo=x1,rojo=00f067aa0ba902b7");
    assert_eq!(
        compile_err(r#"set(attributes["x"], trace_state["a"]["b"])"#),
        r#"statement 1, col 22: path "trace_state" cannot be indexed"#
    );
}

#[test]
fn log_body_string_reads_any_body_as_a_string() {
    use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
    use ferrotel_pdata::proto::logs::v1::{ResourceLogs, ScopeLogs};
    let log = |body: Value| LogRecord {
        body: Some(body.into_any()),
        ..Default::default()
    };
    let mut req = ferrotel_pdata::Request::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    log(Value::Map(vec![kv("a", Value::Int(1))])),
                    log(Value::Int(7)),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    run_walk(
        &mut req,
        Ctx::Log,
        &[
            r#"set(attributes["was"], body.string)"#,
            r#"set(body.string, Concat(["v", attributes["was"]], "="))"#,
        ],
    )
    .unwrap();
    let ferrotel_pdata::Request::Logs(l) = &req else {
        panic!()
    };
    let logs = &l.resource_logs[0].scope_logs[0].log_records;
    assert_eq!(Value::from_any(logs[0].body.as_ref()), s(r#"v={"a":1}"#));
    assert_eq!(Value::from_any(logs[1].body.as_ref()), s("v=7"));
}

#[test]
fn schema_urls_of_resource_and_scope() {
    use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
    use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans};
    let mut req = ferrotel_pdata::Request::Traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
            scope_spans: vec![ScopeSpans {
                schema_url: "https://opentelemetry.io/schemas/1.20.0".into(),
                spans: vec![fixture()],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    run_walk(
        &mut req,
        Ctx::Span,
        &[
            r#"set(attributes["r"], resource.schema_url)"#,
            r#"set(attributes["s"], scope.schema_url)"#,
        ],
    )
    .unwrap();
    run_walk(
        &mut req,
        Ctx::Scope,
        &[r#"set(schema_url, "https://opentelemetry.io/schemas/1.26.0") where IsMatch(schema_url, "1\\.20")"#],
    )
    .unwrap();
    run_walk(&mut req, Ctx::Resource, &[r#"set(schema_url, "")"#]).unwrap();
    let ferrotel_pdata::Request::Traces(t) = &req else {
        panic!()
    };
    let rs = &t.resource_spans[0];
    let span = &rs.scope_spans[0].spans[0];
    assert_eq!(
        attr(span, "r"),
        s("https://opentelemetry.io/schemas/1.21.0")
    );
    assert_eq!(
        attr(span, "s"),
        s("https://opentelemetry.io/schemas/1.20.0")
    );
    assert_eq!(
        rs.scope_spans[0].schema_url,
        "https://opentelemetry.io/schemas/1.26.0"
    );
    assert_eq!(rs.schema_url, "");
}

#[test]
fn datapoint_paths_of_histograms_and_exponential_histograms() {
    use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
    use ferrotel_pdata::proto::metrics::v1::{
        ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
        Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
        exponential_histogram_data_point::Buckets, metric::Data,
    };
    let metric = |name: &str, data: Data| Metric {
        name: name.into(),
        data: Some(data),
        ..Default::default()
    };
    let mut req = ferrotel_pdata::Request::Metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    metric(
                        "h",
                        Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                count: 6,
                                sum: Some(12.5),
                                bucket_counts: vec![1, 2, 3],
                                explicit_bounds: vec![1.0, 5.0],
                                ..Default::default()
                            }],
                            ..Default::default()
                        }),
                    ),
                    metric(
                        "e",
                        Data::ExponentialHistogram(ExponentialHistogram {
                            data_points: vec![ExponentialHistogramDataPoint {
                                scale: 3,
                                zero_count: 2,
                                positive: Some(Buckets {
                                    offset: -1,
                                    bucket_counts: vec![4, 5],
                                }),
                                ..Default::default()
                            }],
                            ..Default::default()
                        }),
                    ),
                    metric(
                        "g",
                        Data::Gauge(Gauge {
                            data_points: vec![NumberDataPoint::default()],
                        }),
                    ),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    run_walk(
        &mut req,
        Ctx::DataPoint,
        &[
            r#"set(attributes["buckets"], bucket_counts)"#,
            r#"set(attributes["bounds"], explicit_bounds)"#,
            r#"set(attributes["scale"], scale)"#,
            r#"set(attributes["pos"], positive.bucket_counts)"#,
            r#"set(attributes["pos_offset"], positive.offset)"#,
            r#"set(explicit_bounds, [0.5, 2, 10.0]) where metric.name == "h""#,
            r#"set(bucket_counts, [0, 1, 2, 3]) where metric.name == "h""#,
            "set(count, 6)",
            "set(sum, 1.5)",
            r#"set(scale, scale - 1) where metric.type == METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM"#,
            r#"set(zero_count, zero_count * 2) where metric.name == "e""#,
            "set(negative.bucket_counts, [9])",
            "set(negative.offset, 2)",
        ],
    )
    .unwrap();
    let ferrotel_pdata::Request::Metrics(m) = &req else {
        panic!()
    };
    let metrics = &m.resource_metrics[0].scope_metrics[0].metrics;
    let ints = |v: &[i64]| list(v.iter().map(|i| Value::Int(*i)).collect());
    let attr_of = |attrs: &[KeyValue], k: &str| {
        Value::from_any(
            attrs
                .iter()
                .find(|a| a.key == k)
                .and_then(|a| a.value.as_ref()),
        )
    };
    let Some(Data::Histogram(h)) = &metrics[0].data else {
        panic!()
    };
    let p = &h.data_points[0];
    assert_eq!(attr_of(&p.attributes, "buckets"), ints(&[1, 2, 3]));
    assert_eq!(
        attr_of(&p.attributes, "bounds"),
        list(vec![Value::Double(1.0), Value::Double(5.0)])
    );
    assert_eq!(
        attr_of(&p.attributes, "scale"),
        Value::Nil,
        "not on a histogram"
    );
    assert_eq!(p.explicit_bounds, [0.5, 2.0, 10.0]);
    assert_eq!(p.bucket_counts, [0, 1, 2, 3]);
    assert_eq!((p.count, p.sum), (6, Some(1.5)));
    let Some(Data::ExponentialHistogram(e)) = &metrics[1].data else {
        panic!()
    };
    let p = &e.data_points[0];
    assert_eq!(attr_of(&p.attributes, "scale"), Value::Int(3));
    assert_eq!(attr_of(&p.attributes, "pos"), ints(&[4, 5]));
    assert_eq!(attr_of(&p.attributes, "pos_offset"), Value::Int(-1));
    assert_eq!(attr_of(&p.attributes, "buckets"), Value::Nil);
    assert_eq!(
        (p.scale, p.zero_count, p.count, p.sum),
        (2, 4, 6, Some(1.5))
    );
    let neg = p.negative.as_ref().unwrap();
    assert_eq!((neg.offset, &neg.bucket_counts[..]), (2, &[9u64][..]));
    // A gauge point has none of these; setting them does nothing.
    let Some(Data::Gauge(g)) = &metrics[2].data else {
        panic!()
    };
    assert_eq!(attr_of(&g.data_points[0].attributes, "buckets"), Value::Nil);

    let mut bad = req.clone();
    assert_eq!(
        run_walk(
            &mut bad,
            Ctx::DataPoint,
            &[r#"set(bucket_counts, ["a"]) where metric.name == "h""#]
        )
        .unwrap_err(),
        "bucket_counts must be a list of numbers, got string"
    );
}
