"""The Python half of the cross-language propagation test
(crates/w3c-test-service/tests/cross_language.rs).

A Python OpenTelemetry SDK service: its root span carries baggage (user=alice) and a
tracestate (set by its sampler), its CLIENT span calls the Rust w3c-test-service, which calls
back into this process's /callback, whose SERVER span records what arrived. Spans go to the
collector named by OTEL_EXPORTER_OTLP_ENDPOINT (OTLP/HTTP). Prints one JSON line: the trace id
and what the callback received.

Usage: python3 propagation_service.py RUST_TEST_URL
"""

import json
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry import baggage, context, propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import SpanKind, TraceState

ROOT_STATE = TraceState([("congo", "t61rcWkgMzE"), ("rojo@tenant", "00f067aa0ba902b7")])


class StateSampler(Sampler):
    """Samples everything; a root span gets ROOT_STATE, children keep their parent's."""

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):
        parent = trace.get_current_span(parent_context).get_span_context()
        state = parent.trace_state if parent.is_valid else ROOT_STATE
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, state)

    def get_description(self):
        return "StateSampler"


provider = TracerProvider(
    resource=Resource.create({"service.name": "py-propagation"}),
    sampler=StateSampler(),
)
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("propagation-test")
received = {}


class Callback(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        cx = propagate.extract(headers)
        with tracer.start_as_current_span("py callback", context=cx, kind=SpanKind.SERVER) as span:
            user = baggage.get_baggage("user", cx)
            span.set_attribute("received.baggage.user", str(user))
            span.set_attribute("received.tracestate", headers.get("tracestate", ""))
            received.update(
                traceparent=headers.get("traceparent", ""),
                tracestate=headers.get("tracestate", ""),
                baggage=headers.get("baggage", ""),
            )
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    rust_url = sys.argv[1]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Callback)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    callback = "http://127.0.0.1:%d/callback" % server.server_address[1]

    token = context.attach(baggage.set_baggage("user", "alice"))
    try:
        with tracer.start_as_current_span("py root") as root:
            trace_id = format(root.get_span_context().trace_id, "032x")
            with tracer.start_as_current_span("py client", kind=SpanKind.CLIENT):
                headers = {"content-type": "application/json"}
                propagate.inject(headers)
                body = json.dumps([{"url": callback, "arguments": []}]).encode()
                req = urllib.request.Request(rust_url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=20) as resp:
                    status = resp.status
    finally:
        context.detach(token)
    server.shutdown()
    provider.force_flush()
    provider.shutdown()
    print(json.dumps({"trace_id": trace_id, "status": status, "received": received}))


if __name__ == "__main__":
    main()
