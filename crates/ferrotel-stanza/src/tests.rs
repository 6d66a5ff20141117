//! Unit tests of the internals the operator tests do not reach directly.

use crate::expr::Expr;
use crate::field::Field;
use crate::{Entry, Value};

#[test]
fn field_paths_parse_and_print() {
    for (text, printed) in [
        ("body", "body"),
        ("body.a.b", "body.a.b"),
        ("body[\"a.b\"].c", "body[\"a.b\"].c"),
        ("attributes['k']", "attributes.k"),
        ("resource.host", "resource.host"),
    ] {
        assert_eq!(Field::parse(text).unwrap().to_string(), printed, "{text}");
    }
    for bad in [
        "message",
        "body.",
        "body[k]",
        "body[\"k\"",
        "attributes..x",
        "bodyx",
    ] {
        assert!(Field::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn setting_maps_merges_into_attributes_and_replaces_body_parents() {
    let mut e = Entry::from_line("text".into(), 1);
    e.attributes.insert("keep".into(), Value::Int(1));
    let mut m = crate::Map::new();
    m.insert("new".into(), Value::Int(2));
    Field::attributes().set(&mut e, Value::Map(m)).unwrap();
    assert_eq!(e.attributes.len(), 2);
    Field::parse("body.a.b")
        .unwrap()
        .set(&mut e, Value::Bool(true))
        .unwrap();
    assert_eq!(
        Field::parse("body.a.b").unwrap().get_ref(&e),
        Some(&Value::Bool(true))
    );
    assert!(
        Field::parse("attributes")
            .unwrap()
            .set(&mut e, Value::Int(3))
            .is_err()
    );
}

#[test]
fn expr_errors_are_errors_not_panics() {
    let e = Entry::from_line("x".into(), 1);
    assert!(Expr::compile("body.n + 1").unwrap().eval_bool(&e).is_err());
    assert!(Expr::compile("body matches 1").is_ok());
    assert!(Expr::compile("1 % 0 == 0").unwrap().eval_bool(&e).is_err());
    assert!(Expr::compile("(1").is_err());
    assert!(Expr::compile("'unterminated").is_err());
    assert_eq!(
        Expr::compile("1 / 2").unwrap().eval(&e).unwrap(),
        Value::Double(0.5)
    );
}

#[test]
fn byte_sizes_and_durations() {
    use crate::ops::test_support::{byte_size, duration};
    assert_eq!(byte_size(&serde_json::json!("1MiB")).unwrap(), 1 << 20);
    assert_eq!(byte_size(&serde_json::json!(512)).unwrap(), 512);
    assert!(byte_size(&serde_json::json!("3 parsecs")).is_err());
    assert_eq!(duration(&serde_json::json!("1m30s")).unwrap().as_secs(), 90);
    assert_eq!(
        duration(&serde_json::json!("250ms")).unwrap().as_millis(),
        250
    );
    assert!(duration(&serde_json::json!("5 minutes")).is_err());
}

#[test]
fn severity_names() {
    assert_eq!(crate::severity_name(9), "INFO");
    assert_eq!(crate::severity_name(14), "WARN2");
    assert_eq!(crate::severity_name(24), "FATAL4");
    assert_eq!(crate::severity_name(0), "DEFAULT");
}

fn json(text: &str) -> Result<Value, String> {
    crate::json::JsonParser::new(false).parse(text)
}

fn obj(text: &str) -> crate::Map {
    match json(text) {
        Ok(Value::Map(m)) => m,
        other => panic!("{text}: {other:?}"),
    }
}

#[test]
fn json_strings_unescape_as_go_decodes_them() {
    let m = obj(
        r#"{"a\"b": "x\\y\/z\n\t\u00e9\ud83d\ude00", "lone": "\ud800x", "lone_pair": "\ud800\u0041", "low": "\udc00", "plain": "héllo"}"#,
    );
    assert_eq!(m["a\"b"], Value::Str("x\\y/z\n\té😀".into()));
    // A lone surrogate is one U+FFFD (serde_json would reject the line; Go does not).
    assert_eq!(m["lone"], Value::Str("\u{FFFD}x".into()));
    assert_eq!(m["lone_pair"], Value::Str("\u{FFFD}A".into()));
    assert_eq!(m["low"], Value::Str("\u{FFFD}".into()));
    assert_eq!(m["plain"], Value::Str("héllo".into()));
}

#[test]
fn json_numbers_literals_and_duplicates() {
    let m = obj(
        r#" {"d": 0.1, "e": -1.5e3, "z": -0, "i": 12, "big": 123456789012345678901234567890, "t": true, "f": false, "n": null, "dup": 1, "dup": 2} "#,
    );
    assert_eq!(m["d"], Value::Double(0.1));
    assert_eq!(m["e"], Value::Double(-1500.0));
    assert!(matches!(m["z"], Value::Double(z) if z == 0.0 && z.is_sign_negative()));
    assert_eq!(m["i"], Value::Double(12.0));
    assert_eq!(m["big"], Value::Double(1.2345678901234568e29));
    assert_eq!(m["t"], Value::Bool(true));
    assert_eq!(m["f"], Value::Bool(false));
    assert_eq!(m["n"], Value::Null);
    assert_eq!(
        m["dup"],
        Value::Double(2.0),
        "the last duplicate wins, as in Go"
    );
    let mut p = crate::json::JsonParser::new(true);
    let Ok(Value::Map(m)) = p.parse(r#"{"i": -7, "big": 18446744073709551616, "f": 1.0}"#) else {
        panic!()
    };
    assert_eq!(m["i"], Value::Int(-7));
    assert_eq!(m["big"], Value::Double(18446744073709551616.0));
    assert_eq!(m["f"], Value::Double(1.0));
}

#[test]
fn json_rejects_what_go_rejects_without_panicking() {
    for bad in [
        "",
        " ",
        "{",
        "{\"a\"",
        "{\"a\":}",
        "{\"a\":1,}",
        "[1,]",
        "{a:1}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":1e}",
        "{\"a\":-}",
        "{\"a\":1e400}",
        "{\"a\":tru}",
        "{\"a\":\"x\ny\"}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":1} x",
        "\"open",
        "{\"a\":\"\\",
        "nul",
        "[",
        "{\"a\" 1}",
        "{\"a\":1 \"b\":2}",
    ] {
        assert!(json(bad).is_err(), "{bad:?} parsed");
    }
    let deep = "[".repeat(200) + &"]".repeat(200);
    assert!(
        json(&deep).is_err(),
        "nesting past the limit is an error, not a stack overflow"
    );
    let ok = "[".repeat(100) + &"]".repeat(100);
    assert!(json(&ok).is_ok());
}

#[test]
fn json_keys_repeating_across_lines_are_shared_not_copied() {
    let mut p = crate::json::JsonParser::new(false);
    let mut keys = Vec::new();
    for line in [
        r#"{"level": "info", "msg": "a", "n": {"level": 1}}"#,
        r#"{"level": "warn", "msg": "b", "n": {"level": 2}}"#,
        r#"{"msg": "c", "level": "error", "esc\u0061ped": 1}"#,
        r#"{"escaped": 2}"#,
    ] {
        let Ok(Value::Map(m)) = p.parse(line) else {
            panic!("{line}")
        };
        keys.push(m.keys().cloned().collect::<Vec<_>>());
    }
    let find = |line: usize, name: &str| {
        keys[line]
            .iter()
            .find(|k| ***k == *name)
            .cloned()
            .expect("key")
    };
    let level = find(0, "level");
    assert!(std::sync::Arc::ptr_eq(&level, &find(1, "level")));
    // Out of order, and through escapes: the same shared key.
    assert!(std::sync::Arc::ptr_eq(&level, &find(2, "level")));
    assert!(std::sync::Arc::ptr_eq(
        &find(2, "escaped"),
        &find(3, "escaped")
    ));
}

#[test]
fn json_plain_run_finds_the_first_quote_backslash_or_control_byte() {
    let naive = |b: &[u8], p: usize| {
        (p..b.len())
            .find(|&i| b[i] == b'"' || b[i] == b'\\' || b[i] < 0x20)
            .unwrap_or(b.len())
    };
    // Every position of each special byte in a 20-byte run, after any start, with UTF-8
    // (high-bit bytes) and near-misses (0x20, 0x21, 0x5b, 0x5d) around it.
    let fill = "aé !][#ü~\u{7f}xyz0123".as_bytes();
    for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
        for at in 0..fill.len() {
            let mut b = fill.to_vec();
            b[at] = special;
            for start in 0..b.len() {
                assert_eq!(
                    crate::json::plain_run(&b, start),
                    naive(&b, start),
                    "{special:#x} at {at} from {start}"
                );
            }
        }
    }
    assert_eq!(crate::json::plain_run(fill, 0), fill.len());
}
