#!/usr/bin/env python3
"""Script and AI.SCORE benchmark rows for docs/benchmarks.md (run by scripts/bench; runnable alone).

    .venv/bin/python scripts/bench_scripts.py --tc-bin target/release/tensorcell-server --redis-port Q
        [--quick] [--out section.md]

Starts its own tensorcell-server instances (release build) with 1, 2 and 4 workers per queue, next to a
running redis-server (the GET baseline), and measures with redis-benchmark (a C client):
1. AI.SCORE records/s for the seed cell model at 1 and 8 clients, one record per call and 100 per call;
2. SCRIPTEXECUTE round-trip overhead: its p50 at 1 client minus a GET round trip to redis-server minus the
   same Python function called in-process (timeit, same arrays);
3. how AI.SCORE throughput scales with the number of runners (workers) at 8 clients, given the GIL.
"""
import argparse
import os
import socket
import subprocess
import tempfile
import sys
import time
import timeit

import numpy as np
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CELL_MODEL = """# fastscore.input: int
# fastscore.output: int
import fastscore

def begin():
    global total
    total = fastscore.cells("running_total")
    total.set(0)

def action(x):
    yield total.update(lambda v: v + x)
"""

SCRIPT = """
def add(tensors, keys, args):
    return tensors[0] + tensors[1]
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, workers):
    port = free_port()
    p = subprocess.Popen([binary, "--port", str(port), "--save", "", "--dir", tempfile.mkdtemp(prefix="tc-bench-"),
                          "--threads-per-queue", str(workers)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    sys.exit("tensorcell-server did not start")


def rb(port, clients, n, args):
    """(ops/s, p50 ms) of one redis-benchmark run; the median of three."""
    runs = []
    for _ in range(3):
        out = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients), "-n",
                              str(n), "--csv"] + args, capture_output=True, text=True, check=True).stdout
        f = [x.strip('"') for x in [l for l in out.splitlines() if l and not l.startswith('"test"')][-1].split(",")]
        runs.append((float(f[1]), float(f[4])))
    return sorted(runs)[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tc-bin", default=os.path.join(ROOT, "target", "release", "tensorcell-server"))
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    o = ap.parse_args()
    n = 4000 if o.quick else 20000
    lines = ["## Scripts and AI.SCORE", ""]
    hundred = ["RECORDS", "100"] + [str(i % 7) for i in range(100)]

    proc, port = start(o.tc_bin, 1)
    try:
        tc = redis.Redis(port=port)
        tc.execute_command("AI.SCRIPTSTORE", "cell", "CPU", "ENTRY_POINTS", 1, "action", "SOURCE", CELL_MODEL)
        tc.execute_command("AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 1, "add", "SOURCE", SCRIPT)
        a = np.arange(256, dtype=np.float32).reshape(1, 256)
        tc.execute_command("AI.TENSORSET", "a", "FLOAT", 1, 256, "BLOB", a.tobytes())
        tc.execute_command("AI.TENSORSET", "b", "FLOAT", 1, 256, "BLOB", a.tobytes())
        rows = []
        for clients in (1, 8):
            one, _ = rb(port, clients, n, ["AI.SCORE", "cell", "RECORDS", "1", "1"])
            many, _ = rb(port, clients, max(200, n // 20), ["AI.SCORE", "cell"] + hundred)
            get, _ = rb(o.redis_port, clients, n, ["GET", "x"])
            rows.append((clients, one, many * 100, get))
        lines += [
            "AI.SCORE on the seed cell model (each record updates a shared cell), 1 worker; records per second,",
            "one record per call and 100 per call, with redis-server GET at the same client count for scale:",
            "",
            "| clients | 1 record/call: records/s | 100 records/call: records/s | redis GET ops/s |",
            "| ---: | ---: | ---: | ---: |",
        ]
        lines += [f"| {c} | {one:,.0f} | {many:,.0f} | {get:,.0f} |" for c, one, many, get in rows]
        lines.append("")

        ex_ops, ex_p50 = rb(port, 1, n, ["AI.SCRIPTEXECUTE", "s", "add", "INPUTS", "2", "a", "b", "OUTPUTS", "1", "c"])
        _, get_p50 = rb(o.redis_port, 1, n, ["GET", "x"])
        ns = {"tensors": [a, a], "keys": [], "args": []}
        exec(SCRIPT, ns)
        reps = 20000
        inproc_us = timeit.timeit(lambda: ns["add"](ns["tensors"], ns["keys"], ns["args"]), number=reps) / reps * 1e6
        overhead = ex_p50 * 1000 - get_p50 * 1000 - inproc_us
        lines += [
            "SCRIPTEXECUTE of `add` on two 1x256 FLOAT tensors, 1 client (redis-benchmark p50, whole microseconds):",
            "",
            "| what | us |",
            "| --- | ---: |",
            f"| the same function called in-process (numpy, timeit) | {inproc_us:.1f} |",
            f"| redis-server GET round trip (baseline) | {get_p50 * 1000:.0f} |",
            f"| AI.SCRIPTEXECUTE round trip ({ex_ops:,.0f} ops/s) | {ex_p50 * 1000:.0f} |",
            f"| overhead: round trip - GET round trip - in-process call | {overhead:.0f} |",
            "",
        ]
    finally:
        proc.terminate()
        proc.wait()

    scale = []
    for workers in (1, 2, 4):
        proc, port = start(o.tc_bin, workers)
        try:
            redis.Redis(port=port).execute_command("AI.SCRIPTSTORE", "cell", "CPU", "ENTRY_POINTS", 1, "action",
                                                   "SOURCE", CELL_MODEL)
            ops, _ = rb(port, 8, max(200, n // 20), ["AI.SCORE", "cell"] + hundred)
            scale.append((workers, ops * 100))
        finally:
            proc.terminate()
            proc.wait()
    base = scale[0][1]
    lines += [
        "AI.SCORE throughput by number of runners (workers per queue), 8 clients, 100 records per call:",
        "",
        "| runners | records/s | vs 1 runner |",
        "| ---: | ---: | ---: |",
    ]
    lines += [f"| {w} | {r:,.0f} | {r / base:.2f}x |" for w, r in scale]
    lines.append("")
    text = "\n".join(lines)
    print(text)
    if o.out:
        with open(o.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
