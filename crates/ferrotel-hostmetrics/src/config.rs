//! The `hostmetrics` receiver's config, key for key the Go Collector's: the scraper controller
//! settings, `root_path`, and one block per scraper under `scrapers:` with its `metrics:`
//! enable/disable map, filters and flags.

use std::collections::BTreeMap;
use std::time::Duration;

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, duration};
use regex::Regex;
use serde::{Deserialize, Deserializer};

use crate::emit::MetricDef;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostMetricsConfig {
    /// Time between collections (Go default 1m).
    #[serde(deserialize_with = "duration::deserialize")]
    pub collection_interval: Duration,
    /// Wait before the first collection (Go default 1s).
    #[serde(deserialize_with = "duration::deserialize")]
    pub initial_delay: Duration,
    /// Per-collection limit; 0 means none (accepted for compatibility: scrapes read local files).
    #[serde(deserialize_with = "duration::deserialize")]
    pub timeout: Duration,
    /// Where the host's filesystem is mounted (a container reading its host); "" or "/" for
    /// this system. /proc, /sys, /etc/passwd and mount points are read under it.
    pub root_path: String,
    pub scrapers: Scrapers,
}

impl Default for HostMetricsConfig {
    fn default() -> Self {
        HostMetricsConfig {
            collection_interval: Duration::from_secs(60),
            initial_delay: Duration::from_secs(1),
            timeout: Duration::ZERO,
            root_path: String::new(),
            scrapers: Scrapers::default(),
        }
    }
}

/// `cpu:` with no value enables the scraper with its defaults, as in Go.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Ok(Some(Option::<T>::deserialize(d)?.unwrap_or_default()))
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scrapers {
    #[serde(deserialize_with = "present")]
    pub cpu: Option<CpuConfig>,
    #[serde(deserialize_with = "present")]
    pub disk: Option<DiskConfig>,
    #[serde(deserialize_with = "present")]
    pub filesystem: Option<FilesystemConfig>,
    #[serde(deserialize_with = "present")]
    pub load: Option<LoadConfig>,
    #[serde(deserialize_with = "present")]
    pub memory: Option<MemoryConfig>,
    #[serde(deserialize_with = "present")]
    pub network: Option<NetworkConfig>,
    #[serde(deserialize_with = "present")]
    pub paging: Option<PagingConfig>,
    #[serde(deserialize_with = "present")]
    pub processes: Option<ProcessesConfig>,
    #[serde(deserialize_with = "present")]
    pub process: Option<ProcessConfig>,
    #[serde(deserialize_with = "present")]
    pub system: Option<SystemConfig>,
}

/// `metrics: {system.cpu.utilization: {enabled: true}}`.
pub type MetricsToggles = BTreeMap<String, Toggle>;

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toggle {
    pub enabled: bool,
}

/// The enabled flag of each metric of `defs`, from the defaults and the config's toggles.
pub fn resolve(defs: &[MetricDef], toggles: &MetricsToggles) -> Vec<bool> {
    defs.iter()
        .map(|d| toggles.get(d.name).map_or(d.default_enabled, |t| t.enabled))
        .collect()
}

fn check_toggles(
    at: &str,
    defs: &[MetricDef],
    toggles: &MetricsToggles,
) -> Result<(), ConfigError> {
    for name in toggles.keys() {
        if !defs.iter().any(|d| d.name == name) {
            let known: Vec<_> = defs.iter().map(|d| d.name).collect();
            return Err(ConfigError::new(
                format!("{at}::metrics::{name}"),
                format!("unknown metric; this scraper has {}", known.join(", ")),
            ));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MatchType {
    Strict,
    Regexp,
}

/// Declares a filter block whose list key differs per scraper (`devices`, `interfaces`, ...).
macro_rules! match_config {
    ($name:ident, $field:ident) => {
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            pub $field: Vec<String>,
            pub match_type: Option<MatchType>,
        }

        impl $name {
            pub fn compile(&self, at: &str) -> Result<Option<Filter>, ConfigError> {
                Filter::compile(at, stringify!($field), &self.$field, self.match_type)
            }
        }
    };
}

match_config!(DeviceMatch, devices);
match_config!(InterfaceMatch, interfaces);
match_config!(NameMatch, names);
match_config!(FsTypeMatch, fs_types);
match_config!(MountPointMatch, mount_points);

/// A compiled list: exact names, or regular expressions matched anywhere in the value (Go's
/// filterset `regexp` is unanchored too).
#[derive(Debug, Clone)]
pub enum Filter {
    Strict(Vec<String>),
    Regexp(Vec<Regex>),
}

impl Filter {
    fn compile(
        at: &str,
        field: &str,
        items: &[String],
        match_type: Option<MatchType>,
    ) -> Result<Option<Filter>, ConfigError> {
        if items.is_empty() {
            return Ok(None);
        }
        match match_type {
            None => Err(ConfigError::new(
                format!("{at}::match_type"),
                format!("required when {field} is set: strict or regexp"),
            )),
            Some(MatchType::Strict) => Ok(Some(Filter::Strict(items.to_vec()))),
            Some(MatchType::Regexp) => items
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    Regex::new(p)
                        .map_err(|e| ConfigError::new(format!("{at}::{field}[{i}]"), e.to_string()))
                })
                .collect::<Result<_, _>>()
                .map(|r| Some(Filter::Regexp(r))),
        }
    }

    pub fn matches(&self, s: &str) -> bool {
        match self {
            Filter::Strict(names) => names.iter().any(|n| n == s),
            Filter::Regexp(res) => res.iter().any(|r| r.is_match(s)),
        }
    }
}

/// An include list (when set, only matches pass) and an exclude list (matches are dropped).
#[derive(Debug, Clone, Default)]
pub struct IncludeExclude {
    pub include: Option<Filter>,
    pub exclude: Option<Filter>,
}

impl IncludeExclude {
    pub fn allows(&self, s: &str) -> bool {
        self.include.as_ref().is_none_or(|f| f.matches(s))
            && !self.exclude.as_ref().is_some_and(|f| f.matches(s))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CpuConfig {
    pub metrics: MetricsToggles,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiskConfig {
    pub metrics: MetricsToggles,
    pub include: DeviceMatch,
    pub exclude: DeviceMatch,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesystemConfig {
    pub metrics: MetricsToggles,
    pub include_devices: DeviceMatch,
    pub exclude_devices: DeviceMatch,
    pub include_fs_types: FsTypeMatch,
    pub exclude_fs_types: FsTypeMatch,
    pub include_mount_points: MountPointMatch,
    pub exclude_mount_points: MountPointMatch,
    /// Also report filesystems with no block device (proc, sysfs, tmpfs, ...).
    pub include_virtual_filesystems: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoadConfig {
    pub metrics: MetricsToggles,
    /// Divide the load averages by the logical CPU count.
    pub cpu_average: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    pub metrics: MetricsToggles,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    pub metrics: MetricsToggles,
    pub include: InterfaceMatch,
    pub exclude: InterfaceMatch,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PagingConfig {
    pub metrics: MetricsToggles,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessesConfig {
    pub metrics: MetricsToggles,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SystemConfig {
    pub metrics: MetricsToggles,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessConfig {
    pub metrics: MetricsToggles,
    /// `process.pid: {enabled: false}`.
    pub resource_attributes: MetricsToggles,
    /// Matched against the executable name.
    pub include: NameMatch,
    pub exclude: NameMatch,
    pub mute_process_all_errors: bool,
    pub mute_process_name_error: bool,
    pub mute_process_exe_error: bool,
    pub mute_process_io_error: bool,
    pub mute_process_user_error: bool,
    pub mute_process_cgroup_error: bool,
    /// Processes younger than this are left for a later collection.
    #[serde(deserialize_with = "duration::deserialize")]
    pub scrape_process_delay: Duration,
}

impl ComponentConfig for HostMetricsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.collection_interval.is_zero() {
            return Err(ConfigError::new("collection_interval", "must be positive"));
        }
        if !self.root_path.is_empty() && self.root_path != "/" {
            std::fs::metadata(&self.root_path)
                .map_err(|e| ConfigError::new("root_path", format!("{}: {e}", self.root_path)))?;
        }
        let s = &self.scrapers;
        let any = s.cpu.is_some()
            || s.disk.is_some()
            || s.filesystem.is_some()
            || s.load.is_some()
            || s.memory.is_some()
            || s.network.is_some()
            || s.paging.is_some()
            || s.processes.is_some()
            || s.process.is_some()
            || s.system.is_some();
        if !any {
            return Err(ConfigError::new(
                "scrapers",
                "must specify at least one scraper (cpu, disk, filesystem, load, memory, network, paging, processes, process, system)",
            ));
        }
        // Compiling checks toggles, match types and regular expressions.
        crate::scrapers::build_all(self).map(|_| ())
    }
}

/// Checks a scraper's `metrics:` keys and resolves them.
pub fn metrics_for(
    at: &str,
    defs: &'static [MetricDef],
    toggles: &MetricsToggles,
) -> Result<Vec<bool>, ConfigError> {
    check_toggles(at, defs, toggles)?;
    Ok(resolve(defs, toggles))
}
