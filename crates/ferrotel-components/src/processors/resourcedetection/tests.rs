//! Config (testdata/ valid and invalid), the `env` parser, `system` against what the test reads
//! from the machine itself, the edit on all four signals (decoded and on the wire), and the
//! network detectors against loopback fakes: answering, silent, absent.

use std::collections::HashMap;
use std::time::Duration;

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::profiles::v1development::ExportProfilesServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::KeyValue;
use ferrotel_pdata::proto::logs::v1::ResourceLogs;
use ferrotel_pdata::proto::metrics::v1::ResourceMetrics;
use ferrotel_pdata::proto::profiles::v1development::ResourceProfiles;
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::ResourceSpans;
use ferrotel_pdata::{Request, Signal};
use ferrotel_runtime::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::cloud::Endpoints;
use super::config::{Detector, ResourceDetectionConfig};
use super::detect::{AttrValue, Sources};
use super::http::Target;
use super::*;
use crate::testing::{Recorder, config, config_error, ctx, kv_str};

fn testdata(name: &str) -> String {
    let path = format!(
        "{}/src/processors/resourcedetection/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn valid_configs() {
    let cfg: ResourceDetectionConfig = config(&testdata("valid_full.yaml"));
    cfg.validate().unwrap();
    assert_eq!(cfg.parsed_detectors().unwrap(), Detector::ALL.to_vec());
    assert!(!cfg.override_);
    assert_eq!(cfg.timeout, Duration::from_secs(2));
    assert_eq!(cfg.ec2.max_backoff, Duration::from_secs(300));
    // Defaults with the overrides applied, in the detector's order.
    assert_eq!(
        cfg.enabled(Detector::System).0,
        [
            "host.name",
            "os.type",
            "host.id",
            "host.arch",
            "os.description"
        ]
    );
    assert_eq!(cfg.enabled(Detector::Docker).0, ["os.type"]);
    assert!(!cfg.enabled(Detector::Ec2).has("host.name"));
    assert!(cfg.enabled(Detector::Aks).has("k8s.cluster.name"));

    let demo: ResourceDetectionConfig = config(&testdata("valid_demo.yaml"));
    demo.validate().unwrap();
    assert!(demo.override_, "override defaults to true");
    assert_eq!(demo.timeout, Duration::from_secs(5));
    assert_eq!(demo.enabled(Detector::System).0, ["host.name", "os.type"]);
}

#[test]
fn invalid_configs_say_what_and_where() {
    let known = "env, system, docker, ec2, gcp, azure, eks, aks";
    let cases = [
        (
            "invalid_unknown_detector.yaml",
            format!("detectors[1]: unknown detector \"foo\" (known: {known})"),
        ),
        (
            "invalid_go_only_detector.yaml",
            format!(
                "detectors[1]: detector \"ecs\" is not implemented in ferrotel (implemented: {known})"
            ),
        ),
        (
            "invalid_duplicate_detector.yaml",
            "detectors[2]: detector \"system\" is listed twice".to_owned(),
        ),
        (
            "invalid_hostname_source.yaml",
            "system::hostname_sources[1]: invalid hostname source \"fqdn\" (valid: dns, os, cname, lookup)".to_owned(),
        ),
        (
            "invalid_resource_attribute.yaml",
            "system::resource_attributes::host.nmae: unknown resource attribute of the system detector (known: host.name, os.type, host.id, host.arch, host.ip, host.mac, host.interface, host.cpu.vendor.id, host.cpu.family, host.cpu.model.id, host.cpu.model.name, host.cpu.stepping, host.cpu.cache.l2.size, os.description, os.name, os.version, os.build.id)".to_owned(),
        ),
        (
            "invalid_switch_key.yaml",
            "system::resource_attributes::host.id::enable: unknown field `enable`, expected `enabled` (test.yaml:4)".to_owned(),
        ),
        (
            "invalid_unknown_key.yaml",
            "refresh_interval: unknown field `refresh_interval`, expected one of `detectors`, `override`, `timeout`, `fail_on_missing_metadata`, `env`, `system`, `docker`, `ec2`, `gcp`, `azure`, `eks`, `aks` (test.yaml:2)".to_owned(),
        ),
        (
            "invalid_detector_key.yaml",
            "docker::endpoint: unknown field `endpoint`, expected `resource_attributes` (test.yaml:3)".to_owned(),
        ),
        (
            "invalid_regex.yaml",
            "ec2::tags[1]: invalid regex \"(\": regex parse error:\n    (\n    ^\nerror: unclosed group".to_owned(),
        ),
    ];
    for (file, want) in cases {
        let got = config_error::<ResourceDetectionConfig>(&testdata(file));
        assert_eq!(got, want, "{file}");
    }
    assert_eq!(
        config_error::<ResourceDetectionConfig>("detectors: [env]\ntimeout: 0s\n"),
        "timeout: must be greater than 0: it bounds detection at start"
    );
    let got = config_error::<ResourceDetectionConfig>(&testdata("invalid_timeout.yaml"));
    assert!(
        got.starts_with("timeout: invalid duration \"soon\""),
        "{got}"
    );
}

fn strs(attrs: &[(String, AttrValue)]) -> Vec<(&str, &AttrValue)> {
    attrs.iter().map(|(k, v)| (k.as_str(), v)).collect()
}

fn s(v: &str) -> AttrValue {
    AttrValue::Str(v.to_owned())
}

#[test]
fn env_parsing_as_go() {
    let parsed =
        env::parse(" service.name = shop , k8s.pod.name=web%2D1,empty= , x=a+b%20c ").unwrap();
    assert_eq!(
        strs(&parsed),
        [
            ("service.name", &s("shop")),
            ("k8s.pod.name", &s("web-1")),
            ("empty", &s("")),
            ("x", &s("a b c")),
        ]
    );
    // A later key replaces the earlier one in place; values may contain `=`.
    let parsed = env::parse("a=1,b=x=y,a=2").unwrap();
    assert_eq!(strs(&parsed), [("a", &s("2")), ("b", &s("x=y"))]);
    assert_eq!(env::parse("   ").unwrap(), []);

    assert_eq!(
        env::parse("a=%zz").unwrap_err(),
        "invalid resource format in attribute: \"a=%zz\", err: invalid URL escape \"%zz\""
    );
    assert_eq!(
        env::parse("no-equals-sign").unwrap_err(),
        "invalid resource format: \"no-equals-sign\""
    );
    assert_eq!(
        env::parse("a=1,é=2").unwrap_err(),
        "invalid resource format, invalid text: \"é=2\""
    );
}

/// The machine's host name, read by the test itself.
fn libc_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: valid buffer.
    assert_eq!(
        unsafe { libc::gethostname(buf.as_mut_ptr().cast(), 255) },
        0
    );
    let end = buf.iter().position(|&b| b == 0).unwrap();
    String::from_utf8(buf[..end].to_vec()).unwrap()
}

fn expected_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

const SYSTEM_ALL: &str = r#"
detectors: [system]
system:
  hostname_sources: [os]
  resource_attributes:
    host.id: {enabled: true}
    host.arch: {enabled: true}
    host.ip: {enabled: true}
    host.mac: {enabled: true}
    os.description: {enabled: true}
    os.version: {enabled: true}
    host.cpu.model.name: {enabled: true}
"#;

/// Sources where nothing answers (the loopback discard port refuses at once).
fn no_sources() -> Sources {
    let refused = (Target::Tcp("127.0.0.1:9".into()), "127.0.0.1:9".to_owned());
    Sources {
        endpoints: Endpoints {
            aws: Some(refused.clone()),
            gcp: refused.clone(),
            azure: refused,
        },
        docker_socket: Ok("/nonexistent/docker.sock".into()),
        kubernetes: false,
    }
}

fn processor_with(
    yaml: &str,
    id: &str,
    signal: Signal,
    sources: Sources,
) -> (ResourceDetectionProcessor, std::sync::Arc<Recorder>) {
    let cfg: ResourceDetectionConfig = config(yaml);
    cfg.validate().unwrap();
    let rec = Recorder::new();
    let p = ResourceDetectionProcessor::build_with(
        &ctx(id, Kind::Processor),
        cfg,
        signal,
        rec.clone(),
        sources,
    )
    .unwrap();
    (p, rec)
}

#[tokio::test]
async fn system_matches_what_the_machine_says() {
    let (p, _) = processor_with(
        SYSTEM_ALL,
        "resource_detection/system",
        Signal::Traces,
        no_sources(),
    );
    p.start().await.unwrap();
    let got: HashMap<&str, &AttrValue> = strs(p.detected().unwrap()).into_iter().collect();
    assert_eq!(got["host.name"], &s(&libc_hostname()));
    assert_eq!(got["os.type"], &s("linux"));
    assert_eq!(got["host.arch"], &s(expected_arch()));
    if let Ok(id) = std::fs::read_to_string("/etc/machine-id")
        .or_else(|_| std::fs::read_to_string("/var/lib/dbus/machine-id"))
    {
        assert_eq!(got["host.id"], &s(id.trim()));
    }
    let AttrValue::Str(desc) = got["os.description"] else {
        panic!()
    };
    // "<NAME VERSION> (Linux <nodename> <release> <version> <machine>)"
    assert!(
        desc.contains(&format!("Linux {} ", libc_hostname())),
        "{desc}"
    );
    assert!(
        desc.ends_with(&format!("{})", std::env::consts::ARCH)),
        "{desc}"
    );
    let AttrValue::StrList(ips) = got["host.ip"] else {
        panic!()
    };
    assert!(
        ips.iter().all(|ip| ip
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| !ip.is_loopback())),
        "{ips:?}"
    );
    let AttrValue::StrList(macs) = got["host.mac"] else {
        panic!()
    };
    assert!(
        macs.iter().all(|m| m.len() == 17
            && m.chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_lowercase())),
        "{macs:?}"
    );
    assert!(got.contains_key("os.version") && got.contains_key("host.cpu.model.name"));
    // Disabled by default: never set.
    assert!(!got.contains_key("host.cpu.family"));
}

#[tokio::test]
async fn hostname_sources_fall_back_in_order() {
    // `dns` may or may not resolve here; either way the name is the FQDN or the OS name.
    let yaml = "detectors: [system]\n";
    let (p, _) = processor_with(yaml, "resource_detection/dns", Signal::Traces, no_sources());
    p.start().await.unwrap();
    let attrs = p.detected().unwrap();
    assert_eq!(
        attrs.len(),
        2,
        "only host.name and os.type by default: {attrs:?}"
    );
    let AttrValue::Str(name) = &attrs[0].1 else {
        panic!()
    };
    let os = libc_hostname();
    let expected = system::canonical_name(&os).unwrap_or(os);
    assert_eq!(name, &expected);
}

fn resource(attrs: Vec<KeyValue>) -> Option<Resource> {
    Some(Resource {
        attributes: attrs,
        ..Default::default()
    })
}

fn every_signal(attrs: Vec<KeyValue>) -> [Request; 4] {
    [
        Request::Traces(ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    resource: resource(attrs.clone()),
                    ..Default::default()
                },
                ResourceSpans::default(),
            ],
        }),
        Request::Metrics(ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: resource(attrs.clone()),
                ..Default::default()
            }],
        }),
        Request::Logs(ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource(attrs.clone()),
                ..Default::default()
            }],
        }),
        Request::Profiles(ExportProfilesServiceRequest {
            resource_profiles: vec![ResourceProfiles {
                resource: resource(attrs),
                ..Default::default()
            }],
            ..Default::default()
        }),
    ]
}

fn resources(req: &Request) -> Vec<Vec<KeyValue>> {
    let r = |x: &Option<Resource>| x.as_ref().map(|r| r.attributes.clone()).unwrap_or_default();
    match req {
        Request::Traces(t) => t.resource_spans.iter().map(|x| r(&x.resource)).collect(),
        Request::Metrics(m) => m.resource_metrics.iter().map(|x| r(&x.resource)).collect(),
        Request::Logs(l) => l.resource_logs.iter().map(|x| r(&x.resource)).collect(),
        Request::Profiles(p) => p.resource_profiles.iter().map(|x| r(&x.resource)).collect(),
    }
}

#[tokio::test]
async fn sets_attributes_on_every_signal_respecting_override() {
    let host = libc_hostname();
    for (override_, want_name) in [(true, host.as_str()), (false, "from-the-app")] {
        let yaml = format!(
            "detectors: [system]\noverride: {override_}\nsystem: {{hostname_sources: [os]}}\n"
        );
        let id = format!("resource_detection/override_{override_}");
        for mut req in every_signal(vec![
            kv_str("host.name", "from-the-app"),
            kv_str("service.name", "shop"),
        ]) {
            let (p, _) = processor_with(&yaml, &id, req.signal(), no_sources());
            p.start().await.unwrap();
            let c = Context::default();
            crate::testing::apply_both(&mut req, |r| p.apply(r, &c), |w| p.apply_encoded(w, &c));
            let got = resources(&req);
            assert_eq!(
                got[0],
                [
                    kv_str("host.name", want_name),
                    kv_str("service.name", "shop"),
                    kv_str("os.type", "linux")
                ],
                "{:?} override {override_}",
                req.signal()
            );
            // A resource-less item gets the detected attributes too.
            if let Some(empty) = got.get(1) {
                assert_eq!(
                    empty,
                    &[kv_str("host.name", &host), kv_str("os.type", "linux")]
                );
            }
        }
    }
}

#[tokio::test]
async fn consume_forwards_edited_payload() {
    let (p, rec) = processor_with(
        "detectors: [system]\nsystem: {hostname_sources: [os]}\n",
        "resource_detection/consume",
        Signal::Traces,
        no_sources(),
    );
    p.start().await.unwrap();
    p.consume(
        crate::testing::traces("svc", &["a", "b"]),
        Context::default(),
    )
    .await
    .unwrap();
    let got = rec.got.lock().unwrap();
    assert!(got[0].is_encoded(), "edited on the wire, not decoded");
    let req = got[0].to_request().unwrap();
    assert_eq!(
        resources(&req)[0],
        [
            kv_str("service.name", "svc"),
            kv_str("host.name", &libc_hostname()),
            kv_str("os.type", "linux")
        ]
    );
}

/// A loopback HTTP/1 server answering `METHOD path` from `routes` (404 otherwise), or never
/// answering when `silent`. Serves TCP and unix sockets alike.
async fn serve<L, S>(
    accept: impl Fn() -> L + Send + 'static,
    routes: HashMap<String, String>,
    silent: bool,
) where
    L: std::future::Future<Output = std::io::Result<S>> + Send,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        while let Ok(mut conn) = accept().await {
            let routes = routes.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                if silent {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    return;
                }
                let head = String::from_utf8_lossy(&buf);
                let mut first = head.lines().next().unwrap_or_default().split(' ');
                let key = format!(
                    "{} {}",
                    first.next().unwrap_or(""),
                    first.next().unwrap_or("")
                );
                let (status, body) = match routes.get(&key) {
                    Some(b) => ("200 OK", b.clone()),
                    None => ("404 Not Found", String::new()),
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(resp.as_bytes()).await;
            });
        }
    });
}

async fn fake_tcp(routes: &[(&str, &str)], silent: bool) -> (Target, String) {
    let l = std::sync::Arc::new(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
    let addr = l.local_addr().unwrap().to_string();
    let routes = routes
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    serve(
        move || {
            let l = l.clone();
            async move { l.accept().await.map(|(s, _)| s) }
        },
        routes,
        silent,
    )
    .await;
    (Target::Tcp(addr.clone()), addr)
}

#[tokio::test]
async fn cloud_detectors_read_fake_metadata_services() {
    let doc = r#"{"accountId":"123456789012","availabilityZone":"eu-west-1a","region":"eu-west-1","instanceId":"i-0abc","instanceType":"m5.large","imageId":"ami-1"}"#;
    let aws = fake_tcp(
        &[
            ("PUT /latest/api/token", "TOKEN"),
            ("GET /latest/meta-data/instance-id", "i-0abc"),
            ("GET /latest/dynamic/instance-identity/document", doc),
            (
                "GET /latest/meta-data/hostname",
                "ip-10-0-0-1.eu-west-1.compute.internal",
            ),
        ],
        false,
    )
    .await;
    let azure = fake_tcp(
        &[(
            "GET /metadata/instance/compute?api-version=2020-09-01&format=json",
            r#"{"location":"westeurope","name":"vm1","vmId":"vm-id-1","vmSize":"Standard_D2s_v3","subscriptionId":"sub-1","resourceGroupName":"rg1","vmScaleSetName":"","zone":"1","tagsList":[{"name":"env","value":"prod"},{"name":"team","value":"x"}]}"#,
        )],
        false,
    )
    .await;
    let gcp = fake_tcp(
        &[
            ("GET /computeMetadata/v1/project/project-id", "my-project"),
            ("GET /computeMetadata/v1/instance/id", "4520031799277581759"),
            (
                "GET /computeMetadata/v1/instance/zone",
                "projects/123/zones/us-central1-c",
            ),
            ("GET /computeMetadata/v1/instance/name", "gce-1"),
            (
                "GET /computeMetadata/v1/instance/hostname",
                "gce-1.c.my-project.internal",
            ),
            (
                "GET /computeMetadata/v1/instance/machine-type",
                "projects/123/machineTypes/e2-medium",
            ),
        ],
        false,
    )
    .await;
    let sources = Sources {
        endpoints: Endpoints {
            aws: Some(aws),
            gcp,
            azure,
        },
        docker_socket: Ok("/nonexistent".into()),
        kubernetes: true,
    };
    let detect = |yaml: &'static str, id: &'static str| {
        let sources = sources.clone();
        async move {
            let (p, _) = processor_with(yaml, id, Signal::Traces, sources);
            p.start().await.unwrap();
            p.detected().unwrap().to_vec()
        }
    };
    let ec2 = detect("detectors: [ec2]\n", "resource_detection/ec2").await;
    assert_eq!(
        strs(&ec2),
        [
            ("cloud.provider", &s("aws")),
            ("cloud.platform", &s("aws_ec2")),
            ("cloud.region", &s("eu-west-1")),
            ("cloud.account.id", &s("123456789012")),
            ("cloud.availability_zone", &s("eu-west-1a")),
            ("host.id", &s("i-0abc")),
            ("host.image.id", &s("ami-1")),
            ("host.type", &s("m5.large")),
            ("host.name", &s("ip-10-0-0-1.eu-west-1.compute.internal")),
        ]
    );
    let az = detect(
        "detectors: [azure]\nazure: {tags: [\"^env$\"]}\n",
        "resource_detection/azure",
    )
    .await;
    let az: HashMap<&str, &AttrValue> = strs(&az).into_iter().collect();
    assert_eq!(az["cloud.platform"], &s("azure_vm"));
    assert_eq!(az["host.id"], &s("vm-id-1"));
    assert_eq!(az["azure.tags.env"], &s("prod"));
    assert!(!az.contains_key("azure.tags.team") && !az.contains_key("cloud.availability_zone"));
    let g = detect("detectors: [gcp]\n", "resource_detection/gcp").await;
    let g: HashMap<&str, &AttrValue> = strs(&g).into_iter().collect();
    assert_eq!(g["cloud.platform"], &s("gcp_compute_engine"));
    assert_eq!(g["cloud.region"], &s("us-central1"));
    assert_eq!(g["cloud.availability_zone"], &s("us-central1-c"));
    assert_eq!(g["host.type"], &s("e2-medium"));
    assert!(
        !g.contains_key("gcp.gce.instance.hostname"),
        "disabled by default"
    );
    // In a pod, eks and aks ask the same metadata services and name the platform.
    let eks = detect("detectors: [eks]\n", "resource_detection/eks").await;
    let eks: HashMap<&str, &AttrValue> = strs(&eks).into_iter().collect();
    assert_eq!(eks["cloud.provider"], &s("aws"));
    assert_eq!(eks["cloud.platform"], &s("aws_eks"));
    let aks = detect("detectors: [aks]\n", "resource_detection/aks").await;
    let aks: HashMap<&str, &AttrValue> = strs(&aks).into_iter().collect();
    assert_eq!(aks["cloud.provider"], &s("azure"));
    assert_eq!(aks["cloud.platform"], &s("azure_aks"));
    // First detector wins: ec2 before azure keeps AWS's cloud.provider.
    let both = detect("detectors: [ec2, azure]\n", "resource_detection/both").await;
    let both: HashMap<&str, &AttrValue> = strs(&both).into_iter().collect();
    assert_eq!(both["cloud.provider"], &s("aws"));
    assert_eq!(both["azure.vm.size"], &s("Standard_D2s_v3"));
}

#[tokio::test]
async fn absent_or_silent_metadata_services_are_skipped_within_the_timeout() {
    let silent = fake_tcp(&[], true).await;
    let sources = Sources {
        endpoints: Endpoints {
            aws: Some(silent.clone()),
            gcp: silent.clone(),
            azure: (Target::Tcp("127.0.0.1:9".into()), "127.0.0.1:9".into()),
        },
        docker_socket: Ok("/nonexistent/docker.sock".into()),
        // In a pod, so eks and aks ask the (silent) metadata services too.
        kubernetes: true,
    };
    let yaml = "detectors: [system, ec2, gcp, azure, eks, aks, docker]\ntimeout: 500ms\nsystem: {hostname_sources: [os]}\n";
    let (p, _) = processor_with(
        yaml,
        "resource_detection/skip",
        Signal::Traces,
        sources.clone(),
    );
    let started = std::time::Instant::now();
    p.start().await.unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1500), "start took {took:?}");
    let keys: Vec<&str> = p
        .detected()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(keys, ["host.name", "os.type"]);

    // With fail_on_missing_metadata the same absence fails the start, naming the detectors.
    let yaml = "detectors: [ec2, docker]\ntimeout: 300ms\nfail_on_missing_metadata: true\n";
    let (p, _) = processor_with(yaml, "resource_detection/fail", Signal::Traces, sources);
    let started = std::time::Instant::now();
    let err = p.start().await.unwrap_err().to_string();
    assert!(
        started.elapsed() < Duration::from_millis(1300),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.contains("detector \"ec2\": EC2 metadata unavailable: PUT http://"),
        "{err}"
    );
    assert!(
        err.contains("/latest/api/token: no answer within the timeout"),
        "{err}"
    );
    assert!(
        err.contains("detector \"docker\": cannot reach the Docker daemon"),
        "{err}"
    );
    assert!(err.contains("/nonexistent/docker.sock"), "{err}");
}

#[tokio::test]
async fn docker_reads_the_engine_info() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("docker.sock");
    let l = std::sync::Arc::new(tokio::net::UnixListener::bind(&sock).unwrap());
    let routes = [(
        "GET /info".to_string(),
        r#"{"Name":"docker-host-1","OSType":"linux","ID":"x"}"#.to_string(),
    )]
    .into();
    serve(
        move || {
            let l = l.clone();
            async move { l.accept().await.map(|(s, _)| s) }
        },
        routes,
        false,
    )
    .await;
    let mut sources = no_sources();
    sources.docker_socket = Ok(sock.to_string_lossy().into_owned());
    let (p, _) = processor_with(
        "detectors: [docker, system]\nsystem: {hostname_sources: [os]}\n",
        "resource_detection/docker",
        Signal::Logs,
        sources,
    );
    p.start().await.unwrap();
    // docker first: its host.name wins over system's.
    assert_eq!(
        strs(p.detected().unwrap()),
        [("host.name", &s("docker-host-1")), ("os.type", &s("linux"))]
    );
}

#[tokio::test]
async fn malformed_env_fails_the_start() {
    // The parser is what reads the variable (tests do not set process variables: they race).
    let err = env::parse("a=1,,b").unwrap_err();
    assert_eq!(err, "invalid resource format, invalid text: \",b\"");
}

#[tokio::test]
async fn pipelines_of_one_processor_share_one_detection() {
    let yaml = "detectors: [system]\nsystem: {hostname_sources: [os]}\n";
    let (a, _) = processor_with(
        yaml,
        "resource_detection/shared",
        Signal::Traces,
        no_sources(),
    );
    let (b, _) = processor_with(
        yaml,
        "resource_detection/shared",
        Signal::Metrics,
        no_sources(),
    );
    a.start().await.unwrap();
    assert!(
        b.detected().is_some(),
        "b sees a's detection before its own start"
    );
    b.start().await.unwrap();
}

#[test]
fn aks_cluster_name_from_the_resource_group() {
    assert_eq!(
        cloud::aks_cluster_name("MC_my-rg_my-cluster_eastus"),
        "my-cluster"
    );
    assert_eq!(
        cloud::aks_cluster_name("MC_my_rg_my-cluster_eastus"),
        "MC_my_rg_my-cluster_eastus"
    );
    assert_eq!(
        cloud::aks_cluster_name("custom-infra-rg"),
        "custom-infra-rg"
    );
}
