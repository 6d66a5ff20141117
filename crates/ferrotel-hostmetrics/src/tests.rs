//! The receiver's tests: configs (testdata/valid, testdata/invalid), exact values from the
//! fake host under testdata/root for every scraper that reads files, and this machine's
//! /proc compared with what the test reads itself.

use std::path::{Path, PathBuf};

use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::common::v1::any_value;
use ferrotel_pdata::proto::metrics::v1::{Metric, NumberDataPoint, metric, number_data_point};
use ferrotel_runtime::config::ConfigError;

use crate::{Collector, HostMetricsConfig};

fn load(text: &str) -> Result<HostMetricsConfig, ConfigError> {
    ferrotel_runtime::config::testdata::load(text)
}

fn testdata(kind: &str) -> Vec<(String, String)> {
    ferrotel_runtime::config::testdata::files(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(kind),
    )
}

fn fake_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/root")
}

/// One collection of `scrapers` (YAML) under `root`.
fn collect_at(root: &Path, scrapers: &str) -> (ExportMetricsServiceRequest, Vec<String>) {
    let yaml = format!("root_path: '{}'\nscrapers:\n{scrapers}", root.display());
    let cfg = load(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    Collector::new(&cfg).unwrap().collect()
}

fn metrics(req: &ExportMetricsServiceRequest) -> impl Iterator<Item = &Metric> {
    req.resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
}

fn metric<'a>(req: &'a ExportMetricsServiceRequest, name: &str) -> Option<&'a Metric> {
    metrics(req).find(|m| m.name == name)
}

fn data_points(m: &Metric) -> &[NumberDataPoint] {
    match &m.data {
        Some(metric::Data::Sum(s)) => &s.data_points,
        Some(metric::Data::Gauge(g)) => &g.data_points,
        _ => &[],
    }
}

fn attr<'a>(p: &'a NumberDataPoint, key: &str) -> Option<&'a str> {
    p.attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

fn num(p: &NumberDataPoint) -> f64 {
    match p.value {
        Some(number_data_point::Value::AsInt(v)) => v as f64,
        Some(number_data_point::Value::AsDouble(v)) => v,
        None => f64::NAN,
    }
}

/// The value of the point of `name` whose attributes include `attrs` (exactly one).
fn value(req: &ExportMetricsServiceRequest, name: &str, attrs: &[(&str, &str)]) -> f64 {
    let m = metric(req, name).unwrap_or_else(|| panic!("no metric {name}"));
    let found: Vec<_> = data_points(m)
        .iter()
        .filter(|p| attrs.iter().all(|(k, v)| attr(p, k) == Some(v)))
        .collect();
    assert_eq!(found.len(), 1, "{name} {attrs:?}: {found:?}");
    num(found[0])
}

fn int_value(req: &ExportMetricsServiceRequest, name: &str, attrs: &[(&str, &str)]) -> i64 {
    let m = metric(req, name).unwrap_or_else(|| panic!("no metric {name}"));
    let p = data_points(m)
        .iter()
        .find(|p| attrs.iter().all(|(k, v)| attr(p, k) == Some(v)))
        .unwrap_or_else(|| panic!("{name} {attrs:?}"));
    match p.value {
        Some(number_data_point::Value::AsInt(v)) => v,
        ref other => panic!("{name}: not an int: {other:?}"),
    }
}

const BOOT_NS: u64 = 1_700_000_000 * 1_000_000_000;

#[test]
fn valid_configs_load() {
    for (path, text) in testdata("valid") {
        load(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    let cfg = load(&testdata("valid")[0].1).unwrap();
    assert_eq!(cfg.collection_interval.as_secs(), 10);
    assert!(
        cfg.scrapers.paging.is_some(),
        "`paging:` with no value enables it"
    );
    assert!(cfg.scrapers.load.as_ref().unwrap().cpu_average);
    let d = HostMetricsConfig::default();
    assert_eq!(
        (d.collection_interval.as_secs(), d.initial_delay.as_secs()),
        (60, 1)
    );
}

#[test]
fn invalid_configs_say_what_and_where() {
    for (path, text) in testdata("invalid") {
        let want = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# error: "))
            .unwrap_or_else(|| panic!("{path}: first line must be `# error: ...`"));
        let err = load(&text).expect_err(&path).to_string();
        assert!(err.contains(want), "{path}:\n got: {err}\nwant: {want}");
    }
}

#[test]
fn fake_host_cpu() {
    let (req, errors) = collect_at(
        &fake_root(),
        "  cpu:\n    metrics: {system.cpu.logical.count: {enabled: true}, system.cpu.physical.count: {enabled: true}, system.cpu.frequency: {enabled: true}}",
    );
    assert!(errors.is_empty(), "{errors:?}");
    let t = |cpu, state| value(&req, "system.cpu.time", &[("cpu", cpu), ("state", state)]);
    // Ticks / USER_HZ (100).
    assert_eq!(t("cpu0", "user"), 2.0);
    assert_eq!(t("cpu0", "nice"), 0.1);
    assert_eq!(t("cpu0", "system"), 0.6);
    assert_eq!(t("cpu0", "idle"), 25.0);
    assert_eq!(t("cpu0", "wait"), 0.3);
    assert_eq!(t("cpu0", "interrupt"), 0.06);
    assert_eq!(t("cpu0", "softirq"), 0.03);
    assert_eq!(t("cpu0", "steal"), 0.01);
    assert_eq!(t("cpu1", "user"), 1.0);
    let m = metric(&req, "system.cpu.time").unwrap();
    assert_eq!((m.unit.as_str(), data_points(m).len()), ("s", 16));
    assert!(
        data_points(m)
            .iter()
            .all(|p| p.start_time_unix_nano == BOOT_NS)
    );
    assert!(
        matches!(&m.data, Some(metric::Data::Sum(s)) if s.is_monotonic && s.aggregation_temporality == 2)
    );
    assert_eq!(int_value(&req, "system.cpu.logical.count", &[]), 2);
    // Two hyperthreads of one core.
    assert_eq!(int_value(&req, "system.cpu.physical.count", &[]), 1);
    // cpu0 from cpufreq's maximum (kHz), cpu1 from /proc/cpuinfo's MHz.
    assert_eq!(value(&req, "system.cpu.frequency", &[("cpu", "0")]), 3e9);
    assert_eq!(value(&req, "system.cpu.frequency", &[("cpu", "1")]), 2.4e9);
    assert!(
        metric(&req, "system.cpu.utilization").is_none(),
        "disabled by default"
    );
}

#[test]
fn fake_host_memory() {
    let (req, errors) = collect_at(
        &fake_root(),
        "  memory:\n    metrics: {system.memory.utilization: {enabled: true}, system.memory.limit: {enabled: true}, system.linux.memory.available: {enabled: true}}",
    );
    assert!(errors.is_empty(), "{errors:?}");
    let u = |s| int_value(&req, "system.memory.usage", &[("state", s)]);
    // cached = Cached + SReclaimable; used = total - free - buffers - cached.
    assert_eq!(u("cached"), 3_300_000 * 1024);
    assert_eq!(
        u("used"),
        (8_000_000 - 1_000_000 - 200_000 - 3_300_000) * 1024
    );
    assert_eq!(u("free"), 1_000_000 * 1024);
    assert_eq!(u("buffered"), 200_000 * 1024);
    assert_eq!(u("slab_reclaimable"), 300_000 * 1024);
    assert_eq!(u("slab_unreclaimable"), 100_000 * 1024);
    assert_eq!(
        data_points(metric(&req, "system.memory.usage").unwrap()).len(),
        6
    );
    assert_eq!(
        value(&req, "system.memory.utilization", &[("state", "used")]),
        3_500_000.0 / 8_000_000.0
    );
    assert_eq!(
        int_value(&req, "system.memory.limit", &[]),
        8_000_000 * 1024
    );
    assert_eq!(
        int_value(&req, "system.linux.memory.available", &[]),
        5_000_000 * 1024
    );
}

#[test]
fn fake_host_load_with_and_without_cpu_average() {
    let (req, _) = collect_at(&fake_root(), "  load:");
    assert_eq!(value(&req, "system.cpu.load_average.1m", &[]), 0.5);
    assert_eq!(value(&req, "system.cpu.load_average.5m", &[]), 1.25);
    assert_eq!(value(&req, "system.cpu.load_average.15m", &[]), 2.0);
    let (req, _) = collect_at(&fake_root(), "  load: {cpu_average: true}");
    assert_eq!(value(&req, "system.cpu.load_average.5m", &[]), 0.625);
    assert_eq!(
        metric(&req, "system.cpu.load_average.1m").unwrap().unit,
        "{thread}"
    );
}

#[test]
fn fake_host_disk_and_its_filters() {
    let (req, errors) = collect_at(&fake_root(), "  disk:");
    assert!(errors.is_empty(), "{errors:?}");
    let r = [("device", "sda"), ("direction", "read")];
    let w = [("device", "sda"), ("direction", "write")];
    assert_eq!(int_value(&req, "system.disk.io", &r), 20_000 * 512);
    assert_eq!(int_value(&req, "system.disk.io", &w), 40_000 * 512);
    assert_eq!(int_value(&req, "system.disk.operations", &r), 1000);
    assert_eq!(int_value(&req, "system.disk.merged", &w), 20);
    assert_eq!(value(&req, "system.disk.operation_time", &w), 1.5);
    assert_eq!(
        value(&req, "system.disk.io_time", &[("device", "sda")]),
        1.8
    );
    assert_eq!(
        value(&req, "system.disk.weighted_io_time", &[("device", "sda")]),
        2.1
    );
    assert_eq!(
        int_value(&req, "system.disk.pending_operations", &[("device", "sda")]),
        3
    );
    let devices = |req: &ExportMetricsServiceRequest| {
        let mut d: Vec<String> = data_points(metric(req, "system.disk.io").unwrap())
            .iter()
            .map(|p| attr(p, "device").unwrap().to_owned())
            .collect();
        d.dedup();
        d
    };
    // sda1 is all zeros and `short` is malformed: both left out, as gopsutil does.
    assert_eq!(devices(&req), ["sda", "loop0"]);
    let (req, _) = collect_at(
        &fake_root(),
        "  disk: {exclude: {devices: ['^loop'], match_type: regexp}}",
    );
    assert_eq!(devices(&req), ["sda"]);
    let (req, _) = collect_at(
        &fake_root(),
        "  disk: {include: {devices: [loop0], match_type: strict}}",
    );
    assert_eq!(devices(&req), ["loop0"]);
}

#[test]
fn fake_host_network() {
    let (req, errors) = collect_at(
        &fake_root(),
        "  network:\n    exclude: {interfaces: [lo], match_type: strict}\n    metrics: {system.network.conntrack.count: {enabled: true}, system.network.conntrack.max: {enabled: true}}",
    );
    assert!(errors.is_empty(), "{errors:?}");
    let rx = [("device", "eth0"), ("direction", "receive")];
    let tx = [("device", "eth0"), ("direction", "transmit")];
    assert_eq!(int_value(&req, "system.network.io", &rx), 123_456);
    assert_eq!(int_value(&req, "system.network.io", &tx), 654_321);
    assert_eq!(int_value(&req, "system.network.packets", &rx), 789);
    assert_eq!(int_value(&req, "system.network.packets", &tx), 987);
    assert_eq!(int_value(&req, "system.network.errors", &rx), 1);
    assert_eq!(int_value(&req, "system.network.errors", &tx), 3);
    assert_eq!(int_value(&req, "system.network.dropped", &rx), 2);
    assert_eq!(int_value(&req, "system.network.dropped", &tx), 4);
    assert!(
        data_points(metric(&req, "system.network.io").unwrap())
            .iter()
            .all(|p| attr(p, "device") == Some("eth0"))
    );
    let c = |s| {
        int_value(
            &req,
            "system.network.connections",
            &[("protocol", "tcp"), ("state", s)],
        )
    };
    // tcp and tcp6 together; every Go state present, zero when absent.
    assert_eq!(c("LISTEN"), 2);
    assert_eq!(c("ESTABLISHED"), 1);
    assert_eq!(c("TIME_WAIT"), 1);
    assert_eq!(c("CLOSE_WAIT"), 0);
    assert_eq!(c("FIN_WAIT1"), 1, "gopsutil's name for state 04");
    assert_eq!(
        data_points(metric(&req, "system.network.connections").unwrap()).len(),
        13
    );
    assert_eq!(int_value(&req, "system.network.conntrack.count", &[]), 7);
    assert_eq!(int_value(&req, "system.network.conntrack.max", &[]), 65536);
}

#[test]
fn fake_host_paging() {
    let (req, errors) = collect_at(
        &fake_root(),
        "  paging:\n    metrics: {system.paging.utilization: {enabled: true}}",
    );
    assert!(errors.is_empty(), "{errors:?}");
    let u = |d, s| int_value(&req, "system.paging.usage", &[("device", d), ("state", s)]);
    assert_eq!(u("/dev/sda2", "used"), 1024 * 1024);
    assert_eq!(u("/dev/sda2", "free"), (2_097_148 - 1024) * 1024);
    assert_eq!(u("/swap file", "free"), 1000 * 1024);
    assert_eq!(
        value(
            &req,
            "system.paging.utilization",
            &[("device", "/swap file"), ("state", "used")]
        ),
        0.0
    );
    let op = |d, t| {
        int_value(
            &req,
            "system.paging.operations",
            &[("direction", d), ("type", t)],
        )
    };
    // gopsutil's 4 KiB factor on /proc/vmstat counters, as the Go receiver reports them.
    assert_eq!(op("page_in", "major"), 10 * 4096);
    assert_eq!(op("page_out", "major"), 20 * 4096);
    assert_eq!(op("page_in", "minor"), 300 * 4096);
    assert_eq!(op("page_out", "minor"), 400 * 4096);
    assert_eq!(
        int_value(&req, "system.paging.faults", &[("type", "major")]),
        50 * 4096
    );
    assert_eq!(
        int_value(&req, "system.paging.faults", &[("type", "minor")]),
        (5000 - 50) * 4096
    );
}

#[test]
fn fake_host_processes() {
    let (req, errors) = collect_at(&fake_root(), "  processes:");
    assert!(errors.is_empty(), "{errors:?}");
    let c = |s| int_value(&req, "system.processes.count", &[("status", s)]);
    assert_eq!(c("sleeping"), 2);
    assert_eq!(c("zombies"), 1);
    // running and blocked from /proc/stat, not from the walk (which saw one running).
    assert_eq!(c("running"), 3);
    assert_eq!(c("blocked"), 1);
    assert_eq!(int_value(&req, "system.processes.created", &[]), 5000);
}

#[test]
fn fake_host_system_uptime() {
    let (req, _) = collect_at(&fake_root(), "  system:");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let up = value(&req, "system.uptime", &[]);
    assert!((up - (now - 1_700_000_000) as f64).abs() <= 1.0, "{up}");
}

/// (resource attributes, metrics) of the process with `pid`.
fn process(
    req: &ExportMetricsServiceRequest,
    pid: i64,
) -> Option<(&ferrotel_pdata::proto::resource::v1::Resource, &[Metric])> {
    req.resource_metrics.iter().find_map(|r| {
        let res = r.resource.as_ref()?;
        let has = res.attributes.iter().any(|kv| {
            kv.key == "process.pid"
                && matches!(kv.value.as_ref().and_then(|v| v.value.as_ref()), Some(any_value::Value::IntValue(p)) if *p == pid)
        });
        has.then(|| (res, r.scope_metrics[0].metrics.as_slice()))
    })
}

fn res_attr(res: &ferrotel_pdata::proto::resource::v1::Resource, key: &str) -> Option<String> {
    res.attributes.iter().find(|kv| kv.key == key).map(|kv| {
        match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => s.clone(),
            Some(any_value::Value::IntValue(i)) => i.to_string(),
            other => format!("{other:?}"),
        }
    })
}

#[test]
fn fake_host_process_resources_and_values() {
    let (req, errors) = collect_at(
        &fake_root(),
        "  process:\n    resource_attributes: {process.cgroup: {enabled: true}}\n    metrics: {process.threads: {enabled: true}, process.paging.faults: {enabled: true}, process.context_switches: {enabled: true}, process.open_file_descriptors: {enabled: true}, process.disk.operations: {enabled: true}, process.signals_pending: {enabled: true}}",
    );
    // Kernel thread 2 and zombie 43 have no executable: skipped, with errors (not muted).
    assert_eq!(
        req.resource_metrics.len(),
        2,
        "{:?}",
        req.resource_metrics
            .iter()
            .map(|r| &r.resource)
            .collect::<Vec<_>>()
    );
    assert!(errors.iter().any(|e| e.contains("pid 2")), "{errors:?}");
    let (res, ms) = process(&req, 1).unwrap();
    assert_eq!(res_attr(res, "process.executable.name").unwrap(), "systemd");
    assert_eq!(
        res_attr(res, "process.executable.path").unwrap(),
        "/usr/lib/systemd/systemd"
    );
    assert_eq!(res_attr(res, "process.command").unwrap(), "/sbin/init");
    assert_eq!(
        res_attr(res, "process.command_line").unwrap(),
        "/sbin/init splash"
    );
    assert_eq!(res_attr(res, "process.owner").unwrap(), "root");
    assert_eq!(res_attr(res, "process.parent_pid").unwrap(), "0");
    assert_eq!(res_attr(res, "process.cgroup").unwrap(), "0::/init.scope");
    let one = ExportMetricsServiceRequest {
        resource_metrics: vec![crate::emit::resource_metrics(
            "process",
            vec![],
            ms.to_vec(),
        )],
    };
    assert_eq!(value(&one, "process.cpu.time", &[("state", "user")]), 1.5);
    assert_eq!(value(&one, "process.cpu.time", &[("state", "system")]), 0.5);
    assert_eq!(value(&one, "process.cpu.time", &[("state", "wait")]), 0.07);
    let page = crate::procfs::page_size() as i64;
    assert_eq!(int_value(&one, "process.memory.usage", &[]), 3000 * page);
    assert_eq!(int_value(&one, "process.memory.virtual", &[]), 42000 * page);
    assert_eq!(
        int_value(&one, "process.disk.io", &[("direction", "read")]),
        4096
    );
    assert_eq!(
        int_value(&one, "process.disk.io", &[("direction", "write")]),
        8192
    );
    assert_eq!(
        int_value(&one, "process.disk.operations", &[("direction", "write")]),
        22
    );
    assert_eq!(
        int_value(&one, "process.paging.faults", &[("type", "major")]),
        10
    );
    assert_eq!(
        int_value(&one, "process.paging.faults", &[("type", "minor")]),
        100
    );
    assert_eq!(
        int_value(&one, "process.context_switches", &[("type", "voluntary")]),
        500
    );
    assert_eq!(
        int_value(&one, "process.context_switches", &[("type", "involuntary")]),
        60
    );
    assert_eq!(int_value(&one, "process.threads", &[]), 1);
    assert_eq!(int_value(&one, "process.open_file_descriptors", &[]), 3);
    assert_eq!(int_value(&one, "process.signals_pending", &[]), 3);
    // Start time: boot time + starttime ticks (12 / 100 s).
    let p = &data_points(metric(&one, "process.cpu.time").unwrap())[0];
    assert_eq!(p.start_time_unix_nano, BOOT_NS + 120_000_000);

    // The kernel cut the name at 15 bytes; argv[0] restores it.
    let (res, _) = process(&req, 42).unwrap();
    assert_eq!(
        res_attr(res, "process.executable.name").unwrap(),
        "very-long-process-name"
    );
    assert_eq!(res_attr(res, "process.owner").unwrap(), "alice");
    assert_eq!(
        res_attr(res, "process.command_line").unwrap(),
        "/opt/app/very-long-process-name --flag value with space"
    );
    assert_eq!(res_attr(res, "process.parent_pid").unwrap(), "1");
}

#[test]
fn fake_host_process_filters_and_muting() {
    let (req, errors) = collect_at(
        &fake_root(),
        "  process:\n    include: {names: ['^very'], match_type: regexp}\n    mute_process_exe_error: true\n    resource_attributes: {process.command_line: {enabled: false}}",
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(req.resource_metrics.len(), 1);
    let (res, _) = process(&req, 42).unwrap();
    assert!(res_attr(res, "process.command_line").is_none());
    let (req, _) = collect_at(
        &fake_root(),
        "  process:\n    exclude: {names: [systemd], match_type: strict}\n    mute_process_all_errors: true",
    );
    assert!(process(&req, 1).is_none() && process(&req, 42).is_some());
}

#[test]
fn fake_host_filesystem() {
    let root = fake_root();
    let (req, errors) = collect_at(&root, "  filesystem:");
    // /missing does not exist under the root: a partial error, the rest reported.
    assert!(
        errors.len() == 1 && errors[0].contains("missing"),
        "{errors:?}"
    );
    let m = metric(&req, "system.filesystem.usage").unwrap();
    let mut mounts: Vec<&str> = data_points(m)
        .iter()
        .map(|p| attr(p, "mountpoint").unwrap())
        .collect();
    mounts.dedup();
    // proc and tmpfs are virtual (nodev): left out.
    assert_eq!(mounts, ["/", "/data", "/with space"]);
    let data = [
        ("device", "/dev/sdb1"),
        ("mountpoint", "/data"),
        ("type", "xfs"),
        ("mode", "ro"),
    ];
    let at = |state| {
        let mut a = data.to_vec();
        a.push(("state", state));
        int_value(&req, "system.filesystem.usage", &a) as u64
    };
    // Exact figures from statvfs of the same directory, read by the test.
    let want = crate::scrapers::statvfs_for_tests(&root.join("data")).unwrap();
    // Other processes write to this disk meanwhile: free and used within 64 MiB.
    let free = at("free");
    assert!(
        free.abs_diff(want.free) < 64 << 20,
        "{free} vs {}",
        want.free
    );
    let used = at("used");
    assert!(
        used.abs_diff(want.used) < 64 << 20,
        "{used} vs {}",
        want.used
    );
    assert_eq!(
        at("reserved") + at("used") + at("free"),
        want.total,
        "used + free + reserved = total"
    );

    let (req, _) = collect_at(
        &root,
        "  filesystem: {include_virtual_filesystems: true, exclude_mount_points: {mount_points: [/missing], match_type: strict}, include_fs_types: {fs_types: [tmpfs, xfs], match_type: strict}}",
    );
    let mut mounts: Vec<&str> = data_points(metric(&req, "system.filesystem.usage").unwrap())
        .iter()
        .map(|p| attr(p, "mountpoint").unwrap())
        .collect();
    mounts.dedup();
    // tmpfs /run passes the filters but does not exist under the fake root (an error).
    assert_eq!(mounts, ["/data"]);
}

// ---- This machine's /proc, compared with what the test reads itself. ----

fn real(scrapers: &str) -> (ExportMetricsServiceRequest, Vec<String>) {
    collect_at(Path::new("/"), scrapers)
}

#[test]
fn real_memory_total_matches_meminfo() {
    let (req, errors) = real("  memory:\n    metrics: {system.memory.limit: {enabled: true}}");
    assert!(errors.is_empty(), "{errors:?}");
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total_kb: i64 = crate::procfs::field_u64(&meminfo, "MemTotal").unwrap() as i64;
    assert_eq!(int_value(&req, "system.memory.limit", &[]), total_kb * 1024);
    let sum: i64 = ["used", "free", "buffered", "cached"]
        .iter()
        .map(|s| int_value(&req, "system.memory.usage", &[("state", s)]))
        .sum();
    assert_eq!(
        sum,
        total_kb * 1024,
        "used + free + buffered + cached = total"
    );
}

#[test]
fn real_cpu_count_and_times() {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let cpus = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    let (req, errors) = real("  cpu:\n    metrics: {system.cpu.utilization: {enabled: true}}");
    assert!(errors.is_empty(), "{errors:?}");
    let points = data_points(metric(&req, "system.cpu.time").unwrap());
    assert_eq!(points.len(), cpus * 8);
    let btime: u64 = crate::procfs::field_u64_spaced(&stat, "btime").unwrap();
    assert!(
        points
            .iter()
            .all(|p| p.start_time_unix_nano == btime * 1_000_000_000)
    );
    // cpu0's user time, read before and after by the test, brackets the reported value.
    let after = std::fs::read_to_string("/proc/stat").unwrap();
    let user = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("cpu0 "))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<f64>()
            .unwrap()
            / 100.0
    };
    let got = value(
        &req,
        "system.cpu.time",
        &[("cpu", "cpu0"), ("state", "user")],
    );
    assert!(user(&stat) <= got && got <= user(&after), "{got}");
}

#[test]
fn real_load_averages_match_loadavg() {
    let before = std::fs::read_to_string("/proc/loadavg").unwrap();
    let (req, _) = real("  load:");
    let after = std::fs::read_to_string("/proc/loadavg").unwrap();
    for (i, name) in ["1m", "5m", "15m"].iter().enumerate() {
        let get = |s: &str| s.split_whitespace().nth(i).unwrap().parse::<f64>().unwrap();
        let got = value(&req, &format!("system.cpu.load_average.{name}"), &[]);
        assert!(got == get(&before) || got == get(&after), "{name}: {got}");
    }
}

#[test]
fn real_network_counters_are_monotonic() {
    let cfg = load("scrapers: {network: {}}").unwrap();
    let mut c = Collector::new(&cfg).unwrap();
    let (first, errors) = c.collect();
    assert!(errors.is_empty(), "{errors:?}");
    // Traffic on loopback between the collections.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    std::io::Write::write_all(&mut s, &[0u8; 65536]).unwrap();
    let (second, _) = c.collect();
    let lo = [("device", "lo"), ("direction", "transmit")];
    let (a, b) = (
        int_value(&first, "system.network.io", &lo),
        int_value(&second, "system.network.io", &lo),
    );
    assert!(b >= a + 65536, "{a} -> {b}");
    for m in [
        "system.network.packets",
        "system.network.errors",
        "system.network.dropped",
        "system.network.io",
    ] {
        for p in data_points(metric(&first, m).unwrap()) {
            let attrs: Vec<(&str, &str)> = vec![
                ("device", attr(p, "device").unwrap()),
                ("direction", attr(p, "direction").unwrap()),
            ];
            assert!(value(&second, m, &attrs) >= num(p), "{m} {attrs:?}");
        }
    }
    assert!(
        int_value(
            &second,
            "system.network.connections",
            &[("state", "ESTABLISHED")]
        ) >= 2
    );
    drop((l, s));
}

#[test]
fn real_process_finds_this_test() {
    let me = std::process::id() as i64;
    let (req, _) = real(
        "  process:\n    mute_process_all_errors: true\n    metrics: {process.threads: {enabled: true}}",
    );
    let (res, ms) = process(&req, me).expect("this process is reported");
    let exe = std::env::current_exe().unwrap();
    assert_eq!(
        res_attr(res, "process.executable.path").unwrap(),
        exe.display().to_string()
    );
    let parent = std::os::unix::process::parent_id() as i64;
    assert_eq!(
        res_attr(res, "process.parent_pid").unwrap(),
        parent.to_string()
    );
    let args: Vec<String> = std::env::args().collect();
    assert_eq!(
        res_attr(res, "process.command_line").unwrap(),
        args.join(" ")
    );
    let one = ExportMetricsServiceRequest {
        resource_metrics: vec![crate::emit::resource_metrics(
            "process",
            vec![],
            ms.to_vec(),
        )],
    };
    assert!(int_value(&one, "process.memory.usage", &[]) > 1 << 20);
    assert!(int_value(&one, "process.threads", &[]) >= 1);
}
