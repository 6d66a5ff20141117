"""A plain Kafka client for crates/ferrotel/tests/kafka.rs (confluent-kafka, the official protos).

    kafka_client.py consume BROKER TOPIC COUNT  -> JSON: [{"key":..., "spans":[names]}] of the
        first COUNT messages, each value decoded as an OTLP TracesData
    kafka_client.py produce BROKER TOPIC NAME... -> produces one TracesData with those span names
"""
import json
import sys

try:
    from confluent_kafka import Consumer, Producer
    from opentelemetry.proto.common.v1 import common_pb2
    from opentelemetry.proto.resource.v1 import resource_pb2
    from opentelemetry.proto.trace.v1 import trace_pb2
except ImportError as e:  # exit 3: the interop clients are not installed (see run_client)
    print(e, file=sys.stderr)
    sys.exit(3)


def consume(broker, topic, count):
    c = Consumer({
        "bootstrap.servers": broker,
        "group.id": "python-interop",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    c.subscribe([topic])
    out = []
    idle = 0
    while len(out) < count and idle < 300:
        m = c.poll(0.1)
        if m is None:
            idle += 1
            continue
        if m.error():
            raise SystemExit(f"consumer error: {m.error()}")
        data = trace_pb2.TracesData()
        data.ParseFromString(m.value())
        names = [s.name for rs in data.resource_spans for ss in rs.scope_spans for s in ss.spans]
        service = [a.value.string_value for rs in data.resource_spans
                   for a in rs.resource.attributes if a.key == "service.name"]
        key = m.key().decode() if m.key() is not None else None
        out.append({"key": key, "spans": names, "service": service})
    c.close()
    print(json.dumps(out))


def produce(broker, topic, names):
    data = trace_pb2.TracesData()
    rs = data.resource_spans.add()
    rs.resource.CopyFrom(resource_pb2.Resource(attributes=[
        common_pb2.KeyValue(key="service.name", value=common_pb2.AnyValue(string_value="python-kafka"))]))
    ss = rs.scope_spans.add()
    for i, n in enumerate(names):
        s = ss.spans.add()
        s.trace_id = bytes([0xab] * 16)
        s.span_id = (i + 1).to_bytes(8, "big")
        s.name = n
    p = Producer({"bootstrap.servers": broker})
    p.produce(topic, data.SerializeToString(), key=b"python")
    if p.flush(20) != 0:
        raise SystemExit("not delivered")
    print(json.dumps({"produced": len(names)}))


if __name__ == "__main__":
    cmd, broker, topic = sys.argv[1:4]
    if cmd == "consume":
        consume(broker, topic, int(sys.argv[4]))
    else:
        produce(broker, topic, sys.argv[4:])
