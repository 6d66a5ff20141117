#!/usr/bin/env python3
"""Sends traces, metrics and logs with the OpenTelemetry Python SDK's real OTLP exporters.

Usage: send_python.py --protocol grpc|http --endpoint HOST:PORT --run NAME

Data is recorded in memory first, then handed to the OTLP exporter in one export call per
signal, so an export failure is seen here (exit 1) instead of being logged and swallowed by a
background processor. Prints what was sent as JSON on stdout; the Rust test
(crates/ferrotel/tests/interop_clients.rs) compares it item by item with what ferrotel wrote.
"""

import argparse
import json
import sys

try:
    from opentelemetry import trace
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
except ImportError as e:  # the Rust test turns this exit code into its install hint
    print(f"missing Python package: {e}", file=sys.stderr)
    sys.exit(3)

T0 = 1_700_000_000_000_000_000  # fixed timestamps: the test checks them exactly


def exporters(protocol, endpoint):
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        url = f"http://{endpoint}"
        return (
            OTLPSpanExporter(endpoint=url, insecure=True, timeout=10),
            OTLPMetricExporter(endpoint=url, insecure=True, timeout=10),
            OTLPLogExporter(endpoint=url, insecure=True, timeout=10),
        )
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    base = f"http://{endpoint}"
    return (
        OTLPSpanExporter(endpoint=f"{base}/v1/traces", timeout=10),
        OTLPMetricExporter(endpoint=f"{base}/v1/metrics", timeout=10),
        OTLPLogExporter(endpoint=f"{base}/v1/logs", timeout=10),
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol", choices=["grpc", "http"], required=True)
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--run", required=True)
    a = ap.parse_args()
    run = a.run
    resource = Resource.create({"service.name": f"{run}-svc", "interop.client": "python"})
    span_exp, metric_exp, log_exp = exporters(a.protocol, a.endpoint)
    expected = {"resource": {"service.name": f"{run}-svc"}, "spans": [], "logs": [], "metrics": []}

    # Traces: a root with two children, explicit times, typed attributes.
    mem = InMemorySpanExporter()
    tp = TracerProvider(resource=resource)
    tp.add_span_processor(SimpleSpanProcessor(mem))
    tracer = tp.get_tracer("interop.python", "1.0")
    root = tracer.start_span(f"{run}-root", start_time=T0, attributes={"i": 0, "client": "python"})
    ctx = trace.set_span_in_context(root)
    for i in (1, 2):
        child = tracer.start_span(
            f"{run}-child-{i}",
            context=ctx,
            start_time=T0 + i * 1000,
            attributes={"i": i, "ok": i % 2 == 1, "ratio": i / 4, "tag": f"t{i}"},
        )
        child.end(end_time=T0 + i * 1000 + 500)
    root.end(end_time=T0 + 10_000)
    spans = mem.get_finished_spans()
    for s in spans:
        c = s.context
        expected["spans"].append({
            "name": s.name,
            "trace_id": format(c.trace_id, "032x"),
            "span_id": format(c.span_id, "016x"),
            "parent_span_id": format(s.parent.span_id, "016x") if s.parent else "",
            "start": s.start_time,
            "end": s.end_time,
            "attributes": dict(s.attributes),
        })
    if span_exp.export(spans) != SpanExportResult.SUCCESS:
        print("span export failed", file=sys.stderr)
        sys.exit(1)

    # Metrics: a counter with two attribute sets and a histogram.
    reader = InMemoryMetricReader()
    mp = MeterProvider(resource=resource, metric_readers=[reader])
    meter = mp.get_meter("interop.python")
    counter = meter.create_counter(f"{run}.requests")
    counter.add(3, {"route": "/a"})
    counter.add(4, {"route": "/b"})
    hist = meter.create_histogram(f"{run}.latency", unit="ms")
    hist.record(1.5, {"route": "/a"})
    hist.record(2.5, {"route": "/a"})
    data = reader.get_metrics_data()
    expected["metrics"] = [
        {"name": f"{run}.requests", "kind": "sum",
         "points": [{"attributes": {"route": "/a"}, "value": 3}, {"attributes": {"route": "/b"}, "value": 4}]},
        {"name": f"{run}.latency", "kind": "histogram",
         "points": [{"attributes": {"route": "/a"}, "count": 2, "sum": 4.0}]},
    ]
    if metric_exp.export(data) != MetricExportResult.SUCCESS:
        print("metric export failed", file=sys.stderr)
        sys.exit(1)

    # Logs: two records, one correlated with the root span.
    log_mem = InMemoryLogExporter()
    lp = LoggerProvider(resource=resource)
    lp.add_log_record_processor(SimpleLogRecordProcessor(log_mem))
    logger = lp.get_logger("interop.python")
    for i in (0, 1):
        logger.emit(
            timestamp=T0 + i,
            observed_timestamp=T0 + i + 5,
            context=ctx if i == 1 else None,
            severity_number=SeverityNumber.WARN if i else SeverityNumber.INFO,
            severity_text="WARN" if i else "INFO",
            body=f"{run} log {i}",
            attributes={"i": i, "client": "python"},
        )
        expected["logs"].append({
            "body": f"{run} log {i}",
            "time": T0 + i,
            "severity_number": 13 if i else 9,
            "trace_id": format(root.context.trace_id, "032x") if i == 1 else "",
            "attributes": {"i": i, "client": "python"},
        })
    records = log_mem.get_finished_logs()
    if log_exp.export(records).name != "SUCCESS":
        print("log export failed", file=sys.stderr)
        sys.exit(1)

    for e in (span_exp, metric_exp, log_exp):
        e.shutdown()
    json.dump(expected, sys.stdout)
    print()


if __name__ == "__main__":
    main()
