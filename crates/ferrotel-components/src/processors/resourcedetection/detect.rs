//! Running the configured detectors once: concurrently, bounded by `timeout`, merged in the
//! configured order (the first detector to set a key wins, as in Go).

use std::time::Duration;

use tokio::time::Instant;

use super::cloud::{self, Endpoints};
use super::config::{Detector, ResourceDetectionConfig};
use super::{docker, env, system};

/// A detected value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    Int(i64),
    StrList(Vec<String>),
}

impl AttrValue {
    /// The value as an action's YAML value, so the `resource` processor's engine writes it.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            AttrValue::Str(s) => serde_json::Value::String(s.clone()),
            AttrValue::Int(i) => serde_json::Value::from(*i),
            AttrValue::StrList(l) => {
                serde_json::Value::Array(l.iter().cloned().map(serde_json::Value::String).collect())
            }
        }
    }
}

/// What one detector found.
#[derive(Debug)]
pub enum Outcome {
    Found(Vec<(String, AttrValue)>),
    /// Its platform or service is absent (no metadata endpoint, no Docker socket): skipped
    /// with a warning, or an error with `fail_on_missing_metadata`.
    Missing(String),
    /// It is there but answered wrongly (or the host itself failed): an error.
    Failed(String),
}

/// Where detectors look; the environment's in production, fakes in tests.
#[derive(Debug, Clone)]
pub struct Sources {
    pub endpoints: Endpoints,
    pub docker_socket: Result<String, String>,
    /// Whether this process runs in a Kubernetes pod (`KUBERNETES_SERVICE_HOST` set), which
    /// the eks and aks detectors require before they ask their cloud's metadata service.
    pub kubernetes: bool,
}

impl Sources {
    pub fn from_env() -> Sources {
        Sources {
            endpoints: Endpoints::from_env(),
            docker_socket: docker::socket_path(),
            kubernetes: cloud::on_kubernetes(),
        }
    }
}

async fn run_one(
    d: Detector,
    cfg: &ResourceDetectionConfig,
    sources: &Sources,
    deadline: Instant,
) -> Outcome {
    let on = cfg.enabled(d);
    match d {
        Detector::Env => match env::detect() {
            Ok(a) => Outcome::Found(a),
            Err(e) => Outcome::Failed(e),
        },
        Detector::System => match system::detect(&cfg.system, &on, deadline).await {
            Ok(a) => Outcome::Found(a),
            Err(e) => Outcome::Failed(e),
        },
        Detector::Docker => match &sources.docker_socket {
            Ok(socket) => docker::detect(socket, &on, deadline).await,
            Err(e) => Outcome::Failed(e.clone()),
        },
        Detector::Ec2 => cloud::ec2(&sources.endpoints, &cfg.ec2, &on, deadline).await,
        Detector::Gcp => cloud::gcp(&sources.endpoints, &cfg.gcp, &on, deadline).await,
        Detector::Azure => cloud::azure(&sources.endpoints, &cfg.azure, &on, deadline).await,
        Detector::Eks => cloud::eks(&sources.endpoints, sources.kubernetes, &on, deadline).await,
        Detector::Aks => cloud::aks(&sources.endpoints, sources.kubernetes, &on, deadline).await,
    }
}

/// Detectors that talk to a service: Go retries their failures with backoff until the
/// timeout; the others fail the same way every time.
fn retries(d: Detector) -> bool {
    !matches!(d, Detector::Env | Detector::System)
}

/// One detector with Go's retry: a failure is tried again after 1s, 2s, 4s… while the
/// deadline allows, and reported if it persists.
async fn run_with_retry(
    d: Detector,
    cfg: &ResourceDetectionConfig,
    sources: &Sources,
    deadline: Instant,
) -> Outcome {
    let mut backoff = Duration::from_secs(1);
    loop {
        let outcome = run_one(d, cfg, sources, deadline).await;
        let missing_is_error = cfg.fail_on_missing(d);
        let message = match &outcome {
            Outcome::Failed(m) => m.clone(),
            Outcome::Missing(m) if missing_is_error => m.clone(),
            _ => return outcome,
        };
        tracing::warn!(detector = d.name(), error = %message, "resource_detection: failed to detect resource");
        if !retries(d) || Instant::now() + backoff >= deadline {
            return Outcome::Failed(message);
        }
        tokio::time::sleep(backoff).await;
        backoff *= 2;
    }
}

/// Runs `detectors` concurrently within `cfg.timeout` and merges what they found in their
/// order. A detector that fails (or, with `fail_on_missing_metadata`, finds nothing) is an
/// error naming it, which fails the processor's start as in Go; a missing platform is
/// skipped with a warning.
pub async fn detect_all(
    cfg: &ResourceDetectionConfig,
    detectors: &[Detector],
    sources: &Sources,
) -> Result<Vec<(String, AttrValue)>, String> {
    let deadline = Instant::now() + cfg.timeout;
    let runs = detectors.iter().map(|&d| async move {
        let outcome = tokio::time::timeout_at(deadline, run_with_retry(d, cfg, sources, deadline))
            .await
            .unwrap_or_else(|_| {
                let m = format!("did not finish within the timeout ({:?})", cfg.timeout);
                if retries(d) && !cfg.fail_on_missing(d) {
                    Outcome::Missing(m)
                } else {
                    Outcome::Failed(m)
                }
            });
        (d, outcome)
    });
    let results = futures::future::join_all(runs).await;
    let mut merged: Vec<(String, AttrValue)> = Vec::new();
    let mut errors = Vec::new();
    for (d, outcome) in results {
        match outcome {
            Outcome::Found(attrs) => {
                for (k, v) in attrs {
                    if !merged.iter().any(|(m, _)| *m == k) {
                        merged.push((k, v));
                    }
                }
            }
            Outcome::Missing(m) => {
                tracing::warn!(detector = d.name(), reason = %m, "resource_detection: detector skipped");
            }
            Outcome::Failed(m) => errors.push(format!("detector {:?}: {m}", d.name())),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    Ok(merged)
}
