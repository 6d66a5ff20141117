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
