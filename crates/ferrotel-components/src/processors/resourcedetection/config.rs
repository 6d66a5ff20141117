//! `processors::resource_detection` configuration: the Go Collector's keys (`detectors`,
//! `override`, `timeout`, `fail_on_missing_metadata`, one section per detector with its
//! `resource_attributes` switches) and defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, duration};
use serde::Deserialize;

/// The detectors ferrotel implements, in the order the error messages list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Detector {
    Env,
    System,
    Docker,
    Ec2,
    Gcp,
    Azure,
    Eks,
    Aks,
}

impl Detector {
    pub const ALL: [Detector; 8] = [
        Detector::Env,
        Detector::System,
        Detector::Docker,
        Detector::Ec2,
        Detector::Gcp,
        Detector::Azure,
        Detector::Eks,
        Detector::Aks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Detector::Env => "env",
            Detector::System => "system",
            Detector::Docker => "docker",
            Detector::Ec2 => "ec2",
            Detector::Gcp => "gcp",
            Detector::Azure => "azure",
            Detector::Eks => "eks",
            Detector::Aks => "aks",
        }
    }

    pub fn parse(name: &str) -> Option<Detector> {
        Detector::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The attributes this detector can set and whether each is on by default (Go's
    /// `metadata.yaml` of the detector).
    pub fn attributes(self) -> &'static [(&'static str, bool)] {
        match self {
            Detector::Env => &[],
            Detector::System => SYSTEM_ATTRIBUTES,
            Detector::Docker => &[("host.name", true), ("os.type", true)],
            Detector::Ec2 => EC2_ATTRIBUTES,
            Detector::Gcp => GCP_ATTRIBUTES,
            Detector::Azure => AZURE_ATTRIBUTES,
            Detector::Eks => EKS_ATTRIBUTES,
            Detector::Aks => &[
                ("cloud.provider", true),
                ("cloud.platform", true),
                ("k8s.cluster.name", false),
            ],
        }
    }
}

/// Detectors the Go Collector has and ferrotel does not (yet): named apart from typos.
const GO_ONLY_DETECTORS: &[&str] = &[
    "ecs",
    "elastic_beanstalk",
    "lambda",
    "azurecontainerapps",
    "heroku",
    "openshift",
    "dynatrace",
    "consul",
    "k8s_api",
    "k8snode",
    "kubeadm",
    "hetzner",
    "akamai",
    "scaleway",
    "vultr",
    "oraclecloud",
    "digitalocean",
    "nova",
    "upcloud",
    "alibaba_ecs",
    "tencent_cvm",
    "ibmcloud_vpc",
    "ibmcloud_classic",
];

const SYSTEM_ATTRIBUTES: &[(&str, bool)] = &[
    ("host.name", true),
    ("os.type", true),
    ("host.id", false),
    ("host.arch", false),
    ("host.ip", false),
    ("host.mac", false),
    ("host.interface", false),
    ("host.cpu.vendor.id", false),
    ("host.cpu.family", false),
    ("host.cpu.model.id", false),
    ("host.cpu.model.name", false),
    ("host.cpu.stepping", false),
    ("host.cpu.cache.l2.size", false),
    ("os.description", false),
    ("os.name", false),
    ("os.version", false),
    ("os.build.id", false),
];

const EC2_ATTRIBUTES: &[(&str, bool)] = &[
    ("cloud.provider", true),
    ("cloud.platform", true),
    ("cloud.account.id", true),
    ("cloud.region", true),
    ("cloud.availability_zone", true),
    ("host.id", true),
    ("host.image.id", true),
    ("host.name", true),
    ("host.type", true),
];

const GCP_ATTRIBUTES: &[(&str, bool)] = &[
    ("cloud.provider", true),
    ("cloud.platform", true),
    ("cloud.account.id", true),
    ("cloud.region", true),
    ("cloud.availability_zone", true),
    ("host.id", true),
    ("host.name", true),
    ("host.type", true),
    ("k8s.cluster.name", true),
    ("faas.instance", true),
    ("faas.name", true),
    ("faas.version", true),
    ("gcp.cloud_run.job.execution", true),
    ("gcp.cloud_run.job.task_index", true),
    ("gcp.gce.instance.hostname", false),
    ("gcp.gce.instance.name", false),
    ("gcp.gce.instance_group_manager.name", true),
    ("gcp.gce.instance_group_manager.region", true),
    ("gcp.gce.instance_group_manager.zone", true),
];

const AZURE_ATTRIBUTES: &[(&str, bool)] = &[
    ("cloud.provider", true),
    ("cloud.platform", true),
    ("cloud.region", true),
    ("cloud.account.id", true),
    ("cloud.availability_zone", false),
    ("host.id", true),
    ("host.name", true),
    ("azure.vm.name", true),
    ("azure.vm.size", true),
    ("azure.vm.scaleset.name", true),
    ("azure.resourcegroup.name", true),
];

const EKS_ATTRIBUTES: &[(&str, bool)] = &[
    ("cloud.provider", true),
    ("cloud.platform", true),
    ("cloud.account.id", false),
    ("cloud.region", false),
    ("cloud.availability_zone", false),
    ("host.id", false),
    ("host.image.id", false),
    ("host.name", false),
    ("host.type", false),
    ("k8s.cluster.name", false),
];

/// One `resource_attributes` entry: `host.id: {enabled: true}`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AttributeSwitch {
    pub enabled: bool,
}

/// `resource_attributes` of a detector section: overrides of the default switches.
pub type ResourceAttributes = BTreeMap<String, AttributeSwitch>;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SystemConfig {
    /// Where `host.name` comes from, tried in order; empty means `[dns, os]`.
    pub hostname_sources: Vec<String>,
    pub resource_attributes: ResourceAttributes,
}

/// The `hostname_sources` Go accepts.
pub const HOSTNAME_SOURCES: [&str; 4] = ["dns", "os", "cname", "lookup"];

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AttributesOnly {
    pub resource_attributes: ResourceAttributes,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Ec2Config {
    /// Regexes on tag keys to add as `ec2.tag.<key>` (read from IMDS; see `tags_from_imds`).
    pub tags: Vec<String>,
    /// Go reads tags with the EC2 `DescribeTags` API unless this is true; ferrotel reads
    /// them from IMDS either way (no AWS SDK).
    pub tags_from_imds: bool,
    /// AWS client retry settings; ferrotel's IMDS client retries within `timeout` instead.
    pub max_attempts: u32,
    #[serde(deserialize_with = "duration::deserialize")]
    pub max_backoff: Duration,
    /// Deprecated in Go in favour of the top-level `fail_on_missing_metadata`.
    pub fail_on_missing_metadata: bool,
    pub resource_attributes: ResourceAttributes,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GcpConfig {
    /// Regexes on GCE instance label keys to add as `gcp.gce.instance.labels.<key>`.
    pub labels: Vec<String>,
    pub resource_attributes: ResourceAttributes,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AzureConfig {
    /// Regexes on VM tag names to add as `azure.tags.<name>`.
    pub tags: Vec<String>,
    pub resource_attributes: ResourceAttributes,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EksConfig {
    /// The variable holding the node name (Go uses it with the Kubernetes API).
    pub node_from_env_var: String,
    pub resource_attributes: ResourceAttributes,
}

/// The `env` section: Go's env detector has no settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EnvConfig {}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceDetectionConfig {
    /// Detector names, run concurrently; merged in this order, the first to set a key wins.
    pub detectors: Vec<String>,
    /// Detected attributes replace those already on the data (default true).
    #[serde(rename = "override")]
    pub override_: bool,
    /// Bound on the whole detection at start (default 5s); also each metadata request's.
    #[serde(deserialize_with = "duration::deserialize")]
    pub timeout: Duration,
    /// Cloud detectors fail (and so the start) instead of being skipped when their metadata
    /// service does not answer.
    pub fail_on_missing_metadata: bool,
    pub env: EnvConfig,
    pub system: SystemConfig,
    pub docker: AttributesOnly,
    pub ec2: Ec2Config,
    pub gcp: GcpConfig,
    pub azure: AzureConfig,
    pub eks: EksConfig,
    pub aks: AttributesOnly,
}

impl Default for ResourceDetectionConfig {
    fn default() -> Self {
        ResourceDetectionConfig {
            detectors: Vec::new(),
            override_: true,
            timeout: Duration::from_secs(5),
            fail_on_missing_metadata: false,
            env: EnvConfig::default(),
            system: SystemConfig::default(),
            docker: AttributesOnly::default(),
            ec2: Ec2Config::default(),
            gcp: GcpConfig::default(),
            azure: AzureConfig::default(),
            eks: EksConfig::default(),
            aks: AttributesOnly::default(),
        }
    }
}

fn known_list() -> String {
    Detector::ALL.map(Detector::name).join(", ")
}

impl ResourceDetectionConfig {
    /// The configured detectors, parsed (after `validate`, never an error).
    pub fn parsed_detectors(&self) -> Result<Vec<Detector>, ConfigError> {
        self.detectors
            .iter()
            .enumerate()
            .map(|(i, name)| {
                Detector::parse(name).ok_or_else(|| {
                    let path = format!("detectors[{i}]");
                    if GO_ONLY_DETECTORS.contains(&name.as_str()) {
                        ConfigError::field(
                            &path,
                            format!(
                                "detector {name:?} is not implemented in ferrotel (implemented: {})",
                                known_list()
                            ),
                        )
                    } else {
                        ConfigError::field(
                            &path,
                            format!("unknown detector {name:?} (known: {})", known_list()),
                        )
                    }
                })
            })
            .collect()
    }

    /// The `resource_attributes` overrides of `detector`.
    pub fn switches(&self, detector: Detector) -> &ResourceAttributes {
        static NONE: ResourceAttributes = BTreeMap::new();
        match detector {
            Detector::Env => &NONE,
            Detector::System => &self.system.resource_attributes,
            Detector::Docker => &self.docker.resource_attributes,
            Detector::Ec2 => &self.ec2.resource_attributes,
            Detector::Gcp => &self.gcp.resource_attributes,
            Detector::Azure => &self.azure.resource_attributes,
            Detector::Eks => &self.eks.resource_attributes,
            Detector::Aks => &self.aks.resource_attributes,
        }
    }

    /// The attributes of `detector` switched on: its defaults with the overrides applied.
    pub fn enabled(&self, detector: Detector) -> Enabled {
        let switches = self.switches(detector);
        Enabled(
            detector
                .attributes()
                .iter()
                .filter(|(name, default)| switches.get(*name).map_or(*default, |s| s.enabled))
                .map(|(name, _)| *name)
                .collect(),
        )
    }

    /// The cloud detectors error out on a missing metadata service (top-level or ec2's
    /// deprecated per-detector flag).
    pub fn fail_on_missing(&self, detector: Detector) -> bool {
        self.fail_on_missing_metadata
            || (detector == Detector::Ec2 && self.ec2.fail_on_missing_metadata)
    }
}

/// The set of attributes a detector sets.
#[derive(Debug, Clone, Default)]
pub struct Enabled(pub Vec<&'static str>);

impl Enabled {
    pub fn has(&self, name: &str) -> bool {
        self.0.contains(&name)
    }
}

fn check_regexes(path: &str, list: &[String]) -> Result<(), ConfigError> {
    for (i, re) in list.iter().enumerate() {
        regex::Regex::new(re).map_err(|e| {
            ConfigError::field(
                &format!("{path}[{i}]"),
                format!("invalid regex {re:?}: {e}"),
            )
        })?;
    }
    Ok(())
}

impl ComponentConfig for ResourceDetectionConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let detectors = self.parsed_detectors()?;
        // Go refuses this too (with retries on and no `max_elapsed_time`): nothing would bound
        // a hung detector, and the start would wait for it.
        if self.timeout.is_zero() {
            return Err(ConfigError::field(
                "timeout",
                "must be greater than 0: it bounds detection at start",
            ));
        }
        for (i, d) in detectors.iter().enumerate() {
            if detectors[..i].contains(d) {
                return Err(ConfigError::field(
                    &format!("detectors[{i}]"),
                    format!("detector {:?} is listed twice", d.name()),
                ));
            }
        }
        for (i, s) in self.system.hostname_sources.iter().enumerate() {
            if !HOSTNAME_SOURCES.contains(&s.as_str()) {
                return Err(ConfigError::field(
                    &format!("system::hostname_sources[{i}]"),
                    format!(
                        "invalid hostname source {s:?} (valid: {})",
                        HOSTNAME_SOURCES.join(", ")
                    ),
                ));
            }
        }
        for d in Detector::ALL {
            let known = d.attributes();
            for name in self.switches(d).keys() {
                if !known.iter().any(|(k, _)| k == name) {
                    let list: Vec<&str> = known.iter().map(|(k, _)| *k).collect();
                    return Err(ConfigError::field(
                        &format!("{}::resource_attributes::{name}", d.name()),
                        format!(
                            "unknown resource attribute of the {} detector (known: {})",
                            d.name(),
                            list.join(", ")
                        ),
                    ));
                }
            }
        }
        check_regexes("ec2::tags", &self.ec2.tags)?;
        check_regexes("gcp::labels", &self.gcp.labels)?;
        check_regexes("azure::tags", &self.azure.tags)?;
        Ok(())
    }
}
