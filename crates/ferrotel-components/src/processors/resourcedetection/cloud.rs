//! The cloud detectors: `ec2` (IMDSv2, then v1), `gcp` (Compute Engine and GKE from the
//! metadata server), `azure` (IMDS), `eks` and `aks` (Kubernetes on those clouds). As in Go, a
//! metadata service that does not answer means "not on this cloud": the detector is skipped
//! (an [`Outcome::Missing`]), unless `fail_on_missing_metadata` is set.

use regex::Regex;
use tokio::time::Instant;

use super::config::{AzureConfig, Ec2Config, Enabled, GcpConfig};
use super::detect::{AttrValue, Outcome};
use super::http::{self, HttpError, Target};

/// Where the metadata services are: the link-local defaults, or what the environment says
/// (the variables the Go SDKs honour), or a test's fake.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub aws: Option<(Target, String)>,
    pub gcp: (Target, String),
    pub azure: (Target, String),
}

const LINK_LOCAL: &str = "169.254.169.254";

impl Endpoints {
    pub fn from_env() -> Endpoints {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let tcp = |authority: &str| {
            let addr = if authority.contains(':') {
                authority.to_owned()
            } else {
                format!("{authority}:80")
            };
            (Target::Tcp(addr), authority.to_owned())
        };
        let aws =
            if var("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
                None
            } else {
                let ep = var("AWS_EC2_METADATA_SERVICE_ENDPOINT").unwrap_or_default();
                let authority = ep
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_owned();
                Some(tcp(if authority.is_empty() {
                    LINK_LOCAL
                } else {
                    &authority
                }))
            };
        let gcp = var("GCE_METADATA_HOST").unwrap_or_else(|| LINK_LOCAL.to_owned());
        Endpoints {
            aws,
            gcp: tcp(&gcp),
            azure: tcp(LINK_LOCAL),
        }
    }
}

fn put(out: &mut Vec<(String, AttrValue)>, on: &Enabled, key: &str, value: &str) {
    if on.has(key) {
        out.push((key.to_owned(), AttrValue::Str(value.to_owned())));
    }
}

fn regexes(list: &[String]) -> Vec<Regex> {
    // Validated with the config.
    list.iter().filter_map(|r| Regex::new(r).ok()).collect()
}

/// An IMDS session: the IMDSv2 token when the service gives one.
struct Imds<'a> {
    target: &'a Target,
    authority: &'a str,
    token: Option<String>,
    deadline: Instant,
}

impl Imds<'_> {
    async fn get(&self, path: &str) -> Result<String, HttpError> {
        let headers: Vec<(&str, &str)> = self
            .token
            .as_deref()
            .map(|t| ("X-aws-ec2-metadata-token", t))
            .into_iter()
            .collect();
        http::get_text(self.target, self.authority, path, &headers, self.deadline).await
    }
}

/// Opens an IMDS session, or says why the service is absent.
async fn imds<'a>(
    endpoint: &'a Option<(Target, String)>,
    deadline: Instant,
) -> Result<Imds<'a>, String> {
    let Some((target, authority)) = endpoint else {
        return Err("EC2 metadata is disabled (AWS_EC2_METADATA_DISABLED)".to_owned());
    };
    let token = http::request(
        target,
        authority,
        "PUT",
        "/latest/api/token",
        &[("X-aws-ec2-metadata-token-ttl-seconds", "21600")],
        deadline,
    )
    .await;
    let token = match token {
        Ok(t) => Some(String::from_utf8_lossy(&t).into_owned()),
        Err(HttpError::Unreachable(m)) => return Err(format!("EC2 metadata unavailable: {m}")),
        // IMDSv1 only: go on without a token.
        Err(_) => None,
    };
    let session = Imds {
        target,
        authority,
        token,
        deadline,
    };
    // The probe: an instance id, as the AWS SDK's availability check reads.
    match session.get("/latest/meta-data/instance-id").await {
        Ok(_) => Ok(session),
        Err(e) => Err(format!("EC2 metadata unavailable: {e}")),
    }
}

/// The instance identity document's fields.
async fn identity(session: &Imds<'_>) -> Result<serde_json::Value, String> {
    let doc = session
        .get("/latest/dynamic/instance-identity/document")
        .await
        .map_err(|e| format!("failed getting EC2 identity document: {e}"))?;
    serde_json::from_str(&doc).map_err(|e| format!("failed parsing EC2 identity document: {e}"))
}

fn json_str<'a>(v: &'a serde_json::Value, k: &str) -> &'a str {
    v.get(k).and_then(|x| x.as_str()).unwrap_or_default()
}

pub async fn ec2(
    endpoints: &Endpoints,
    cfg: &Ec2Config,
    on: &Enabled,
    deadline: Instant,
) -> Outcome {
    let session = match imds(&endpoints.aws, deadline).await {
        Ok(s) => s,
        Err(m) => return Outcome::Missing(m),
    };
    let doc = match identity(&session).await {
        Ok(d) => d,
        Err(e) => return Outcome::Failed(e),
    };
    let hostname = match session.get("/latest/meta-data/hostname").await {
        Ok(h) => h,
        Err(e) => return Outcome::Failed(format!("failed getting EC2 hostname: {e}")),
    };
    let mut out = Vec::new();
    put(&mut out, on, "cloud.provider", "aws");
    put(&mut out, on, "cloud.platform", "aws_ec2");
    put(&mut out, on, "cloud.region", json_str(&doc, "region"));
    put(
        &mut out,
        on,
        "cloud.account.id",
        json_str(&doc, "accountId"),
    );
    put(
        &mut out,
        on,
        "cloud.availability_zone",
        json_str(&doc, "availabilityZone"),
    );
    put(&mut out, on, "host.id", json_str(&doc, "instanceId"));
    put(&mut out, on, "host.image.id", json_str(&doc, "imageId"));
    put(&mut out, on, "host.type", json_str(&doc, "instanceType"));
    put(&mut out, on, "host.name", hostname.trim());
    if !cfg.tags.is_empty() {
        // Tags come from IMDS (instance metadata tags must be enabled on the instance).
        let res = regexes(&cfg.tags);
        match session.get("/latest/meta-data/tags/instance").await {
            Ok(keys) => {
                for key in keys.lines().map(str::trim).filter(|k| !k.is_empty()) {
                    if !res.iter().any(|r| r.is_match(key)) {
                        continue;
                    }
                    match session
                        .get(&format!("/latest/meta-data/tags/instance/{key}"))
                        .await
                    {
                        Ok(v) => out.push((format!("ec2.tag.{key}"), AttrValue::Str(v))),
                        Err(e) => {
                            return Outcome::Failed(format!("failed getting EC2 tag {key:?}: {e}"));
                        }
                    }
                }
            }
            Err(e) => {
                return Outcome::Failed(format!(
                    "failed getting EC2 tags from IMDS (are instance metadata tags enabled?): {e}"
                ));
            }
        }
    }
    Outcome::Found(out)
}

pub fn on_kubernetes() -> bool {
    std::env::var("KUBERNETES_SERVICE_HOST").is_ok_and(|v| !v.is_empty())
}

pub async fn eks(
    endpoints: &Endpoints,
    kubernetes: bool,
    on: &Enabled,
    deadline: Instant,
) -> Outcome {
    if !kubernetes {
        return Outcome::Missing(
            "not running on Kubernetes (KUBERNETES_SERVICE_HOST is unset)".into(),
        );
    }
    let session = match imds(&endpoints.aws, deadline).await {
        Ok(s) => s,
        Err(m) => return Outcome::Missing(m),
    };
    let mut out = Vec::new();
    put(&mut out, on, "cloud.provider", "aws");
    put(&mut out, on, "cloud.platform", "aws_eks");
    let wants_doc = [
        "cloud.account.id",
        "cloud.region",
        "cloud.availability_zone",
        "host.id",
        "host.image.id",
        "host.type",
    ]
    .iter()
    .any(|k| on.has(k));
    if wants_doc {
        let doc = match identity(&session).await {
            Ok(d) => d,
            Err(e) => return Outcome::Failed(e),
        };
        put(
            &mut out,
            on,
            "cloud.account.id",
            json_str(&doc, "accountId"),
        );
        put(&mut out, on, "cloud.region", json_str(&doc, "region"));
        put(
            &mut out,
            on,
            "cloud.availability_zone",
            json_str(&doc, "availabilityZone"),
        );
        put(&mut out, on, "host.id", json_str(&doc, "instanceId"));
        put(&mut out, on, "host.image.id", json_str(&doc, "imageId"));
        put(&mut out, on, "host.type", json_str(&doc, "instanceType"));
    }
    if on.has("host.name") {
        match session.get("/latest/meta-data/hostname").await {
            Ok(h) => put(&mut out, on, "host.name", h.trim()),
            Err(e) => return Outcome::Failed(format!("failed getting EC2 hostname: {e}")),
        }
    }
    if on.has("k8s.cluster.name") {
        tracing::warn!(
            "resource_detection: eks: k8s.cluster.name needs the EC2 DescribeInstances API, which ferrotel does not call; it is left out"
        );
    }
    Outcome::Found(out)
}

/// The last `/`-separated part: `projects/1/zones/us-central1-a` → `us-central1-a`.
fn last_segment(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// `us-central1-a` → `us-central1`.
fn zone_to_region(zone: &str) -> &str {
    zone.rsplit_once('-').map_or(zone, |(r, _)| r)
}

pub async fn gcp(
    endpoints: &Endpoints,
    cfg: &GcpConfig,
    on: &Enabled,
    deadline: Instant,
) -> Outcome {
    let (target, authority) = &endpoints.gcp;
    let headers = [("Metadata-Flavor", "Google")];
    let get = |path: &'static str| async move {
        http::get_text(
            target,
            authority,
            &format!("/computeMetadata/v1/{path}"),
            &headers,
            deadline,
        )
        .await
    };
    let project = match get("project/project-id").await {
        Ok(p) => p,
        Err(HttpError::Unreachable(m)) => {
            return Outcome::Missing(format!("GCP metadata server unavailable: {m}"));
        }
        Err(e) => return Outcome::Missing(format!("not on GCP: {e}")),
    };
    let serverless = [
        "K_CONFIGURATION",
        "CLOUD_RUN_JOB",
        "FUNCTION_TARGET",
        "GAE_SERVICE",
    ]
    .iter()
    .find(|v| std::env::var(v).is_ok_and(|x| !x.is_empty()));
    if let Some(var) = serverless {
        tracing::warn!(
            variable = var,
            "resource_detection: gcp: serverless platforms (Cloud Run, Cloud Functions, App Engine) are not detected by ferrotel yet; reporting the metadata server's Compute Engine attributes only"
        );
    }
    if !cfg.labels.is_empty() {
        tracing::warn!(
            "resource_detection: gcp: instance labels need the Compute Engine API, which ferrotel does not call; gcp::labels is ignored"
        );
    }
    let mut out = Vec::new();
    let field = |path: &'static str| {
        let f = get(path);
        async move {
            match f.await {
                Ok(v) => Ok(v),
                Err(HttpError::Status(404, _)) => Ok(String::new()),
                Err(e) => Err(format!("failed getting GCP metadata {path}: {e}")),
            }
        }
    };
    let (id, zone, name, hostname, machine_type) = match async {
        Ok::<_, String>((
            field("instance/id").await?,
            field("instance/zone").await?,
            field("instance/name").await?,
            field("instance/hostname").await?,
            field("instance/machine-type").await?,
        ))
    }
    .await
    {
        Ok(v) => v,
        Err(e) => return Outcome::Failed(e),
    };
    let zone = last_segment(&zone).to_owned();
    put(&mut out, on, "cloud.provider", "gcp");
    put(&mut out, on, "cloud.account.id", &project);
    if on_kubernetes() {
        let cluster = match field("instance/attributes/cluster-name").await {
            Ok(c) => c,
            Err(e) => return Outcome::Failed(e),
        };
        let location = match field("instance/attributes/cluster-location").await {
            Ok(c) => c,
            Err(e) => return Outcome::Failed(e),
        };
        put(&mut out, on, "cloud.platform", "gcp_kubernetes_engine");
        // A zonal cluster's location is a zone (two dashes), a regional one's a region.
        if location.matches('-').count() >= 2 {
            put(&mut out, on, "cloud.region", zone_to_region(&location));
            put(&mut out, on, "cloud.availability_zone", &location);
        } else {
            put(&mut out, on, "cloud.region", &location);
        }
        put(&mut out, on, "k8s.cluster.name", &cluster);
        put(&mut out, on, "host.id", &id);
        put(&mut out, on, "host.name", &name);
    } else {
        put(&mut out, on, "cloud.platform", "gcp_compute_engine");
        put(&mut out, on, "cloud.region", zone_to_region(&zone));
        put(&mut out, on, "cloud.availability_zone", &zone);
        put(&mut out, on, "host.id", &id);
        put(&mut out, on, "host.name", &name);
        put(&mut out, on, "host.type", last_segment(&machine_type));
        put(&mut out, on, "gcp.gce.instance.hostname", &hostname);
        put(&mut out, on, "gcp.gce.instance.name", &name);
        // `created-by`: projects/N/zones/Z/instanceGroupManagers/NAME (or regions/R/...).
        if let Ok(created_by) = field("instance/attributes/created-by").await {
            let parts: Vec<&str> = created_by.split('/').collect();
            if let [_, _, scope, location, "instanceGroupManagers", mig] = parts[..] {
                put(&mut out, on, "gcp.gce.instance_group_manager.name", mig);
                match scope {
                    "zones" => put(
                        &mut out,
                        on,
                        "gcp.gce.instance_group_manager.zone",
                        location,
                    ),
                    "regions" => put(
                        &mut out,
                        on,
                        "gcp.gce.instance_group_manager.region",
                        location,
                    ),
                    _ => {}
                }
            }
        }
    }
    Outcome::Found(out)
}

/// Azure's compute metadata, or why it is absent.
async fn azure_compute(
    endpoints: &Endpoints,
    deadline: Instant,
) -> Result<serde_json::Value, Outcome> {
    let (target, authority) = &endpoints.azure;
    let body = http::get_text(
        target,
        authority,
        "/metadata/instance/compute?api-version=2020-09-01&format=json",
        &[("Metadata", "true")],
        deadline,
    )
    .await
    .map_err(|e| Outcome::Missing(format!("Azure metadata unavailable: {e}")))?;
    serde_json::from_str(&body)
        .map_err(|e| Outcome::Failed(format!("failed parsing Azure compute metadata: {e}")))
}

pub async fn azure(
    endpoints: &Endpoints,
    cfg: &AzureConfig,
    on: &Enabled,
    deadline: Instant,
) -> Outcome {
    let compute = match azure_compute(endpoints, deadline).await {
        Ok(c) => c,
        Err(o) => return o,
    };
    let s = |k: &str| json_str(&compute, k);
    let mut out = Vec::new();
    put(&mut out, on, "cloud.provider", "azure");
    put(&mut out, on, "cloud.platform", "azure_vm");
    put(&mut out, on, "host.name", s("name"));
    put(&mut out, on, "cloud.region", s("location"));
    put(&mut out, on, "host.id", s("vmId"));
    put(&mut out, on, "cloud.account.id", s("subscriptionId"));
    put(&mut out, on, "azure.vm.name", s("name"));
    put(&mut out, on, "azure.vm.size", s("vmSize"));
    put(&mut out, on, "azure.vm.scaleset.name", s("vmScaleSetName"));
    put(
        &mut out,
        on,
        "azure.resourcegroup.name",
        s("resourceGroupName"),
    );
    put(&mut out, on, "cloud.availability_zone", s("zone"));
    if !cfg.tags.is_empty() {
        let res = regexes(&cfg.tags);
        let tags = compute.get("tagsList").and_then(|t| t.as_array());
        for tag in tags.into_iter().flatten() {
            let (name, value) = (json_str(tag, "name"), json_str(tag, "value"));
            if res.iter().any(|r| r.is_match(name)) {
                out.push((
                    format!("azure.tags.{name}"),
                    AttrValue::Str(value.to_owned()),
                ));
            }
        }
    }
    Outcome::Found(out)
}

/// The AKS cluster name from the infrastructure resource group `MC_<group>_<cluster>_<location>`;
/// the whole group name when it cannot be split unambiguously.
pub fn aks_cluster_name(resource_group: &str) -> String {
    let parts: Vec<&str> = resource_group.split('_').collect();
    match parts[..] {
        [mc, _, cluster, _] if mc.eq_ignore_ascii_case("MC") => cluster.to_owned(),
        _ => resource_group.to_owned(),
    }
}

pub async fn aks(
    endpoints: &Endpoints,
    kubernetes: bool,
    on: &Enabled,
    deadline: Instant,
) -> Outcome {
    if !kubernetes {
        return Outcome::Missing(
            "not running on Kubernetes (KUBERNETES_SERVICE_HOST is unset)".into(),
        );
    }
    let compute = match azure_compute(endpoints, deadline).await {
        Ok(c) => c,
        Err(o) => return o,
    };
    let mut out = Vec::new();
    put(&mut out, on, "cloud.provider", "azure");
    put(&mut out, on, "cloud.platform", "azure_aks");
    if on.has("k8s.cluster.name") {
        let name = aks_cluster_name(json_str(&compute, "resourceGroupName"));
        put(&mut out, on, "k8s.cluster.name", &name);
    }
    Outcome::Found(out)
}
