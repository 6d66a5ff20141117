#!/usr/bin/env python3
"""Sends spans with fixed durations through the OpenTelemetry Python SDK's OTLP/HTTP exporter.

Usage: send_timed_spans.py --endpoint HOST:PORT

For the spanmetrics test (crates/ferrotel/tests/spanmetrics.rs): each span has an exact start
and end, so the test can work out the calls and histogram buckets by hand. Spans are recorded in
memory, then exported in one call (an export failure is exit 1). Prints the spans sent as JSON
(name, trace and span ids in hex, duration in nanoseconds); exit code 3 means a missing package.
"""

import argparse
import json
import sys

try:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
except ImportError as e:
    print(f"missing Python package: {e}", file=sys.stderr)
    sys.exit(3)

T0 = 1_700_000_000_000_000_000
MS = 1_000_000

# (name, kind, error, duration in ms)
SPANS = [
    ("GET /cart", trace.SpanKind.SERVER, False, 1),
    ("GET /cart", trace.SpanKind.SERVER, False, 3),
    ("GET /cart", trace.SpanKind.SERVER, False, 3),
    ("GET /cart", trace.SpanKind.SERVER, False, 120),
    ("charge", trace.SpanKind.CLIENT, True, 7),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    args = ap.parse_args()
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("timed")
    for name, kind, error, ms in SPANS:
        span = tracer.start_span(name, kind=kind, start_time=T0)
        if error:
            span.set_status(trace.Status(trace.StatusCode.ERROR, "declined"))
        span.end(end_time=T0 + ms * MS)
    spans = memory.get_finished_spans()
    exporter = OTLPSpanExporter(endpoint=f"http://{args.endpoint}/v1/traces", timeout=10)
    if exporter.export(spans) != SpanExportResult.SUCCESS:
        print("export failed", file=sys.stderr)
        sys.exit(1)
    out = [
        {
            "name": s.name,
            "trace_id": f"{s.context.trace_id:032x}",
            "span_id": f"{s.context.span_id:016x}",
            "duration_ns": s.end_time - s.start_time,
        }
        for s in spans
    ]
    print(json.dumps({"spans": out}))


if __name__ == "__main__":
    main()
