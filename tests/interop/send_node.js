#!/usr/bin/env node
// Sends traces with the OpenTelemetry JS SDK's real OTLP exporters:
// @opentelemetry/exporter-trace-otlp-grpc and @opentelemetry/exporter-trace-otlp-http (JSON).
//
// Usage: node send_node.js grpc|http HOST:PORT RUN
//
// Spans are recorded in memory, then handed to the exporter in one export call so its result
// decides the exit code. Prints what was sent as JSON on stdout for
// crates/ferrotel/tests/interop_clients.rs to compare with what ferrotel wrote.
'use strict';

let sdk, resources, grpcExp, httpExp, api;
try {
  api = require('@opentelemetry/api');
  sdk = require('@opentelemetry/sdk-trace-base');
  resources = require('@opentelemetry/resources');
  grpcExp = require('@opentelemetry/exporter-trace-otlp-grpc');
  httpExp = require('@opentelemetry/exporter-trace-otlp-http');
} catch (e) {
  console.error(`missing Node package: ${e.message}`);
  process.exit(3);
}

const [protocol, endpoint, run] = process.argv.slice(2);
if (!['grpc', 'http'].includes(protocol) || !endpoint || !run) {
  console.error('usage: send_node.js grpc|http HOST:PORT RUN');
  process.exit(2);
}

// Fixed times (HrTime: [seconds, nanoseconds]) so the test can check them exactly.
const T0 = 1_700_000_000;
const hr = (extraNanos) => [T0, extraNanos];
const nanos = (t) => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);

const mem = new sdk.InMemorySpanExporter();
const provider = new sdk.BasicTracerProvider({
  resource: resources.resourceFromAttributes({ 'service.name': `${run}-svc`, 'interop.client': 'node' }),
  spanProcessors: [new sdk.SimpleSpanProcessor(mem)],
});
const tracer = provider.getTracer('interop.node', '1.0');
const root = tracer.startSpan(`${run}-root`, { startTime: hr(0), attributes: { i: 0, client: 'node' } });
const ctx = api.trace.setSpan(api.context.active(), root);
for (const i of [1, 2]) {
  const child = tracer.startSpan(
    `${run}-child-${i}`,
    { startTime: hr(i * 1000), attributes: { i, ok: i % 2 === 1, ratio: i / 4, tag: `t${i}` } },
    ctx,
  );
  child.end(hr(i * 1000 + 500));
}
root.end(hr(10_000));

const spans = mem.getFinishedSpans();
const expected = {
  resource: { 'service.name': `${run}-svc` },
  spans: spans.map((s) => ({
    name: s.name,
    trace_id: s.spanContext().traceId,
    span_id: s.spanContext().spanId,
    parent_span_id: (s.parentSpanContext && s.parentSpanContext.spanId) || s.parentSpanId || '',
    start: String(nanos(s.startTime)), // strings: nanoseconds exceed 2^53
    end: String(nanos(s.endTime)),
    attributes: s.attributes,
  })),
  logs: [],
  metrics: [],
};

const exporter = protocol === 'grpc'
  ? new grpcExp.OTLPTraceExporter({ url: `http://${endpoint}`, timeoutMillis: 10000 })
  : new httpExp.OTLPTraceExporter({ url: `http://${endpoint}/v1/traces`, timeoutMillis: 10000 });

exporter.export(spans, async (result) => {
  await exporter.shutdown();
  if (result.code !== 0) {
    console.error(`export failed: ${result.error}`);
    process.exit(1);
  }
  process.stdout.write(JSON.stringify(expected) + '\n');
  process.exit(0);
});
