//! The benchmark scenarios and the collector config each one runs with.

use ferrotel_loadgen::args::ProtocolArg;
use ferrotel_pdata::Signal;

/// How the collector exports to the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exporter {
    Grpc,
    HttpProtobuf,
    HttpJson,
}

/// One scenario: a pipeline shape and a load.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub signal: Signal,
    /// loadgen → collector.
    pub protocol: ProtocolArg,
    /// collector → sink.
    pub exporter: Exporter,
    /// Items per second; `None` = as fast as the collector accepts (saturation).
    pub rate: Option<f64>,
    pub batch_size: usize,
    pub workers: usize,
    /// Processors before `batch`: (config key, YAML body indented for `processors:`).
    pub processors: Vec<(&'static str, &'static str)>,
    /// A persistent sending queue on the exporter (needs the `file_storage` extension).
    pub persistent_queue: bool,
    /// Batch in the exporter (`sending_queue::batch`, after the queue) instead of the `batch`
    /// processor.
    pub exporter_batch: bool,
    /// Component types the collector must have, or the scenario is skipped.
    pub requires: Vec<&'static str>,
    /// Compression on both hops (loadgen → collector and collector → sink): none, gzip, zstd.
    pub compression: &'static str,
}

impl Scenario {
    fn new(name: &'static str, signal: Signal, rate: Option<f64>) -> Self {
        let max = rate.is_none();
        Scenario {
            name,
            signal,
            protocol: ProtocolArg::Grpc,
            exporter: Exporter::Grpc,
            rate,
            // Saturation runs send large requests from several workers; fixed-rate runs send
            // 100 items per request like the Go Collector testbed.
            batch_size: if max { 500 } else { 100 },
            workers: if max { 4 } else { 2 },
            processors: Vec::new(),
            persistent_queue: false,
            exporter_batch: false,
            requires: vec!["otlp", "batch"],
            compression: "none",
        }
    }

    /// The load rate as printed.
    pub fn rate_label(&self) -> String {
        match self.rate {
            None => "max".into(),
            Some(r) => format!("{r:.0}/s"),
        }
    }
}

/// Every scenario, in the order they run.
pub fn all() -> Vec<Scenario> {
    let mut http = Scenario::new("traces-http-protobuf-max", Signal::Traces, None);
    http.protocol = ProtocolArg::HttpProtobuf;
    http.exporter = Exporter::HttpProtobuf;
    let mut json = Scenario::new("traces-http-json-max", Signal::Traces, None);
    json.protocol = ProtocolArg::HttpJson;
    // JSON in, protobuf out: browsers and scripts send JSON, backends take protobuf.
    json.exporter = Exporter::HttpProtobuf;
    // Issue 16's targets for the compressed and JSON paths are per span of 1000-span requests.
    json.batch_size = 1000;
    let mut json_both = Scenario::new("traces-http-json-both-max", Signal::Traces, None);
    json_both.protocol = ProtocolArg::HttpJson;
    json_both.exporter = Exporter::HttpJson;
    json_both.batch_size = 1000;
    let mut memory_limiter = Scenario::new("traces-memory-limiter-10k", Signal::Traces, Some(1e4));
    memory_limiter.processors = vec![(
        "memory_limiter",
        "  memory_limiter:\n    check_interval: 1s\n    limit_mib: 256\n    spike_limit_mib: 64\n",
    )];
    memory_limiter.requires.push("memory_limiter");
    let mut attributes = Scenario::new("traces-attributes-10k", Signal::Traces, Some(1e4));
    attributes.processors = vec![(
        "attributes",
        "  attributes:\n    actions:\n      - key: bench.env\n        value: bench\n        action: upsert\n      - key: attr.4\n        action: delete\n",
    )];
    attributes.requires.push("attributes");
    let mut filter = Scenario::new("traces-filter-10k", Signal::Traces, Some(1e4));
    filter.processors = vec![(
        "filter",
        "  filter:\n    error_mode: ignore\n    traces:\n      span:\n        - 'attributes[\"bench.never\"] == \"drop-me\"'\n",
    )];
    filter.requires.push("filter");
    // The pipeline most production configs run: memory_limiter → attributes → batch, at
    // saturation (CPU per span of the whole chain) and at the fixed 10 k/s.
    let pipeline = |name, rate| {
        let mut s = Scenario::new(name, Signal::Traces, rate);
        s.processors = vec![memory_limiter.processors[0], attributes.processors[0]];
        s.requires.extend(["memory_limiter", "attributes"]);
        s
    };
    let pipeline_max = pipeline("traces-pipeline-max", None);
    let pipeline_10k = pipeline("traces-pipeline-10k", Some(1e4));
    let mut grpc_gzip = Scenario::new("traces-grpc-gzip-max", Signal::Traces, None);
    grpc_gzip.compression = "gzip";
    grpc_gzip.batch_size = 1000;
    let mut grpc_gzip_10k = Scenario::new("traces-grpc-gzip-10k", Signal::Traces, Some(1e4));
    grpc_gzip_10k.compression = "gzip";
    let mut http_zstd = Scenario::new("traces-http-protobuf-zstd-max", Signal::Traces, None);
    http_zstd.protocol = ProtocolArg::HttpProtobuf;
    http_zstd.exporter = Exporter::HttpProtobuf;
    http_zstd.compression = "zstd";
    http_zstd.batch_size = 1000;
    let mut persistent = Scenario::new("traces-persistent-queue-10k", Signal::Traces, Some(1e4));
    persistent.persistent_queue = true;
    persistent.requires.push("file_storage");
    // The same load batched by the exporter after its queue, as the Go Collector now suggests.
    let mut exporter_batch = Scenario::new("traces-exporter-batch-10k", Signal::Traces, Some(1e4));
    exporter_batch.exporter_batch = true;
    // Zipkin v2 JSON in (the zipkin exporter's own translation of the generated spans),
    // OTLP/gRPC out: the Go Collector's testbed publishes its zipkin receiver at 10 k/s.
    let zipkin = |name, rate, protocol| {
        let mut s = Scenario::new(name, Signal::Traces, rate);
        s.protocol = protocol;
        s.requires = vec!["zipkin", "batch"];
        s
    };
    let zipkin_json_10k = zipkin("zipkin-json-10k", Some(1e4), ProtocolArg::ZipkinJson);
    let zipkin_json_max = zipkin("zipkin-json-max", None, ProtocolArg::ZipkinJson);
    let zipkin_proto_max = zipkin("zipkin-proto-max", None, ProtocolArg::ZipkinProto);
    vec![
        Scenario::new("traces-grpc-max", Signal::Traces, None),
        http,
        json,
        json_both,
        grpc_gzip,
        http_zstd,
        Scenario::new("traces-10k", Signal::Traces, Some(1e4)),
        grpc_gzip_10k,
        Scenario::new("metrics-10k", Signal::Metrics, Some(1e4)),
        Scenario::new("logs-10k", Signal::Logs, Some(1e4)),
        memory_limiter,
        attributes,
        filter,
        pipeline_10k,
        pipeline_max,
        persistent,
        exporter_batch,
        zipkin_json_10k,
        zipkin_json_max,
        zipkin_proto_max,
    ]
}

/// Where the collector listens and sends.
#[derive(Debug, Clone)]
pub struct Ports {
    pub receiver_grpc: u16,
    pub receiver_http: u16,
    pub sink_grpc: u16,
    pub sink_http: u16,
}

/// The collector config for `s`; `storage_dir` is used by the persistent queue.
pub fn collector_config(s: &Scenario, p: &Ports, storage_dir: &str) -> String {
    let receiver = if s.protocol.is_zipkin() {
        "zipkin"
    } else {
        "otlp"
    };
    let mut y = if s.protocol.is_zipkin() {
        format!(
            "receivers:\n  zipkin:\n    endpoint: 127.0.0.1:{}\n",
            p.receiver_http
        )
    } else {
        format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:{}\n      http:\n        endpoint: 127.0.0.1:{}\n",
            p.receiver_grpc, p.receiver_http
        )
    };
    y.push_str("processors:\n");
    if !s.exporter_batch {
        y.push_str("  batch:\n");
    }
    for (_, body) in &s.processors {
        y.push_str(body);
    }
    let queue = match (s.persistent_queue, s.exporter_batch) {
        (true, false) => "    sending_queue:\n      storage: file_storage\n",
        (true, true) => "    sending_queue:\n      storage: file_storage\n      batch:\n",
        (false, true) => "    sending_queue:\n      batch:\n",
        (false, false) => "",
    };
    let exporter = match s.exporter {
        Exporter::Grpc => {
            y.push_str(&format!(
                "exporters:\n  otlp:\n    endpoint: 127.0.0.1:{}\n    tls:\n      insecure: true\n    compression: {}\n{queue}",
                p.sink_grpc, s.compression
            ));
            "otlp"
        }
        Exporter::HttpProtobuf | Exporter::HttpJson => {
            let encoding = if s.exporter == Exporter::HttpJson {
                "json"
            } else {
                "proto"
            };
            y.push_str(&format!(
                "exporters:\n  otlphttp:\n    endpoint: http://127.0.0.1:{}\n    compression: {}\n    encoding: {encoding}\n{queue}",
                p.sink_http, s.compression
            ));
            "otlphttp"
        }
    };
    let mut service_ext = String::new();
    if s.persistent_queue {
        y.push_str(&format!(
            "extensions:\n  file_storage:\n    directory: {storage_dir}\n"
        ));
        service_ext = "  extensions: [file_storage]\n".into();
    }
    let processors: Vec<&str> = s
        .processors
        .iter()
        .map(|(k, _)| *k)
        .chain((!s.exporter_batch).then_some("batch"))
        .collect();
    y.push_str(&format!(
        "service:\n{service_ext}  telemetry:\n    logs:\n      level: warn\n    metrics:\n      level: none\n  pipelines:\n    {}:\n      receivers: [{receiver}]\n      processors: [{}]\n      exporters: [{exporter}]\n",
        s.signal,
        processors.join(", ")
    ));
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_configs_mention_their_components() {
        let all = all();
        let mut names: Vec<_> = all.iter().map(|s| s.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        let p = Ports {
            receiver_grpc: 1,
            receiver_http: 2,
            sink_grpc: 3,
            sink_http: 4,
        };
        for s in &all {
            let y = collector_config(s, &p, "/tmp/x");
            let keys: Vec<&str> = s.processors.iter().map(|(k, _)| *k).collect();
            let chain = keys.iter().map(|k| format!("{k}, ")).collect::<String>();
            if s.exporter_batch {
                assert!(
                    y.contains("      batch:\n") && !y.contains("  batch:\n    "),
                    "{y}"
                );
            } else {
                assert!(y.contains(&format!("processors: [{chain}batch]")), "{y}");
            }
            for k in keys {
                assert!(
                    y.contains(&format!("\n  {k}:\n")),
                    "{k} not configured: {y}"
                );
            }
            assert!(y.contains(&format!("    {}:\n", s.signal)));
        }
    }
}
