#!/usr/bin/env python3
"""Sends a multi-service checkout trace, logs inside its spans and metrics with the
OpenTelemetry Python SDK's real OTLP/HTTP exporters, for the browser test of ferrotel's UI
(crates/ferrotel/tests/ui_browser.rs, tests/ui/ui_test.mjs).

Usage: send_checkout.py --endpoint HOST:PORT

The trace: frontend `GET /checkout` -> backend `charge card` (status error, an exception event)
-> db `SELECT accounts`, and backend `load cart` -> db `SELECT cart`; then three one-span
frontend traces just before it (`GET /cart` 120 ms, `GET /checkout` 4 ms, `GET /checkout` 150 ms
on route /checkout/express) for the search filters. Times are now, so the UI's default time
range finds them. Prints the ids as JSON on stdout.
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
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

    try:
        from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter as InMemoryLogExporter
    except ImportError:  # older SDKs
        from opentelemetry.sdk._logs.export import InMemoryLogExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError as e:  # the Rust test turns this exit code into its install hint
    print(f"missing Python package: {e}", file=sys.stderr)
    sys.exit(3)

MS = 1_000_000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    a = ap.parse_args()
    base = f"http://{a.endpoint}"
    span_exp = OTLPSpanExporter(endpoint=f"{base}/v1/traces", timeout=10)
    metric_exp = OTLPMetricExporter(endpoint=f"{base}/v1/metrics", timeout=10)
    log_exp = OTLPLogExporter(endpoint=f"{base}/v1/logs", timeout=10)

    mem = InMemorySpanExporter()
    log_mem = InMemoryLogExporter()
    tracers, loggers = {}, {}
    for svc in ("frontend", "backend", "db"):
        res = Resource.create({"service.name": svc, "deployment.environment": "ui-test"})
        tp = TracerProvider(resource=res)
        tp.add_span_processor(SimpleSpanProcessor(mem))
        tracers[svc] = tp.get_tracer(f"ui-test.{svc}", "1.0")
        lp = LoggerProvider(resource=res)
        lp.add_log_record_processor(SimpleLogRecordProcessor(log_mem))
        loggers[svc] = lp.get_logger(f"ui-test.{svc}")

    t0 = time.time_ns() - 2_000 * MS

    def log(svc, span, at, sev, text, body, **attrs):
        loggers[svc].emit(
            timestamp=at,
            observed_timestamp=at,
            context=trace.set_span_in_context(span),
            severity_number=sev,
            severity_text=text,
            body=body,
            attributes=attrs,
        )

    root = tracers["frontend"].start_span(
        "GET /checkout", kind=SpanKind.SERVER, start_time=t0,
        attributes={"http.request.method": "GET", "http.route": "/checkout", "http.response.status_code": 502},
    )
    log("frontend", root, t0 + 1 * MS, SeverityNumber.INFO, "INFO", "checkout started for cart 42", cart=42)
    ctx_root = trace.set_span_in_context(root)

    cart = tracers["backend"].start_span("load cart", context=ctx_root, kind=SpanKind.SERVER, start_time=t0 + 5 * MS,
                                          attributes={"cart.id": 42})
    q1 = tracers["db"].start_span("SELECT cart", context=trace.set_span_in_context(cart), kind=SpanKind.CLIENT,
                                  start_time=t0 + 8 * MS, attributes={"db.system": "postgresql", "db.statement": "SELECT * FROM cart WHERE id = $1"})
    q1.end(end_time=t0 + 20 * MS)
    cart.end(end_time=t0 + 25 * MS)

    charge = tracers["backend"].start_span("charge card", context=ctx_root, kind=SpanKind.SERVER, start_time=t0 + 30 * MS,
                                            attributes={"payment.provider": "acme", "order.id": 17})
    log("backend", charge, t0 + 31 * MS, SeverityNumber.INFO, "INFO", "charging card for order 17", order=17)
    q2 = tracers["db"].start_span("SELECT accounts", context=trace.set_span_in_context(charge), kind=SpanKind.CLIENT,
                                  start_time=t0 + 35 * MS, attributes={"db.system": "postgresql"})
    log("db", q2, t0 + 40 * MS, SeverityNumber.DEBUG, "DEBUG", "accounts query planned", rows=1)
    q2.end(end_time=t0 + 60 * MS)
    charge.add_event("exception", {"exception.type": "CardDeclined", "exception.message": "card declined by issuer"},
                     timestamp=t0 + 80 * MS)
    charge.set_status(Status(StatusCode.ERROR, "card declined"))
    log("backend", charge, t0 + 81 * MS, SeverityNumber.ERROR, "ERROR", "card declined for order 17", order=17)
    charge.end(end_time=t0 + 90 * MS)
    root.end(end_time=t0 + 100 * MS)

    # Three more frontend traces, older than the checkout trace, each unlike it in one respect,
    # for the search form's operation, tag and duration filters (tests/ui/ui_test.mjs).
    decoys = {}
    for key, name, route, ms, back in (
        ("cart", "GET /cart", "/cart", 120, 900),
        ("quick", "GET /checkout", "/checkout", 4, 700),
        ("express", "GET /checkout", "/checkout/express", 150, 500),
    ):
        d = tracers["frontend"].start_span(name, kind=SpanKind.SERVER, start_time=t0 - back * MS,
                                           attributes={"http.request.method": "GET", "http.route": route})
        d.end(end_time=t0 - back * MS + ms * MS)
        decoys[key] = format(d.context.trace_id, "032x")

    spans = mem.get_finished_spans()
    if span_exp.export(spans) != SpanExportResult.SUCCESS:
        print("span export failed", file=sys.stderr)
        sys.exit(1)
    if log_exp.export(log_mem.get_finished_logs()).name != "SUCCESS":
        print("log export failed", file=sys.stderr)
        sys.exit(1)

    # Metrics: a counter, a histogram and a gauge, collected three times so each series has several points.
    reader = InMemoryMetricReader()
    mp = MeterProvider(resource=Resource.create({"service.name": "backend"}), metric_readers=[reader])
    meter = mp.get_meter("ui-test.backend")
    orders = meter.create_counter("checkout.orders", unit="1", description="checkout attempts")
    latency = meter.create_histogram("checkout.duration", unit="ms", description="checkout latency")
    depth = meter.create_gauge("checkout.queue_depth", unit="1", description="orders waiting")
    for round_ in range(3):
        depth.set(5 + 3 * round_, {"queue": "payments"})
        for i in range(10):
            orders.add(1, {"outcome": "ok" if i % 4 else "declined"})
            latency.record(20 + 7 * i + 30 * round_, {"route": "/checkout"})
        if metric_exp.export(reader.get_metrics_data()) != MetricExportResult.SUCCESS:
            print("metric export failed", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.3)

    for e in (span_exp, metric_exp, log_exp):
        e.shutdown()
    by_name = {s.name: s for s in spans if s.context.trace_id == root.context.trace_id}
    json.dump({
        "trace_id": format(root.context.trace_id, "032x"),
        "spans": {n: format(s.context.span_id, "016x") for n, s in by_name.items()},
        "decoys": decoys,
        "t0_ns": t0,
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
