use std::time::Duration;

use ferrotel_otlp::client::ClientAuth;
use ferrotel_otlp::server::ServerAuth;
use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{decode, node::parse_yaml};

use super::*;

fn config(yaml: &str) -> Result<BearerTokenAuthConfig, String> {
    let c: BearerTokenAuthConfig =
        decode(&parse_yaml(yaml, "test").unwrap()).map_err(|e| e.to_string())?;
    c.validate().map_err(|e| e.to_string())?;
    Ok(c)
}

fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

#[test]
fn config_keys_and_errors() {
    let c = config("token: abc").unwrap();
    assert_eq!(c.scheme, "Bearer");
    assert_eq!(c.header, "Authorization");
    assert!(
        !format!("{c:?}").contains("abc"),
        "Debug must not print the token"
    );
    assert!(config("{}").unwrap_err().contains("required"));
    assert!(
        config("{token: a, tokens: [b]}")
            .unwrap_err()
            .contains("not both")
    );
    // As Go: with `filename`, `token` and `tokens` are accepted and ignored.
    assert!(config("{token: a, filename: /x}").is_ok());
    assert!(config("{tokens: [a, b], filename: /x}").is_ok());
    assert!(config("{token: a, nope: 1}").unwrap_err().contains("nope"));
    assert!(config("{token: a, header: 'bad header'}").is_err());
}

#[test]
fn server_accepts_configured_tokens_and_says_what_is_wrong() {
    let a = BearerTokenAuth::new(config("tokens: [one, two]").unwrap()).unwrap();
    assert!(
        a.authenticate(&headers(&[("authorization", "Bearer one")]))
            .is_ok()
    );
    assert!(
        a.authenticate(&headers(&[("authorization", "Bearer two")]))
            .is_ok()
    );
    let e = a.authenticate(&headers(&[])).unwrap_err();
    assert!(e.contains("missing"), "{e}");
    let e = a
        .authenticate(&headers(&[("authorization", "Basic one")]))
        .unwrap_err();
    assert!(e.contains("scheme"), "{e}");
    let e = a
        .authenticate(&headers(&[("authorization", "Bearer secret-guess")]))
        .unwrap_err();
    assert!(e.contains("not valid"), "{e}");
    assert!(
        !e.contains("secret-guess"),
        "refusal must not echo the token: {e}"
    );
    // A prefix of a valid token is not valid.
    assert!(
        a.authenticate(&headers(&[("authorization", "Bearer on")]))
            .is_err()
    );
}

#[test]
fn custom_header_and_empty_scheme() {
    let a = BearerTokenAuth::new(config("{token: t0k, header: X-Api-Key, scheme: ''}").unwrap())
        .unwrap();
    assert!(a.authenticate(&headers(&[("x-api-key", "t0k")])).is_ok());
    assert!(
        a.authenticate(&headers(&[("authorization", "t0k")]))
            .is_err()
    );
    let mut h = http::HeaderMap::new();
    a.apply(&mut h).unwrap();
    assert_eq!(h["x-api-key"], "t0k");
}

#[test]
fn client_adds_the_header() {
    let a = BearerTokenAuth::new(config("token: abc").unwrap()).unwrap();
    let mut h = http::HeaderMap::new();
    a.apply(&mut h).unwrap();
    assert_eq!(h["authorization"], "Bearer abc");
    assert!(h["authorization"].is_sensitive());
}

#[test]
fn token_file_is_reloaded_when_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, "first\n").unwrap();
    let a =
        BearerTokenAuth::new(config(&format!("filename: {}", path.display())).unwrap()).unwrap();
    assert!(
        a.authenticate(&headers(&[("authorization", "Bearer first")]))
            .is_ok()
    );
    std::fs::write(&path, "second-token\nthird\n").unwrap();
    std::thread::sleep(FILE_CHECK_INTERVAL + Duration::from_millis(50));
    assert!(
        a.authenticate(&headers(&[("authorization", "Bearer second-token")]))
            .is_ok()
    );
    assert!(
        a.authenticate(&headers(&[("authorization", "Bearer third")]))
            .is_ok()
    );
    assert!(
        a.authenticate(&headers(&[("authorization", "Bearer first")]))
            .is_err()
    );
    // A missing file fails the build with its name.
    let e = BearerTokenAuth::new(config("filename: /nonexistent/token").unwrap())
        .err()
        .unwrap();
    assert!(e.to_string().contains("/nonexistent/token"), "{e}");
}

#[test]
fn offers_both_capabilities() {
    let ext = BearerTokenAuthFactory
        .create(
            crate::testing::ctx("bearertokenauth", Kind::Extension),
            config("token: x").unwrap(),
        )
        .unwrap();
    assert!(capability::<Arc<dyn ServerAuth>>(ext.as_ref()).is_some());
    assert!(capability::<Arc<dyn ClientAuth>>(ext.as_ref()).is_some());
}

#[test]
fn token_file_wins_over_token_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, "from-file\n").unwrap();
    for (settings, ignored) in [
        ("token: ignored", "ignored"),
        ("tokens: [ignored2]", "ignored2"),
    ] {
        let yaml = format!("{{{settings}, filename: {}}}", path.display());
        let a = BearerTokenAuth::new(config(&yaml).unwrap()).unwrap();
        assert!(
            a.authenticate(&headers(&[("authorization", "Bearer from-file")]))
                .is_ok()
        );
        let sent = format!("Bearer {ignored}");
        assert!(
            a.authenticate(&headers(&[("authorization", &sent)]))
                .is_err()
        );
    }
}
