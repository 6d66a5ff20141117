#!/usr/bin/env python3
"""Sends a two-service trace (with an error span, an event and logs inside the spans) and a
metric with the OpenTelemetry Python SDK's OTLP/HTTP exporters, for the local all-in-one's
tests (crates/ferrotel/tests/local.rs).

Usage: send_multiservice.py --endpoint HOST:PORT
Prints {"trace_id", "error_span_id"} as JSON. Exit 3: the SDK is not installed.
"""

import argparse
import json
import sys
import time

try:
    from opentelemetry import trace
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError as e:
    print(f"missing Python package: {e}", file=sys.stderr)
    sys.exit(3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    a = ap.parse_args()
    base = f"http://{a.endpoint}"
    now = time.time_ns()
    mem = InMemorySpanExporter()
    providers = {}
    for svc in ("frontend", "payment"):
        tp = TracerProvider(resource=Resource.create({"service.name": svc, "deployment.environment": "dev"}))
        tp.add_span_processor(SimpleSpanProcessor(mem))
        providers[svc] = tp
    front = providers["frontend"].get_tracer("shop.web", "1.2")
    pay = providers["payment"].get_tracer("shop.pay", "0.9")

    root = front.start_span("GET /checkout", kind=SpanKind.SERVER, start_time=now,
                            attributes={"http.route": "/checkout", "http.status_code": 500})
    rctx = trace.set_span_in_context(root)
    client = front.start_span("charge", kind=SpanKind.CLIENT, context=rctx, start_time=now + 1_000_000)
    cctx = trace.set_span_in_context(client)
    server = pay.start_span("POST /charge", kind=SpanKind.SERVER, context=cctx, start_time=now + 2_000_000,
                            attributes={"http.route": "/charge", "amount": 12.5, "retry": False})
    server.add_event("card.declined", {"reason": "insufficient funds"}, timestamp=now + 3_000_000)
    server.set_status(Status(StatusCode.ERROR, "card declined"))
    sctx = trace.set_span_in_context(server)
    server.end(end_time=now + 20_000_000)
    client.end(end_time=now + 22_000_000)
    root.end(end_time=now + 25_000_000)
    if OTLPSpanExporter(endpoint=f"{base}/v1/traces", timeout=10).export(mem.get_finished_spans()) != SpanExportResult.SUCCESS:
        print("span export failed", file=sys.stderr)
        sys.exit(1)

    log_mem = InMemoryLogExporter()
    lp = LoggerProvider(resource=Resource.create({"service.name": "payment"}))
    lp.add_log_record_processor(SimpleLogRecordProcessor(log_mem))
    logger = lp.get_logger("shop.pay")
    logger.emit(timestamp=now + 2_500_000, context=sctx, severity_number=SeverityNumber.INFO,
                severity_text="INFO", body="charging card for order 17")
    logger.emit(timestamp=now + 3_000_000, context=sctx, severity_number=SeverityNumber.ERROR,
                severity_text="ERROR", body="card declined for order 17", attributes={"order": 17})
    if OTLPLogExporter(endpoint=f"{base}/v1/logs", timeout=10).export(log_mem.get_finished_logs()).name != "SUCCESS":
        print("log export failed", file=sys.stderr)
        sys.exit(1)

    reader = InMemoryMetricReader()
    mp = MeterProvider(resource=Resource.create({"service.name": "payment"}), metric_readers=[reader])
    mp.get_meter("shop.pay").create_counter("payments.declined", unit="1").add(1, {"reason": "funds"})
    if OTLPMetricExporter(endpoint=f"{base}/v1/metrics", timeout=10).export(reader.get_metrics_data()) != MetricExportResult.SUCCESS:
        print("metric export failed", file=sys.stderr)
        sys.exit(1)

    json.dump({"trace_id": format(root.context.trace_id, "032x"),
               "error_span_id": format(server.context.span_id, "016x")}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
