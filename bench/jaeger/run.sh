#!/usr/bin/env bash
# Jaeger agent (thrift_compact UDP) ingest end to end: crates/ferrotel-jaeger/examples/udp_load.rs
# sends client-like spans at RATE spans/s (or max) to ferrotel's jaeger receiver -> batch ->
# OTLP/gRPC to the load generator's sink; prints ferrotel's CPU (utime+stime from /proc) over
# the measured SECONDS after a 2 s warm-up, and the spans the sink received.
#
#   bench/jaeger/run.sh FERROTEL UDP_LOAD LOADGEN RATE|max SECONDS
#
# docs/benchmarks.md ("Jaeger Thrift ingest") has the build commands and figures.
set -euo pipefail
ferrotel=$1 udp_load=$2 loadgen=$3 rate=$4 secs=$5
dir=$(mktemp -d)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
udp=$(port) sink=$(port) stats=$(port)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT

"$loadgen" sink --grpc "127.0.0.1:$sink" --stats "127.0.0.1:$stats" --interval 0 2>"$dir/sink.log" &
pids+=($!)
cat >"$dir/config.yaml" <<EOF
receivers:
  jaeger:
    protocols:
      thrift_compact:
        endpoint: 127.0.0.1:$udp
processors:
  batch:
exporters:
  otlp:
    endpoint: 127.0.0.1:$sink
    tls:
      insecure: true
service:
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [jaeger]
      processors: [batch]
      exporters: [otlp]
EOF
"$ferrotel" --config "$dir/config.yaml" 2>"$dir/ferrotel.log" &
fpid=$!
pids+=("$fpid")
sleep 1
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$fpid/stat"; }
received() { curl -s "127.0.0.1:$stats/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["signals"]["traces"]["items"])'; }
"$udp_load" "127.0.0.1:$udp" "$rate" 2 >/dev/null
r0=$(received) c0=$(cpu)
"$udp_load" "127.0.0.1:$udp" "$rate" "$secs"
sleep 1 # the batch processor's timeout (200 ms) and the export
r1=$(received) c1=$(cpu)
python3 - "$c0" "$c1" "$ticks" "$secs" "$r0" "$r1" <<'EOF'
import sys
c0, c1, ticks, secs, r0, r1 = map(float, sys.argv[1:])
cpu = (c1 - c0) / ticks
spans = r1 - r0
print(f"ferrotel CPU {cpu:.2f} s over {secs:.0f} s = {100 * cpu / secs:.1f} % of a core; "
      f"sink received {spans:.0f} spans ({spans / secs:.0f}/s); "
      f"{1e6 * cpu / max(spans, 1):.2f} CPU-s per M spans")
EOF
