use base64::Engine as _;
use ferrotel_otlp::client::ClientAuth;
use ferrotel_otlp::server::ServerAuth;
use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{decode, node::parse_yaml};

use super::*;

fn config(yaml: &str) -> Result<BasicAuthConfig, String> {
    let c: BasicAuthConfig =
        decode(&parse_yaml(yaml, "test").unwrap()).map_err(|e| e.to_string())?;
    c.validate().map_err(|e| e.to_string())?;
    Ok(c)
}

fn basic(user: &str, pass: &str) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    h.insert("authorization", format!("Basic {v}").parse().unwrap());
    h
}

fn server(yaml: &str) -> BasicAuthServer {
    BasicAuthServer::new(config(yaml).unwrap().htpasswd.as_ref().unwrap()).unwrap()
}

#[test]
fn config_errors() {
    assert!(config("{}").unwrap_err().contains("required"));
    assert!(
        config("{htpasswd: {inline: 'a:b'}, client_auth: {username: a, password: b}}")
            .unwrap_err()
            .contains("not both")
    );
    assert!(config("{htpasswd: {}}").unwrap_err().contains("file"));
    assert!(config("{htpasswd: {inline: 'a:b', nope: 1}}").is_err());
    let c = config("{client_auth: {username: u, password: hunter2}}").unwrap();
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn plain_and_bcrypt_passwords() {
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let s = server(&format!(
        "htpasswd: {{inline: \"alice:wonderland\\nbob:{hash}\\n# comment\\n\"}}"
    ));
    let ok = s.authenticate(&basic("alice", "wonderland")).unwrap();
    assert_eq!(ok.subject, "alice");
    assert!(ok.attributes.contains(&("username".into(), "alice".into())));
    assert!(s.authenticate(&basic("bob", "s3cret")).is_ok());
    let e = s.authenticate(&basic("bob", "wrong")).unwrap_err();
    assert_eq!(e, "invalid username or password");
    assert_eq!(s.authenticate(&basic("carol", "x")).unwrap_err(), e);
    assert!(
        s.authenticate(&http::HeaderMap::new())
            .unwrap_err()
            .contains("missing")
    );
    let mut h = http::HeaderMap::new();
    h.insert("authorization", "Bearer abc".parse().unwrap());
    assert!(s.authenticate(&h).unwrap_err().contains("Basic"));
    h.insert("authorization", "Basic !!!".parse().unwrap());
    assert!(s.authenticate(&h).unwrap_err().contains("base64"));
}

#[test]
fn file_with_inline_override() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("htpasswd");
    std::fs::write(&f, "alice:from-file\nbob:bobpass\n").unwrap();
    let s = server(&format!(
        "htpasswd: {{file: {}, inline: 'alice:from-inline'}}",
        f.display()
    ));
    assert!(s.authenticate(&basic("alice", "from-inline")).is_ok());
    assert!(s.authenticate(&basic("alice", "from-file")).is_err());
    assert!(s.authenticate(&basic("bob", "bobpass")).is_ok());
}

#[test]
fn unsupported_hash_is_an_error_naming_the_line() {
    let c = config("htpasswd: {inline: \"a:b\\nx:$apr1$abc$def\"}").unwrap();
    let e = BasicAuthServer::new(c.htpasswd.as_ref().unwrap())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("line 2") && e.contains("bcrypt"), "{e}");
}

#[test]
fn client_sends_what_the_server_accepts() {
    let c = BasicAuthClient::new("alice", "wonder:land").unwrap();
    let mut h = http::HeaderMap::new();
    c.apply(&mut h).unwrap();
    let s = server("htpasswd: {inline: 'alice:wonder:land'}");
    assert_eq!(s.authenticate(&h).unwrap().subject, "alice");
}

#[test]
fn offers_one_capability() {
    let ctx = || crate::testing::ctx("basicauth", Kind::Extension);
    let srv = BasicAuthFactory
        .create(ctx(), config("htpasswd: {inline: 'a:b'}").unwrap())
        .unwrap();
    assert!(capability::<Arc<dyn ServerAuth>>(srv.as_ref()).is_some());
    assert!(capability::<Arc<dyn ClientAuth>>(srv.as_ref()).is_none());
    let cli = BasicAuthFactory
        .create(
            ctx(),
            config("client_auth: {username: a, password: b}").unwrap(),
        )
        .unwrap();
    assert!(capability::<Arc<dyn ClientAuth>>(cli.as_ref()).is_some());
}

/// `username_file`/`password_file`: read at start (trimmed), re-read after a rotation; a file
/// that becomes unreadable keeps the last good credentials; unreadable at start is an error.
#[test]
fn client_credentials_from_files_follow_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let (user, pass) = (dir.path().join("user"), dir.path().join("pass"));
    std::fs::write(&user, "alice\n").unwrap();
    std::fs::write(&pass, "s3cret\n").unwrap();
    let c = config(&format!(
        "client_auth: {{username_file: '{}', password_file: '{}'}}",
        user.display(),
        pass.display()
    ))
    .unwrap();
    let client = BasicAuthClient::from_config(c.client_auth.as_ref().unwrap())
        .unwrap()
        .check_files_every(Duration::ZERO);
    let sent = |client: &BasicAuthClient| {
        let mut h = http::HeaderMap::new();
        client.apply(&mut h).unwrap();
        h
    };
    let s = server("htpasswd: {inline: \"alice:s3cret\\nbob:n3w\"}");
    assert_eq!(s.authenticate(&sent(&client)).unwrap().subject, "alice");
    assert_eq!(sent(&client), basic("alice", "s3cret"));

    // Rotation: new contents with a new modification time.
    std::fs::write(&user, "bob").unwrap();
    std::fs::write(&pass, "n3w").unwrap();
    let later = SystemTime::now() + Duration::from_secs(10);
    for p in [&user, &pass] {
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(later)
            .unwrap();
    }
    assert_eq!(sent(&client), basic("bob", "n3w"));
    assert_eq!(s.authenticate(&sent(&client)).unwrap().subject, "bob");

    // A vanished file: the last good credentials stay.
    std::fs::remove_file(&pass).unwrap();
    assert_eq!(sent(&client), basic("bob", "n3w"));

    let err = BasicAuthClient::from_config(c.client_auth.as_ref().unwrap())
        .err()
        .expect("a missing file at start is an error");
    assert!(
        err.to_string()
            .contains("client_auth::password_file: cannot read"),
        "{err}"
    );
    assert!(
        config("client_auth: {username: a, username_file: /x}")
            .unwrap_err()
            .contains("either username or username_file can be set, not both")
    );
}
