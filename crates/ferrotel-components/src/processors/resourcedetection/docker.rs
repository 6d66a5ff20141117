//! The `docker` detector: the Docker Engine's host name and OS type (`GET /info` on its
//! socket, `DOCKER_HOST` when it names a unix socket, else `/var/run/docker.sock`).

use tokio::time::Instant;

use super::config::Enabled;
use super::detect::{AttrValue, Outcome};
use super::http::{self, HttpError, Target};

pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// The socket the Docker client would use.
pub fn socket_path() -> Result<String, String> {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if !h.is_empty() => h.strip_prefix("unix://").map(str::to_owned).ok_or_else(|| {
            format!("DOCKER_HOST={h:?}: ferrotel's docker detector supports only unix:// sockets")
        }),
        _ => Ok(DEFAULT_SOCKET.to_owned()),
    }
}

/// Asks the engine at `socket`. An absent or silent daemon is [`Outcome::Missing`].
pub async fn detect(socket: &str, on: &Enabled, deadline: Instant) -> Outcome {
    let target = Target::Unix(socket.to_owned());
    let info = match http::get_text(&target, "docker", "/info", &[], deadline).await {
        Ok(b) => b,
        Err(HttpError::Unreachable(m)) => {
            return Outcome::Missing(format!("cannot reach the Docker daemon: {m}"));
        }
        Err(e) => return Outcome::Failed(format!("failed getting Docker info: {e}")),
    };
    let json: serde_json::Value = match serde_json::from_str(&info) {
        Ok(v) => v,
        Err(e) => return Outcome::Failed(format!("failed parsing Docker info: {e}")),
    };
    let field = |k: &str| json.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let os_type = match field("OSType") {
        "" => return Outcome::Failed("failed getting OS type: Docker info has no OSType".into()),
        "macos" => "darwin",
        other => other,
    }
    .to_owned();
    let name = field("Name");
    if name.is_empty() {
        return Outcome::Failed("failed getting OS hostname: Docker info has no Name".into());
    }
    let mut out = Vec::new();
    if on.has("host.name") {
        out.push(("host.name".to_owned(), AttrValue::Str(name.to_owned())));
    }
    if on.has("os.type") {
        out.push(("os.type".to_owned(), AttrValue::Str(os_type)));
    }
    Outcome::Found(out)
}
