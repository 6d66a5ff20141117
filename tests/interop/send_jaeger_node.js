#!/usr/bin/env node
// Sends spans with the Node Jaeger client (jaeger-client on npm) to ferrotel's jaeger receiver.
//
// Usage: node send_jaeger_node.js udp PORT      (agent UDP, Thrift binary: the client's only UDP
//                                                protocol, so the receiver's thrift_binary port)
//        node send_jaeger_node.js http URL      (collector HTTP, POST /api/traces, Thrift binary)
//
// Prints what was sent as JSON in the notation of send_jaeger.py (OTLP terms: ids in hex, times
// in ns, attributes as [type, value]), for crates/ferrotel/tests/jaeger.rs. The expected values
// are read from the client's own Thrift conversion (ThriftUtils.spanToThrift, what its senders
// write), mapped by the rules of docs/migration.md ("Jaeger").
'use strict';

let jaeger, opentracing, ThriftUtils;
try {
  jaeger = require('jaeger-client');
  opentracing = require('opentracing');
  ThriftUtils = require('jaeger-client/dist/src/thrift').default;
} catch (e) {
  console.error(`missing Node package: ${e.message}`);
  process.exit(3);
}

const [sender, target] = process.argv.slice(2);
if (!['udp', 'http'].includes(sender) || !target) {
  console.error('usage: send_jaeger_node.js udp PORT | http URL');
  process.exit(2);
}

const service = `node-jaeger-client-${sender}`;
const reporter = sender === 'udp'
  ? { agentHost: '127.0.0.1', agentPort: Number(target), flushIntervalMs: 50 }
  : { collectorEndpoint: target, flushIntervalMs: 50 };
const errors = [];
const logger = { info() {}, error(m) { errors.push(m); } };
const tracer = jaeger.initTracer(
  { serviceName: service, sampler: { type: 'const', param: 1 }, reporter },
  { logger, traceId128bit: true },
);

// Fixed times (ms since the epoch, with a fraction: the client sends whole µs).
const T0 = 1_700_000_000_000;
const root = tracer.startSpan('root', {
  startTime: T0,
  tags: { 'span.kind': 'server', 'http.method': 'GET', retries: 3, ratio: 0.25, cached: true },
});
root.log({ event: 'started', step: 1 }, T0 + 1.5);
root.log({ message: 'named by message', detail: { a: 1 } }, T0 + 2);
const child = tracer.startSpan('child', {
  childOf: root,
  startTime: T0 + 10.25,
  tags: { 'span.kind': 'client', error: true },
});
child.finish(T0 + 15);
const other = tracer.startSpan('other-trace', { startTime: T0, tags: { 'span.kind': 'producer' } });
other.finish(T0 + 1);
const follower = tracer.startSpan('follower', {
  references: [opentracing.followsFrom(root.context()), opentracing.followsFrom(other.context())],
  startTime: T0 + 20,
  tags: { 'span.kind': 'consumer', error: false },
});
follower.finish(T0 + 30);
root.finish(T0 + 100);
const spans = [root, child, other, follower];

const hex = (b) => Buffer.from(b).toString('hex');
const i64 = (b) => Buffer.from(b).readBigInt64BE();

function typed(t) {
  switch (t.vType) {
    case 'STRING': return ['str', t.vStr];
    case 'BOOL': return ['bool', t.vBool];
    case 'DOUBLE': return ['double', t.vDouble];
    case 'LONG': return ['int', Number(i64(t.vLong))];
    default: throw new Error(`tag type ${t.vType} not expected from this script`);
  }
}

function expected(span) {
  const t = ThriftUtils.spanToThrift(span);
  const tags = Object.fromEntries(t.tags.map((g) => [g.key, typed(g)]));
  const kind = (tags['span.kind'] || ['str', 'unspecified'])[1].toUpperCase();
  delete tags['span.kind'];
  let status = ['UNSET', ''];
  if (tags.error && tags.error[0] === 'bool' && tags.error[1]) {
    delete tags.error;
    status = ['ERROR', ''];
  }
  const events = t.logs.map((l) => {
    const fields = Object.fromEntries(l.fields.map((f) => [f.key, typed(f)]));
    const name = fields.event || fields.message || ['str', ''];
    if (fields.event) delete fields.event; else delete fields.message;
    return { name: name[1], time: i64(l.timestamp) * 1000n, attributes: fields };
  });
  // A root span's parentSpanId is 0 (eight zero bytes): no parent.
  const parent = /^0*$/.test(hex(t.parentSpanId)) ? '' : hex(t.parentSpanId);
  const links = t.references
    .filter((r) => !(r.refType === 'CHILD_OF' && hex(r.spanId) === parent))
    .map((r) => ({
      trace_id: hex(r.traceIdHigh) + hex(r.traceIdLow),
      span_id: hex(r.spanId),
      ref_type: r.refType === 'CHILD_OF' ? 'child_of' : 'follows_from',
    }));
  const start = i64(t.startTime);
  return {
    trace_id: hex(t.traceIdHigh) + hex(t.traceIdLow),
    span_id: hex(t.spanId),
    parent_id: parent,
    name: t.operationName,
    kind,
    start: start * 1000n,
    end: (start + i64(t.duration)) * 1000n,
    attributes: tags,
    events,
    links,
    status,
    resource: {
      'service.name': ['str', service],
      'opencensus.exporterversion': ['str', `Jaeger-${tracer._tags['jaeger.version']}`],
      'host.name': ['str', tracer._tags.hostname],
    },
    scope: ['', ''],
  };
}

const out = spans.map(expected);
tracer.close(() => {
  // UDP: the datagram is on its way; give the receiver a moment before the test reads.
  setTimeout(() => {
    if (errors.length) {
      console.error(`jaeger-client reported: ${errors.join('; ')}`);
      process.exit(1);
    }
    // Nanoseconds since the epoch exceed a double's 53 bits: written as JSON integers.
    const json = JSON.stringify(out, (_, v) => (typeof v === 'bigint' ? `@big:${v}` : v));
    console.log(json.replace(/"@big:(-?\d+)"/g, '$1'));
  }, sender === 'udp' ? 300 : 0);
});
