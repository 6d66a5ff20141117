#!/usr/bin/env python3
"""Sends one-span traces that started at given times in the past, with the OpenTelemetry Python
SDK's OTLP/HTTP exporter, for the time-window search tests of the local all-in-one
(crates/ferrotel/tests/local.rs).

Usage: send_at_times.py --endpoint HOST:PORT --ago SECONDS [--ago SECONDS ...]
Each trace: service `clock`, a SERVER span `tick` of 10 ms starting SECONDS before now, with
the attribute `tick.ago_s`. Prints {"now_ns": ..., "traces": {"SECONDS": trace id}} as JSON.
Exit 3: the SDK is not installed.
"""

import argparse
import json
import sys
import time

try:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind
except ImportError as e:
    print(f"missing Python package: {e}", file=sys.stderr)
    sys.exit(3)

MS = 1_000_000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--ago", type=int, action="append", required=True)
    a = ap.parse_args()
    now = time.time_ns()
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "clock"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("clock")
    ids = {}
    for ago in a.ago:
        start = now - ago * 1_000 * MS
        span = tracer.start_span("tick", kind=SpanKind.SERVER, start_time=start, attributes={"tick.ago_s": ago})
        span.end(end_time=start + 10 * MS)
        ids[str(ago)] = format(span.get_span_context().trace_id, "032x")
    exporter = OTLPSpanExporter(endpoint=f"http://{a.endpoint}/v1/traces", timeout=10)
    if exporter.export(memory.get_finished_spans()) != SpanExportResult.SUCCESS:
        print("export failed", file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"now_ns": now, "traces": ids}))


if __name__ == "__main__":
    main()
