//! Examples of the Go Collector's attributes processor README, action semantics and config
//! errors.

use std::sync::Arc;

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric,
};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_pdata::{Request, Signal};
use ferrotel_runtime::*;

use super::*;
use crate::testing::{Recorder, config, config_error, ctx, kv, kv_str};

fn processor(yaml: &str, signal: Signal) -> AttributesProcessor {
    let cfg: AttributesConfig = config(yaml);
    cfg.validate().unwrap();
    AttributesProcessor::build(
        &ctx("attributes", Kind::Processor),
        cfg,
        signal,
        Recorder::new(),
    )
    .unwrap()
}

/// The processor applied decoded and on the wire, which must agree.
fn apply_both(p: &AttributesProcessor, req: &mut Request, ctx: &Context) {
    crate::testing::apply_both(req, |r| p.apply(r, ctx), |w| p.apply_encoded(w, ctx));
}

fn span(name: &str, attrs: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![1; 16].into(),
        span_id: vec![2; 8].into(),
        name: name.into(),
        attributes: attrs,
        ..Default::default()
    }
}

fn traces(service: &str, spans: Vec<Span>) -> Request {
    Request::Traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv_str("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "1.0".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn span_attrs(r: &Request) -> Vec<Vec<KeyValue>> {
    let Request::Traces(t) = r else { panic!() };
    t.resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .map(|s| s.attributes.clone())
        .collect()
}

fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
}

fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

/// The README's first example: one action of each kind.
#[test]
fn readme_example_actions() {
    let p = processor(
        r#"
actions:
  - key: db.table
    action: delete
  - key: redacted_span
    value: true
    action: upsert
  - key: copy_key
    from_attribute: key_original
    action: update
  - key: account_id
    value: 2245
    action: insert
  - key: account_password
    action: delete
  - key: account_email
    action: hash
  - key: http.status_code
    action: convert
    converted_type: int
"#,
        Signal::Traces,
    );
    let mut req = traces(
        "svc",
        vec![span(
            "op",
            vec![
                kv_str("db.table", "users"),
                kv_str("copy_key", "old"),
                kv_str("key_original", "new"),
                kv_str("account_password", "hunter2"),
                kv_str("account_email", "someone@example.com"),
                kv_str("http.status_code", "200"),
            ],
        )],
    );
    apply_both(&p, &mut req, &Context::default());
    let attrs = &span_attrs(&req)[0];
    assert_eq!(get(attrs, "db.table"), None);
    assert_eq!(get(attrs, "redacted_span"), Some(&Value::BoolValue(true)));
    assert_eq!(get(attrs, "copy_key"), Some(&s("new")));
    assert_eq!(get(attrs, "account_id"), Some(&Value::IntValue(2245)));
    assert_eq!(get(attrs, "account_password"), None);
    let Some(Value::StringValue(h)) = get(attrs, "account_email") else {
        panic!()
    };
    assert_eq!(h, &sha256_hex(b"someone@example.com"));
    assert_eq!(get(attrs, "http.status_code"), Some(&Value::IntValue(200)));
}

fn sha256_hex(data: &[u8]) -> String {
    let mut out = String::new();
    ferrotel_ottl::sha256::hex_digest_into(data, &mut out);
    out
}

#[test]
fn insert_update_upsert_semantics() {
    let p = processor(
        r#"
actions:
  - {key: present, value: inserted, action: insert}
  - {key: absent_insert, value: inserted, action: insert}
  - {key: absent_update, value: updated, action: update}
  - {key: other, value: 1.5, action: update}
  - {key: absent_upsert, from_attribute: present, action: upsert}
  - {key: from_missing, from_attribute: nope, action: upsert}
"#,
        Signal::Traces,
    );
    let mut req = traces(
        "svc",
        vec![span(
            "op",
            vec![kv_str("present", "original"), kv_str("other", "x")],
        )],
    );
    apply_both(&p, &mut req, &Context::default());
    let attrs = &span_attrs(&req)[0];
    assert_eq!(get(attrs, "present"), Some(&s("original")), "insert keeps");
    assert_eq!(get(attrs, "absent_insert"), Some(&s("inserted")));
    assert_eq!(get(attrs, "absent_update"), None, "update never adds");
    assert_eq!(get(attrs, "other"), Some(&Value::DoubleValue(1.5)));
    assert_eq!(get(attrs, "absent_upsert"), Some(&s("original")));
    assert_eq!(get(attrs, "from_missing"), None, "absent source: no action");
}

/// `default_value` (collector-contrib's attraction, 2026): the value written when `value`,
/// `from_attribute` or `from_context` gives none; a source that is present wins.
#[test]
fn default_value_when_the_source_gives_none() {
    let p = processor(
        r#"
actions:
  - {key: region, from_attribute: cloud.region, default_value: us-east-1, action: insert}
  - {key: zone, from_attribute: cloud.zone, default_value: z0, action: insert}
  - {key: tenant, from_context: metadata.tenant, default_value: default-tenant, action: upsert}
  - {key: env, value: null, default_value: development, action: upsert}
  - {key: present, from_attribute: nope, default_value: 7, action: update}
  - {key: absent, from_attribute: nope, default_value: 7, action: update}
"#,
        Signal::Traces,
    );
    let mut req = traces(
        "svc",
        vec![span(
            "op",
            vec![kv_str("cloud.zone", "eu-1a"), kv_str("present", "x")],
        )],
    );
    apply_both(&p, &mut req, &Context::default());
    let attrs = &span_attrs(&req)[0];
    assert_eq!(
        get(attrs, "region"),
        Some(&s("us-east-1")),
        "missing attribute"
    );
    assert_eq!(get(attrs, "zone"), Some(&s("eu-1a")), "present source wins");
    assert_eq!(
        get(attrs, "tenant"),
        Some(&s("default-tenant")),
        "missing metadata"
    );
    assert_eq!(get(attrs, "env"), Some(&s("development")), "unset value");
    assert_eq!(
        get(attrs, "present"),
        Some(&Value::IntValue(7)),
        "update with default"
    );
    assert_eq!(get(attrs, "absent"), None, "update still never adds");
}

/// Constant inserts, updates, upserts and deletes run once per key sequence on the wire and
/// their result is replayed on the other spans (`KeySet::reads_keys_only`); spans with
/// repeated keys, and deletes followed by an update of the same key (which then reads the
/// key's second attribute, so is not replayed), give what the decoded edit gives.
#[test]
fn constant_actions_on_spans_with_repeated_keys() {
    let spans = || {
        (0..12)
            .map(|i| {
                span(
                    "op",
                    match i % 4 {
                        0 => vec![kv_str("a", &format!("v{i}")), kv_str("x", "y")],
                        1 => vec![kv_str("a", "1"), kv_str("a", "2"), kv_str("b", "3")],
                        2 => vec![kv_str("b", "1"), kv_str("x", "y"), kv_str("a", "2")],
                        _ => vec![kv_str("env", "dev"), kv_str("b", "1"), kv_str("b", "2")],
                    },
                )
            })
            .collect()
    };
    let replayed = processor(
        "actions:\n  - {key: a, value: redacted, action: update}\n  - {key: b, action: delete}\n  - {key: env, value: prod, action: upsert}\n",
        Signal::Traces,
    );
    let mut req = traces("svc", spans());
    apply_both(&replayed, &mut req, &Context::default());
    let attrs = span_attrs(&req);
    let expect = |pairs: &[(&str, &str)]| -> Vec<KeyValue> {
        pairs.iter().map(|(k, v)| kv_str(k, v)).collect()
    };
    assert_eq!(
        attrs[4],
        expect(&[("a", "redacted"), ("x", "y"), ("env", "prod")])
    );
    assert_eq!(
        attrs[5],
        expect(&[("a", "redacted"), ("a", "2"), ("env", "prod")])
    );
    assert_eq!(
        attrs[6],
        expect(&[("x", "y"), ("a", "redacted"), ("env", "prod")])
    );
    assert_eq!(attrs[7], expect(&[("env", "prod"), ("b", "2")]));

    let second = processor(
        "actions:\n  - {key: a, action: delete}\n  - {key: a, value: second, action: update}\n  - {key: a, action: delete}\n",
        Signal::Traces,
    );
    let mut req = traces("svc", spans());
    apply_both(&second, &mut req, &Context::default());
    let attrs = span_attrs(&req);
    assert_eq!(
        attrs[1],
        expect(&[("b", "3")]),
        "both of the span's `a` deleted"
    );
    assert_eq!(attrs[4], expect(&[("x", "y")]));
}

/// The README's extract example. Its pattern has an unnamed group, `(\?|\&)`, which the Go
/// Collector's own check rejects; so does this one, with the same message.
#[test]
fn readme_example_extract_pattern_is_rejected_as_in_go() {
    assert_eq!(
        config_error::<AttributesConfig>(
            r#"
actions:
  - key: "http.url"
    pattern: ^(?P<http_protocol>.*):\/\/(?P<http_domain>.*)\/(?P<http_path>.*)(\?|\&)(?P<http_query_params>.*)
    action: extract
"#
        ),
        "actions: error creating AttrProc. Field \"pattern\" contains at least one unnamed matcher group at the 0-th actions"
    );
}

#[test]
fn extract_named_groups_overwrite_and_ignore_non_strings() {
    let p = processor(
        r#"
actions:
  - key: http.url
    pattern: ^(?P<http_protocol>.*)://(?P<http_domain>[^/]*)/(?P<http_path>[^?]*)
    action: extract
"#,
        Signal::Traces,
    );
    let mut req = traces(
        "svc",
        vec![
            span(
                "a",
                vec![
                    kv_str("http.url", "https://example.com/a/b?x=1"),
                    kv_str("http_domain", "old"),
                ],
            ),
            span("b", vec![kv("http.url", Value::IntValue(3))]),
            span("c", vec![kv_str("http.url", "not a url")]),
        ],
    );
    apply_both(&p, &mut req, &Context::default());
    let all = span_attrs(&req);
    assert_eq!(get(&all[0], "http_protocol"), Some(&s("https")));
    assert_eq!(get(&all[0], "http_domain"), Some(&s("example.com")));
    assert_eq!(get(&all[0], "http_path"), Some(&s("a/b")));
    assert_eq!(
        get(&all[0], "http.url"),
        Some(&s("https://example.com/a/b?x=1"))
    );
    assert_eq!(all[1].len(), 1, "non-string: nothing extracted");
    assert_eq!(all[2].len(), 1, "no match: nothing extracted");
}

#[test]
fn delete_and_hash_by_pattern() {
    let p = processor(
        r#"
actions:
  - {pattern: ^secret\., action: delete}
  - {pattern: ^user\., action: hash}
"#,
        Signal::Traces,
    );
    let mut req = traces(
        "svc",
        vec![span(
            "op",
            vec![
                kv_str("secret.a", "1"),
                kv_str("secret.b", "2"),
                kv_str("keep", "3"),
                kv_str("user.name", "bob"),
                kv("user.id", Value::IntValue(7)),
                kv("user.admin", Value::BoolValue(true)),
                kv("user.score", Value::DoubleValue(1.5)),
            ],
        )],
    );
    apply_both(&p, &mut req, &Context::default());
    let attrs = &span_attrs(&req)[0];
    let keys: Vec<&str> = attrs.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(
        keys,
        ["keep", "user.name", "user.id", "user.admin", "user.score"]
    );
    assert_eq!(get(attrs, "user.name"), Some(&s(&sha256_hex(b"bob"))));
    // Non-strings hash their Go binary form: 8 little-endian bytes, or one byte for bools.
    assert_eq!(
        get(attrs, "user.id"),
        Some(&s(&sha256_hex(&7i64.to_le_bytes())))
    );
    assert_eq!(get(attrs, "user.admin"), Some(&s(&sha256_hex(&[1]))));
    assert_eq!(
        get(attrs, "user.score"),
        Some(&s(&sha256_hex(&1.5f64.to_bits().to_le_bytes())))
    );
    // Independent check of the digest itself (sha256("bob"), from coreutils sha256sum).
    assert_eq!(
        sha256_hex(b"bob"),
        "81b637d8fcd2c6da6359e6963113a1170de795e4b725b84d1e0b4cfd9ec58ce9"
    );
}

#[test]
fn convert_types() {
    let p = processor(
        r#"
actions:
  - {key: a, action: convert, converted_type: int}
  - {key: b, action: convert, converted_type: int}
  - {key: c, action: convert, converted_type: double}
  - {key: d, action: convert, converted_type: string}
  - {key: e, action: convert, converted_type: string}
  - {key: f, action: convert, converted_type: int}
  - {key: g, action: convert, converted_type: double}
"#,
        Signal::Traces,
    );
    let mut req = traces(
        "svc",
        vec![span(
            "op",
            vec![
                kv_str("a", "42"),
                kv("b", Value::DoubleValue(3.9)),
                kv("c", Value::BoolValue(true)),
                kv("d", Value::DoubleValue(0.5)),
                kv("e", Value::IntValue(-3)),
                kv_str("f", "not a number"),
                kv_str("g", "2.25"),
            ],
        )],
    );
    apply_both(&p, &mut req, &Context::default());
    let attrs = &span_attrs(&req)[0];
    assert_eq!(get(attrs, "a"), Some(&Value::IntValue(42)));
    assert_eq!(get(attrs, "b"), Some(&Value::IntValue(3)), "truncates");
    assert_eq!(get(attrs, "c"), Some(&Value::DoubleValue(1.0)));
    assert_eq!(get(attrs, "d"), Some(&s("0.5")));
    assert_eq!(get(attrs, "e"), Some(&s("-3")));
    assert_eq!(
        get(attrs, "f"),
        Some(&s("not a number")),
        "unconvertible: unchanged"
    );
    assert_eq!(get(attrs, "g"), Some(&Value::DoubleValue(2.25)));
}

#[test]
fn from_context_metadata_auth_and_address() {
    let p = processor(
        r#"
actions:
  - {key: tenant, from_context: metadata.x-tenant, action: upsert}
  - {key: bare, from_context: x-tenant, action: insert}
  - {key: user, from_context: auth.subject, action: insert}
  - {key: ip, from_context: client.address, action: insert}
  - {key: missing, from_context: metadata.nope, action: insert}
"#,
        Signal::Traces,
    );
    let ctx = Context {
        client: Some(Arc::new(ClientInfo {
            addr: Some("10.1.2.3:4567".parse().unwrap()),
            metadata: vec![
                ("x-tenant".into(), "acme".into()),
                ("x-tenant".into(), "beta".into()),
            ],
            auth_subject: Some("alice".into()),
        })),
    };
    let mut req = traces("svc", vec![span("op", vec![])]);
    apply_both(&p, &mut req, &ctx);
    let attrs = &span_attrs(&req)[0];
    assert_eq!(
        get(attrs, "tenant"),
        Some(&s("acme;beta")),
        "values joined with ;"
    );
    assert_eq!(get(attrs, "bare"), Some(&s("acme;beta")));
    assert_eq!(get(attrs, "user"), Some(&s("alice")));
    assert_eq!(get(attrs, "ip"), Some(&s("10.1.2.3")));
    assert_eq!(get(attrs, "missing"), None);
    // No client info: nothing to insert.
    let mut req = traces("svc", vec![span("op", vec![])]);
    apply_both(&p, &mut req, &Context::default());
    assert!(span_attrs(&req)[0].is_empty());
}

/// The README's include/exclude example (strict).
#[test]
fn readme_example_include_exclude_strict() {
    let p = processor(
        r#"
include:
  match_type: strict
  services: ["auth-service"]
exclude:
  match_type: strict
  attributes:
    - key: redact_trace
      value: false
actions:
  - key: credit_card
    action: delete
"#,
        Signal::Traces,
    );
    let card = || kv_str("credit_card", "4111");
    let mut auth = traces(
        "auth-service",
        vec![
            span("a", vec![card()]),
            span(
                "b",
                vec![card(), kv("redact_trace", Value::BoolValue(false))],
            ),
            span(
                "c",
                vec![card(), kv("redact_trace", Value::BoolValue(true))],
            ),
        ],
    );
    apply_both(&p, &mut auth, &Context::default());
    let all = span_attrs(&auth);
    assert_eq!(get(&all[0], "credit_card"), None);
    assert!(get(&all[1], "credit_card").is_some(), "excluded");
    assert_eq!(get(&all[2], "credit_card"), None);
    let mut other = traces("billing", vec![span("a", vec![card()])]);
    apply_both(&p, &mut other, &Context::default());
    assert!(
        get(&span_attrs(&other)[0], "credit_card").is_some(),
        "not included"
    );
}

/// The README's regexp example.
#[test]
fn readme_example_include_exclude_regexp() {
    let p = processor(
        r#"
include:
  match_type: regexp
  services: ["auth.*"]
exclude:
  match_type: regexp
  span_names: ["login.*"]
actions:
  - key: password
    action: update
    value: "obfuscated"
  - key: token
    action: delete
"#,
        Signal::Traces,
    );
    let attrs = || vec![kv_str("password", "p"), kv_str("token", "t")];
    let mut req = traces(
        "authentication",
        vec![span("login-user", attrs()), span("get-profile", attrs())],
    );
    apply_both(&p, &mut req, &Context::default());
    let all = span_attrs(&req);
    assert_eq!(all[0], attrs(), "excluded by span name");
    assert_eq!(all[1], vec![kv_str("password", "obfuscated")]);
}

#[test]
fn include_by_span_kind_library_resource_and_attribute_regexp() {
    let p = processor(
        r#"
include:
  match_type: strict
  span_kinds: [SPAN_KIND_SERVER]
  libraries: [{name: lib, version: "1.0"}]
  resources: [{key: service.name, value: svc}]
actions:
  - {key: hit, value: true, action: insert}
"#,
        Signal::Traces,
    );
    let mut server = span("a", vec![]);
    server.kind = 2;
    let client = Span {
        kind: 3,
        ..span("b", vec![])
    };
    let mut req = traces("svc", vec![server, client]);
    apply_both(&p, &mut req, &Context::default());
    let all = span_attrs(&req);
    assert_eq!(all[0].len(), 1);
    assert!(all[1].is_empty());

    let p = processor(
        r#"
include:
  match_type: regexp
  attributes: [{key: http.route, value: "^/api/"}]
actions:
  - {key: hit, value: true, action: insert}
"#,
        Signal::Traces,
    );
    let mut req = traces(
        "svc",
        vec![
            span("a", vec![kv_str("http.route", "/api/users")]),
            span("b", vec![kv_str("http.route", "/health")]),
            span("c", vec![kv("http.route", Value::IntValue(1))]),
        ],
    );
    apply_both(&p, &mut req, &Context::default());
    let all = span_attrs(&req);
    assert!(get(&all[0], "hit").is_some());
    assert!(get(&all[1], "hit").is_none());
    assert!(get(&all[2], "hit").is_none(), "1 does not match ^/api/");
}

/// Go's `filtermatcher`: a `regexp` attribute condition reads booleans, ints and doubles as
/// strings (doubles without an exponent); maps, lists and bytes never match.
#[test]
fn regexp_attribute_conditions_read_scalars_as_strings() {
    let p = processor(
        r#"
include:
  match_type: regexp
  attributes: [{key: v, value: '^(200|true|0\.5|100000000000000000000000)$'}]
actions:
  - {key: hit, value: true, action: insert}
"#,
        Signal::Traces,
    );
    let values = [
        (Value::IntValue(200), true),
        (Value::IntValue(201), false),
        (Value::BoolValue(true), true),
        (Value::DoubleValue(0.5), true),
        (Value::DoubleValue(1e23), true),
        (s("200"), true),
        (Value::BytesValue(b"200".to_vec().into()), false),
    ];
    let spans = values
        .iter()
        .map(|(v, _)| span("a", vec![kv("v", v.clone())]))
        .collect();
    let mut req = traces("svc", spans);
    apply_both(&p, &mut req, &Context::default());
    for ((v, want), attrs) in values.iter().zip(span_attrs(&req)) {
        assert_eq!(get(&attrs, "hit").is_some(), *want, "{v:?}");
    }
}

/// Go's `filtermatcher`: every `libraries` entry must match the scope, and a version
/// follows `match_type` like the name.
#[test]
fn libraries_must_all_match_and_versions_follow_match_type() {
    let hit = |yaml: &str| {
        let p = processor(
            &format!("{yaml}actions:\n  - {{key: hit, value: true, action: insert}}\n"),
            Signal::Traces,
        );
        let mut req = traces("svc", vec![span("a", vec![])]);
        apply_both(&p, &mut req, &Context::default());
        get(&span_attrs(&req)[0], "hit").is_some()
    };
    // The scope is `lib` 1.0.
    assert!(hit(
        "include:\n  match_type: regexp\n  libraries: [{name: \"^l\", version: \"^1\\\\.\"}]\n"
    ));
    assert!(!hit(
        "include:\n  match_type: regexp\n  libraries: [{name: \"^l\", version: \"^2\"}]\n"
    ));
    assert!(!hit(
        "include:\n  match_type: strict\n  libraries: [{name: lib}, {name: other}]\n"
    ));
    assert!(hit(
        "include:\n  match_type: strict\n  libraries: [{name: lib}, {name: lib, version: \"1.0\"}]\n"
    ));
    assert!(!hit(
        "include:\n  match_type: strict\n  libraries: [{name: lib, version: \"1\"}]\n"
    ));
}

/// Go's `serviceNameForResource`: a resource without `service.name` is matched as
/// `<nil-service-name>`, and a non-string one by its string form.
#[test]
fn services_match_unset_and_non_string_service_names_as_go() {
    let p = processor(
        "include:\n  match_type: strict\n  services: [\"<nil-service-name>\", \"42\"]\nactions:\n  - {key: hit, value: true, action: insert}\n",
        Signal::Traces,
    );
    let mut unset = traces("x", vec![span("a", vec![])]);
    let mut int = traces("x", vec![span("a", vec![])]);
    let mut empty = traces("", vec![span("a", vec![])]);
    let Request::Traces(t) = &mut unset else {
        panic!()
    };
    t.resource_spans[0]
        .resource
        .as_mut()
        .unwrap()
        .attributes
        .clear();
    let Request::Traces(t) = &mut int else {
        panic!()
    };
    t.resource_spans[0].resource.as_mut().unwrap().attributes =
        vec![kv("service.name", Value::IntValue(42))];
    for (req, want) in [(&mut unset, true), (&mut int, true), (&mut empty, false)] {
        apply_both(&p, req, &Context::default());
        assert_eq!(get(&span_attrs(req)[0], "hit").is_some(), want);
    }
}

#[test]
fn logs_with_severity_and_body_filters() {
    let p = processor(
        r#"
include:
  match_type: regexp
  log_bodies: ["^error"]
  log_severity_number: {min: WARN, match_undefined: false}
actions:
  - {key: flagged, value: yes, action: insert}
"#,
        Signal::Logs,
    );
    let rec = |body: &str, sev: i32| LogRecord {
        body: Some(AnyValue {
            value: Some(s(body)),
        }),
        severity_number: sev,
        ..Default::default()
    };
    let mut req = Request::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    rec("error: disk", 17),
                    rec("error: disk", 9),
                    rec("all good", 17),
                    rec("error: undefined", 0),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    apply_both(&p, &mut req, &Context::default());
    let Request::Logs(l) = &req else { panic!() };
    let flagged: Vec<bool> = l.resource_logs[0].scope_logs[0]
        .log_records
        .iter()
        .map(|r| !r.attributes.is_empty())
        .collect();
    assert_eq!(flagged, [true, false, false, false]);
}

#[test]
fn metric_data_points_filtered_by_metric_name() {
    let p = processor(
        r#"
include:
  match_type: strict
  metric_names: [requests]
actions:
  - {key: env, value: prod, action: upsert}
"#,
        Signal::Metrics,
    );
    let gauge = |name: &str| Metric {
        name: name.into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint::default(), NumberDataPoint::default()],
        })),
        ..Default::default()
    };
    let mut req = Request::Metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![gauge("requests"), gauge("latency")],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    apply_both(&p, &mut req, &Context::default());
    let Request::Metrics(m) = &req else { panic!() };
    let counts: Vec<usize> = m.resource_metrics[0].scope_metrics[0]
        .metrics
        .iter()
        .map(|m| match &m.data {
            Some(metric::Data::Gauge(g)) => g.data_points.iter().map(|p| p.attributes.len()).sum(),
            _ => 0,
        })
        .collect();
    assert_eq!(counts, [2, 0]);
}

#[tokio::test]
async fn consume_edits_and_passes_on_and_forwards_admit() {
    let rec = Recorder::new();
    let cfg: AttributesConfig = config("actions:\n  - {key: env, value: prod, action: insert}\n");
    let p = AttributesProcessorFactory
        .create(
            ctx("attributes", Kind::Processor),
            cfg,
            Signal::Traces,
            rec.clone(),
        )
        .unwrap();
    p.consume(
        crate::testing::traces("svc", &["a", "b"]),
        Context::default(),
    )
    .await
    .unwrap();
    let got = rec.got.lock().unwrap()[0].clone();
    let req = got.to_request().unwrap();
    assert!(
        span_attrs(&req)
            .iter()
            .all(|a| get(a, "env") == Some(&s("prod")))
    );
    // Refusals of the next stage come back, for admit and consume.
    *rec.fail.lock().unwrap() = Some(ConsumeError::retryable("full", None));
    assert!(
        p.consume(crate::testing::traces("svc", &["c"]), Context::default())
            .await
            .unwrap_err()
            .is_retryable()
    );
    assert!(
        p.admit(Signal::Traces).is_ok(),
        "Recorder admits everything"
    );
}

#[test]
fn config_errors_read_as_the_go_collector() {
    let err = config_error::<AttributesConfig>;
    assert_eq!(err("{}"), "actions: missing required field \"actions\"");
    assert_eq!(
        err("actions:\n  - {action: insert, value: 1}\n"),
        "actions: error creating AttrProc due to missing required field \"key\" at the 0-th actions"
    );
    assert_eq!(
        err("actions:\n  - {key: a, action: delete}\n  - {action: hash}\n"),
        "actions: error creating AttrProc due to missing required field (at least one of \"key\" and \"pattern\" have to be used) at the 1-th actions"
    );
    assert_eq!(
        err("actions:\n  - {key: a, action: insert}\n"),
        "actions: error creating AttrProc. Either field \"value\", \"from_attribute\" or \"from_context\" setting must be specified for 0-th action"
    );
    assert_eq!(
        err("actions:\n  - {key: a, action: delete, default_value: 1}\n"),
        "actions: error creating AttrProc. Action \"delete\" does not use the \"default_value\" field. This must not be specified for 0-th action"
    );
    assert_eq!(
        err("actions:\n  - {key: a, action: upsert, value: 1, from_attribute: b}\n"),
        "actions: error creating AttrProc due to multiple value sources being set at the 0-th actions"
    );
    assert_eq!(
        err("actions:\n  - {key: a, action: UPDATE, value: 1, pattern: x}\n"),
        "actions: error creating AttrProc. Action \"update\" does not use the \"pattern\" field. This must not be specified for 0-th action"
    );
    assert_eq!(
        err("actions:\n  - {key: a, action: delete, value: 1}\n"),
        "actions: error creating AttrProc. Action \"delete\" does not use \"value\" or \"from_attribute\" field. These must not be specified for 0-th action"
    );
    assert_eq!(
        err("actions:\n  - {key: a, action: hash, pattern: \"(\"}\n"),
        "actions: error creating AttrProc. Field \"pattern\" has invalid pattern: \"(\" to be set at the 0-th actions"
    );
    assert_eq!(
        err("actions:\n  - {key: a, action: extract}\n"),
        "actions: error creating AttrProc due to missing required field \"pattern\" for action \"extract\" at the 0-th action"
    );
    assert_eq!(
        err("actions:\n  - {key: a, action: extract, pattern: \"^a\"}\n"),
        "actions: error creating AttrProc. Field \"pattern\" contains no named matcher groups at the 0-th actions"
    );
    assert_eq!(
        err("actions:\n  - {key: a, action: extract, pattern: \"(?P<x>a)(b)\"}\n"),
        "actions: error creating AttrProc. Field \"pattern\" contains at least one unnamed matcher group at the 0-th actions"
    );
    assert_eq!(
        err("actions:\n  - {key: a, action: convert}\n"),
        "actions: error creating AttrProc due to missing required field \"converted_type\" for action \"convert\" at the 0-th action"
    );
    assert_eq!(
        err("actions:\n  - {key: a, action: convert, converted_type: float}\n"),
        "actions: error creating AttrProc due to invalid value \"float\" in field \"converted_type\" for action \"convert\" at the 0-th action"
    );
    assert_eq!(
        err("actions:\n  - {key: a, action: rename}\n"),
        "actions: error creating AttrProc due to unsupported action \"rename\" at the 0-th actions"
    );
    assert_eq!(
        err("actions:\n  - {key: a, action: delete}\ninclude:\n  services: [x]\n"),
        "include: unrecognized match_type: '', valid types are: [regexp strict]"
    );
    assert!(
        err("actions:\n  - {key: a, action: delete, typo: 1}\n").contains("unknown field `typo`")
    );
}

#[test]
fn signal_specific_match_errors_at_create() {
    let build = |yaml: &str, signal| {
        AttributesProcessor::build(
            &ctx("attributes", Kind::Processor),
            config(yaml),
            signal,
            Recorder::new(),
        )
        .err()
        .map(|e| e.to_string())
    };
    let actions = "actions:\n  - {key: a, action: delete}\n";
    assert_eq!(
        build(
            &format!("{actions}include:\n  match_type: strict\n  log_bodies: [x]\n"),
            Signal::Traces
        ),
        Some("include: log_bodies should not be specified for trace spans".into())
    );
    assert_eq!(
        build(
            &format!("{actions}exclude:\n  match_type: strict\n  services: [x]\n"),
            Signal::Logs
        ),
        Some("exclude: services, span_names, and span_kinds are not valid for log records".into())
    );
    assert_eq!(
        build(&format!("{actions}include:\n  match_type: strict\n"), Signal::Traces),
        Some("include: at least one of \"attributes\", \"libraries\",  or \"resources\" field must be specified".into())
    );
    assert_eq!(
        build(&format!("{actions}include:\n  match_type: strict\n  span_kinds: [server]\n"), Signal::Traces),
        Some("include: span_kinds string must match one of the standard span kinds when match_type=strict: [SPAN_KIND_CLIENT SPAN_KIND_CONSUMER SPAN_KIND_INTERNAL SPAN_KIND_PRODUCER SPAN_KIND_SERVER]".into())
    );
}
