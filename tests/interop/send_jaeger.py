#!/usr/bin/env python3
"""Sends spans with real Jaeger clients to ferrotel's jaeger receiver.

Usage: send_jaeger.py --client jaeger-client|otel-agent|otel-http|otel-grpc --target T

- jaeger-client: the Jaeger Python client (jaeger-client on PyPI), agent UDP, Thrift compact;
  T is the UDP port.
- otel-agent: the OpenTelemetry SDK's Jaeger Thrift exporter to an agent (UDP compact); T is
  the UDP port.
- otel-http: the same exporter to a collector (POST /api/traces, Thrift binary); T is the URL.
- otel-grpc: the OpenTelemetry SDK's Jaeger protobuf exporter (gRPC PostSpans); T is host:port.

Runs in tests/interop/.venv-jaeger (.ci/run installs it: these packages pin old thrift and
protobuf). Prints what was sent as JSON, in OTLP terms (ids in hex, times in ns, attributes as
[type, value]); crates/ferrotel/tests/jaeger.rs compares it with what ferrotel wrote. The
expected values follow the translation rules of docs/migration.md ("Jaeger").
"""

import argparse
import json
import sys
import time

T0_NS = 1_700_000_000_000_000_000  # whole microseconds: Jaeger Thrift carries µs


def typed(v):
    if isinstance(v, bool):
        return ["bool", v]
    if isinstance(v, int):
        return ["int", v]
    if isinstance(v, float):
        return ["double", v]
    return ["str", str(v)]


def jaeger_client(port):
    try:
        import opentracing
        from jaeger_client import Config
        from jaeger_client.thrift import timestamp_micros
        from jaeger_client.thrift_gen.jaeger import ttypes
    except ImportError as e:
        print(f"missing Python package: {e}", file=sys.stderr)
        sys.exit(3)
    config = Config(
        config={
            "sampler": {"type": "const", "param": 1},
            "local_agent": {"reporting_host": "127.0.0.1", "reporting_port": port},
            "logging": False,
            "generate_128bit_trace_id": True,
            "reporter_flush_interval": 0.05,
        },
        service_name="py-jaeger-client",
        validate=True,
    )
    tracer = config.initialize_tracer()
    t0 = T0_NS / 1e9
    root = tracer.start_span(
        "root",
        tags={"span.kind": "server", "http.method": "GET", "retries": 3, "ratio": 0.25, "cached": True},
        start_time=t0,
    )
    root.log_kv({"event": "started", "step": 1}, timestamp=t0 + 0.001)
    root.log_kv({"message": "named by message"}, timestamp=t0 + 0.002)
    child = tracer.start_span("child", child_of=root, tags={"span.kind": "client", "error": True}, start_time=t0 + 0.01)
    child.finish(finish_time=t0 + 0.015)
    other = tracer.start_span("other-trace", tags={"span.kind": "producer"}, start_time=t0)
    other.finish(finish_time=t0 + 0.001)
    follower = tracer.start_span(
        "follower",
        references=[opentracing.follows_from(root.context), opentracing.follows_from(other.context)],
        tags={"span.kind": "consumer", "error": False},
        start_time=t0 + 0.02,
    )
    follower.finish(finish_time=t0 + 0.03)
    root.finish(finish_time=t0 + 0.1)
    spans = [root, child, other, follower]
    time.sleep(0.5)
    tracer.close()
    time.sleep(0.5)

    def tag_value(t):
        return {
            ttypes.TagType.STRING: lambda: ["str", t.vStr],
            ttypes.TagType.BOOL: lambda: ["bool", t.vBool],
            ttypes.TagType.LONG: lambda: ["int", t.vLong],
            ttypes.TagType.DOUBLE: lambda: ["double", t.vDouble],
        }[t.vType]()

    out = []
    for s in spans:
        tags = {t.key: tag_value(t) for t in s.tags}
        kind = tags.pop("span.kind", ["str", "unspecified"])[1].upper()
        status = ["UNSET", ""]
        if tags.get("error") == ["bool", True]:
            del tags["error"]
            status = ["ERROR", ""]
        events = []
        for log in s.logs:
            fields = {f.key: tag_value(f) for f in log.fields}
            name = fields.pop("event", None) or fields.pop("message", ["str", ""])
            events.append({"name": name[1], "time": log.timestamp * 1000, "attributes": fields})
        parent = s.parent_id or 0
        links = []
        for r in s.references or []:
            rtype = "child_of" if r.type == opentracing.ReferenceType.CHILD_OF else "follows_from"
            if rtype == "child_of" and r.referenced_context.span_id == parent:
                continue
            links.append({
                "trace_id": f"{r.referenced_context.trace_id:032x}",
                "span_id": f"{r.referenced_context.span_id:016x}",
                "ref_type": rtype,
            })
        start_us = timestamp_micros(s.start_time)
        out.append({
            "trace_id": f"{s.trace_id:032x}",
            "span_id": f"{s.span_id:016x}",
            "parent_id": f"{parent:016x}" if parent else "",
            "name": s.operation_name,
            "kind": kind,
            "start": start_us * 1000,
            "end": (start_us + timestamp_micros(s.end_time - s.start_time)) * 1000,
            "attributes": tags,
            "events": events,
            "links": links,
            "status": status,
            "resource": {"service.name": ["str", "py-jaeger-client"], "opencensus.exporterversion": ["str", "Jaeger-" + tracer.tags["jaeger.version"]]},
            "scope": ["", ""],
        })
    return out


def otel(client, target):
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        if client == "otel-grpc":
            from opentelemetry.exporter.jaeger.proto.grpc import JaegerExporter
            exporter = JaegerExporter(collector_endpoint=target, insecure=True)
        elif client == "otel-http":
            from opentelemetry.exporter.jaeger.thrift import JaegerExporter
            exporter = JaegerExporter(collector_endpoint=target)
        else:
            from opentelemetry.exporter.jaeger.thrift import JaegerExporter
            exporter = JaegerExporter(agent_host_name="127.0.0.1", agent_port=int(target))
    except ImportError as e:
        print(f"missing Python package: {e}", file=sys.stderr)
        sys.exit(3)
    memory = InMemorySpanExporter()
    resource = Resource.create({"service.name": f"py-{client}", "deployment.environment": "test"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("jaeger-interop", "1.2.3")
    K = trace.SpanKind
    # A link to a span of another trace (a link within the trace would read as the parent
    # of a root span, as Jaeger's own model has it).
    elsewhere = trace.SpanContext(trace_id=0x0AF7651916CD43DD8448EB211C80319C, span_id=0x00F067AA0BA902B7, is_remote=True)
    with tracer.start_as_current_span("parent", kind=K.SERVER, start_time=T0_NS, end_on_exit=False,
                                      links=[trace.Link(elsewhere, {"why": "batch"})]) as root:
        root.set_attribute("http.method", "GET")
        root.set_attribute("retries", 3)
        root.set_attribute("ratio", 0.25)
        root.set_attribute("cached", True)
        root.add_event("started", {"step": 1, "phase": "init"}, timestamp=T0_NS + 1_000)
        root.add_event("plain", timestamp=T0_NS + 2_000)
        for i, kind in enumerate([K.CLIENT, K.PRODUCER, K.CONSUMER, K.INTERNAL]):
            child = tracer.start_span(f"child-{i}", kind=kind, start_time=T0_NS + (i + 1) * 10_000)
            if i == 1:
                child.set_status(trace.Status(trace.StatusCode.ERROR, "queue full"))
            if i == 2:
                child.set_status(trace.Status(trace.StatusCode.OK))
            child.end(end_time=T0_NS + (i + 1) * 10_000 + 5_000)
        root.end(end_time=T0_NS + 100_000)
    spans = memory.get_finished_spans()
    if exporter.export(spans) != SpanExportResult.SUCCESS:
        print("Jaeger export failed", file=sys.stderr)
        sys.exit(1)
    if client == "otel-agent":
        time.sleep(0.3)  # UDP: give the receiver a moment before the test reads the file

    # Times as the exporter puts them on the wire (its own conversions: Thrift rounds to µs,
    # the protobuf exporter goes through a float and loses a few ns).
    if client == "otel-grpc":
        from opentelemetry.exporter.jaeger.proto.grpc.translate import (
            _duration_from_two_time_stamps, _proto_timestamp_from_epoch_nanos)

        def ns(ts):
            return ts.seconds * 10**9 + ts.nanos

        def wire_time(t):
            return ns(_proto_timestamp_from_epoch_nanos(t))

        def wire_span(start, end):
            a, b = _proto_timestamp_from_epoch_nanos(start), _proto_timestamp_from_epoch_nanos(end)
            return ns(a), ns(a) + ns(_duration_from_two_time_stamps(a, b))
    else:
        from opentelemetry.exporter.jaeger.thrift.translate import _nsec_to_usec_round

        def wire_time(t):
            return _nsec_to_usec_round(t) * 1000

        def wire_span(start, end):
            us = _nsec_to_usec_round(start)
            return us * 1000, (us + _nsec_to_usec_round(end - start)) * 1000
    out = []
    for s in spans:
        # The exporters send resource attributes as span tags too; Go keeps them there.
        attrs = {k: typed(v) for k, v in s.attributes.items()}
        attrs.update({k: typed(v) for k, v in s.resource.attributes.items()})
        status = {0: "UNSET", 1: "OK", 2: "ERROR"}[s.status.status_code.value]
        start, end = wire_span(s.start_time, s.end_time)
        out.append({
            "trace_id": f"{s.context.trace_id:032x}",
            "span_id": f"{s.context.span_id:016x}",
            "parent_id": f"{s.parent.span_id:016x}" if s.parent else "",
            "name": s.name,
            "kind": s.kind.name,
            "start": start,
            "end": end,
            "attributes": attrs,
            "events": [{"name": e.name, "time": wire_time(e.timestamp), "attributes": {k: typed(v) for k, v in e.attributes.items()}} for e in s.events],
            "links": [{"trace_id": f"{l.context.trace_id:032x}", "span_id": f"{l.context.span_id:016x}", "ref_type": "follows_from"} for l in s.links],
            "status": [status, s.status.description or ""],
            "resource": {"service.name": ["str", f"py-{client}"]},
            "scope": [s.instrumentation_scope.name, s.instrumentation_scope.version],
        })
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", choices=["jaeger-client", "otel-agent", "otel-http", "otel-grpc"], required=True)
    ap.add_argument("--target", required=True)
    a = ap.parse_args()
    if a.client == "jaeger-client":
        out = jaeger_client(int(a.target))
    else:
        out = otel(a.client, a.target)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
