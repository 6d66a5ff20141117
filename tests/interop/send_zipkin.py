#!/usr/bin/env python3
"""Sends spans with the OpenTelemetry Python SDK's real Zipkin exporters.

Usage: send_zipkin.py --format json|proto --endpoint http://HOST:PORT/api/v2/spans

Spans are recorded in memory first, then handed to the Zipkin exporter in one export call, so a
failure is seen here (exit 1). Prints what was sent as JSON on stdout; the Rust test
(crates/ferrotel/tests/zipkin.rs) compares it field by field with what ferrotel wrote.
"""

import argparse
import json
import sys

try:
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
except ImportError as e:  # the Rust test turns this exit code into its install hint
    print(f"missing Python package: {e}", file=sys.stderr)
    sys.exit(3)

T0 = 1_700_000_000_000_000_000  # fixed, whole microseconds: Zipkin carries µs


def exporter(fmt, endpoint):
    try:
        if fmt == "json":
            from opentelemetry.exporter.zipkin.json import ZipkinExporter
        else:
            from opentelemetry.exporter.zipkin.proto.http import ZipkinExporter
    except ImportError as e:
        print(f"missing Python package: {e}", file=sys.stderr)
        sys.exit(3)
    return ZipkinExporter(endpoint=endpoint, timeout=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--format", choices=["json", "proto"], required=True)
    ap.add_argument("--endpoint", required=True)
    a = ap.parse_args()

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": f"py-zipkin-{a.format}", "deployment.environment": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("zipkin-interop", "1.2.3")
    K = trace.SpanKind
    with tracer.start_as_current_span("parent", kind=K.SERVER, start_time=T0, end_on_exit=False) as root:
        root.set_attribute("http.method", "GET")
        root.set_attribute("retries", 3)
        root.set_attribute("ratio", 0.25)
        root.set_attribute("cached", True)
        root.add_event("started", {"step": 1, "phase": "init"}, timestamp=T0 + 1_000)
        root.add_event("plain", timestamp=T0 + 2_000)
        for i, kind in enumerate([K.CLIENT, K.PRODUCER, K.CONSUMER, K.INTERNAL]):
            child = tracer.start_span(f"child-{i}", kind=kind, start_time=T0 + (i + 1) * 10_000)
            child.set_attribute("peer.service", "db") if kind == K.CLIENT else None
            if i == 1:
                child.set_status(trace.Status(trace.StatusCode.ERROR, "queue full"))
            if i == 2:
                child.set_status(trace.Status(trace.StatusCode.OK))
            child.end(end_time=T0 + (i + 1) * 10_000 + 5_000)
        root.end(end_time=T0 + 100_000)

    spans = memory.get_finished_spans()
    if exporter(a.format, a.endpoint).export(spans) != SpanExportResult.SUCCESS:
        print("Zipkin export failed", file=sys.stderr)
        sys.exit(1)
    names = {0: "UNSET", 1: "OK", 2: "ERROR"}
    out = []
    for s in spans:
        out.append({
            "trace_id": f"{s.context.trace_id:032x}",
            "span_id": f"{s.context.span_id:016x}",
            "parent_id": f"{s.parent.span_id:016x}" if s.parent else "",
            "name": s.name,
            "kind": s.kind.name,
            "start": s.start_time,
            "end": s.end_time,
            "attributes": dict(s.attributes),
            "events": [{"name": e.name, "time": e.timestamp, "attributes": dict(e.attributes)} for e in s.events],
            "status": names[s.status.status_code.value],
            "status_message": s.status.description or "",
            "service": s.resource.attributes["service.name"],
            "scope": [s.instrumentation_scope.name, s.instrumentation_scope.version],
        })
    print(json.dumps(out))


if __name__ == "__main__":
    main()
