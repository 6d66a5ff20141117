#!/usr/bin/env python3
"""Sends a small trace with py_zipkin (Yelp's Zipkin client) in one of its encodings.

Usage: send_py_zipkin.py --encoding V1_JSON|V1_THRIFT|V2_JSON|V2_PROTO3 --url http://HOST:PORT/api/v1/spans

V1_THRIFT needs py_zipkin 1.2.5 (1.2.7 dropped Thrift), which .ci/run installs in a venv of its
own, tests/interop/.venv-py-zipkin-thrift.

py_zipkin posts nothing itself: its transport handler gets the encoded payload, which this
script POSTs to --url with the encoding's content type (a non-2xx answer exits 1). Times are
fixed (py_zipkin takes `timestamp`/`duration`), so the spans are known exactly; what was sent
is printed as JSON on stdout for crates/ferrotel/tests/zipkin.rs to compare with what ferrotel
wrote.
"""

import argparse
import json
import sys
import urllib.request

try:
    from py_zipkin import Kind
    from py_zipkin.encoding import Encoding
    from py_zipkin.transport import BaseTransportHandler
    from py_zipkin.zipkin import zipkin_span
except ImportError as e:  # the Rust test turns this exit code into its install hint
    print(f"missing Python package: {e}", file=sys.stderr)
    sys.exit(3)

T0 = 1_700_000_000.0  # seconds; py_zipkin sends microseconds

CONTENT_TYPES = {
    "V1_JSON": "application/json",
    "V1_THRIFT": "application/x-thrift",
    "V2_JSON": "application/json",
    "V2_PROTO3": "application/x-protobuf",
}


class Post(BaseTransportHandler):
    def __init__(self, url, content_type):
        self.url = url
        self.content_type = content_type
        self.posts = 0

    def get_max_payload_bytes(self):
        return None

    def send(self, payload):
        body = payload if isinstance(payload, bytes) else payload.encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": self.content_type})
        with urllib.request.urlopen(req, timeout=10) as r:
            if r.status // 100 != 2:
                print(f"POST {self.url}: HTTP {r.status}", file=sys.stderr)
                sys.exit(1)
        self.posts += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--encoding", choices=list(CONTENT_TYPES), required=True)
    ap.add_argument("--url", required=True)
    a = ap.parse_args()
    enc = Encoding[a.encoding]
    transport = Post(a.url, CONTENT_TYPES[a.encoding])
    service = f"py-zipkin-{a.encoding.lower()}"
    sent = []

    def record(span, name, kind, start, duration, tags, annotations):
        attrs = span.zipkin_attrs
        sent.append({
            "trace_id": attrs.trace_id,
            "span_id": attrs.span_id,
            "parent_id": attrs.parent_span_id,
            "name": name,
            "kind": kind,
            "start_us": None if start is None else round(start * 1e6),
            "duration_us": None if duration is None else round(duration * 1e6),
            "service": service,
            "tags": tags,
            "annotations": {k: round(v * 1e6) for k, v in annotations.items()},
        })

    root_tags = {"http.method": "GET", "http.route": "/orders"}
    root_notes = {"cache miss": T0 + 0.001}
    with zipkin_span(
        service_name=service,
        span_name="GET /orders",
        transport_handler=transport,
        sample_rate=100.0,
        encoding=enc,
        kind=Kind.SERVER,
        timestamp=T0,
        duration=0.050,
        binary_annotations=dict(root_tags),
        annotations=dict(root_notes),
        # 64-bit ids in v1 JSON, 128-bit elsewhere (Thrift sends the high half as trace_id_high).
        use_128bit_trace_id=a.encoding != "V1_JSON",
    ) as root:
        child_tags = {"db.system": "postgresql"}
        with zipkin_span(
            service_name=service,
            span_name="select orders",
            kind=Kind.CLIENT,
            timestamp=T0 + 0.002,
            duration=0.010,
            binary_annotations=dict(child_tags),
        ) as child:
            pass
        record(child, "select orders", "CLIENT", T0 + 0.002, 0.010, child_tags, {})
        with zipkin_span(
            service_name=service,
            span_name="render",
            kind=Kind.LOCAL,
            timestamp=T0 + 0.020,
            duration=0.005,
        ) as local:
            pass
        record(local, "render", "LOCAL", T0 + 0.020, 0.005, {}, {})
    # py_zipkin stamps a root span with the clock, whatever `timestamp` says.
    record(root, "GET /orders", "SERVER", None, None, root_tags, root_notes)
    if transport.posts == 0:
        print("py_zipkin sent nothing", file=sys.stderr)
        sys.exit(1)
    json.dump(sent, sys.stdout)


if __name__ == "__main__":
    main()
