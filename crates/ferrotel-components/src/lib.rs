//! ferrotel's components, one folder each: `receivers/`, `processors/`, `exporters/`,
//! `connectors/`, `extensions/`. [`registry`] is the explicit list of all of them.

pub mod connectors {
    pub mod count;
    pub mod failover;
    pub mod forward;
    pub mod routing;
    pub mod spanmetrics;
}
pub mod exporters {
    pub mod debug;
    pub mod file;
    pub mod loadbalancing;
    pub mod otlp;
}
pub mod extensions {
    pub mod basicauth;
    pub mod bearertokenauth;
    pub mod file_storage;
    pub mod health_check;
    mod http_server;
    #[cfg(feature = "pprof")]
    pub mod pprof;
    pub mod zpages;
}
pub mod processors {
    pub mod attributes;
    pub mod batch;
    pub mod filter;
    pub mod memory_limiter;
    pub mod probabilistic_sampler;
    pub mod resource;
    pub mod resourcedetection;
    pub mod tail_sampling;
    pub mod transform;
}
pub mod receivers {
    pub mod otlp;
}
#[cfg(test)]
pub(crate) mod testing;

use ferrotel_runtime::Registry;

/// Every component in ferrotel. Adding a component is a folder and a line here.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.receiver(receivers::otlp::OtlpReceiverFactory);
    r.processor(processors::batch::BatchProcessorFactory);
    r.processor(processors::attributes::AttributesProcessorFactory);
    r.processor(processors::resource::ResourceProcessorFactory);
    r.processor(processors::resourcedetection::ResourceDetectionFactory);
    r.processor(processors::memory_limiter::MemoryLimiterFactory);
    r.processor(processors::probabilistic_sampler::ProbabilisticSamplerFactory);
    r.processor(processors::filter::FilterProcessorFactory);
    r.processor(processors::transform::TransformProcessorFactory);
    r.processor(processors::tail_sampling::TailSamplingFactory);
    r.exporter(exporters::debug::DebugExporterFactory)
        .exporter(exporters::file::FileExporterFactory)
        .exporter(exporters::otlp::OtlpGrpcExporterFactory)
        .exporter(exporters::otlp::OtlpHttpExporterFactory)
        .exporter(exporters::loadbalancing::LoadBalancingExporterFactory);
    #[cfg(feature = "local")]
    r.exporter(ferrotel_local::LocalStoreExporterFactory);
    #[cfg(feature = "prometheus")]
    {
        r.receiver(ferrotel_prometheus::PrometheusReceiverFactory);
        r.exporter(ferrotel_prometheus::PrometheusExporterFactory)
            .exporter(ferrotel_prometheus::remote_write::RemoteWriteExporterFactory);
        r.receiver(ferrotel_prometheus::remote_write::RemoteWriteReceiverFactory);
    }
    #[cfg(feature = "hostmetrics")]
    r.receiver(ferrotel_hostmetrics::HostMetricsReceiverFactory);
    #[cfg(feature = "filelog")]
    r.receiver(ferrotel_filelog::FileLogReceiverFactory);
    #[cfg(feature = "zipkin")]
    {
        r.receiver(ferrotel_zipkin::ZipkinReceiverFactory);
        r.exporter(ferrotel_zipkin::ZipkinExporterFactory);
    }
    #[cfg(feature = "jaeger")]
    r.receiver(ferrotel_jaeger::JaegerReceiverFactory);
    #[cfg(feature = "kafka")]
    {
        r.receiver(ferrotel_kafka::KafkaReceiverFactory);
        r.exporter(ferrotel_kafka::KafkaExporterFactory);
    }
    r.connector(connectors::count::CountConnectorFactory);
    r.connector(connectors::failover::FailoverConnectorFactory);
    r.connector(connectors::forward::ForwardConnectorFactory);
    r.connector(connectors::routing::RoutingConnectorFactory);
    r.connector(connectors::spanmetrics::SpanMetricsConnectorFactory);
    r.extension(extensions::health_check::HealthCheckFactory);
    r.extension(extensions::zpages::ZpagesFactory);
    #[cfg(feature = "pprof")]
    r.extension(extensions::pprof::PprofFactory);
    r.extension(extensions::bearertokenauth::BearerTokenAuthFactory)
        .extension(extensions::basicauth::BasicAuthFactory)
        .extension(extensions::file_storage::FileStorageFactory);
    r
}
