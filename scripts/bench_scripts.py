#!/usr/bin/env python3
"""Script and AI.SCORE benchmark rows for docs/benchmarks.md (run by scripts/bench; runnable alone).

    .venv/bin/python scripts/bench_scripts.py --tc-bin target/release/tensorcell-server --redis-port Q
        [--quick] [--out section.md]

Starts its own tensorcell-server (release build) next to a running redis-server (the GET baseline) and
measures with redis-benchmark (a C client), every row side by side in this one run:
1. scaling with runner processes: AI.SCORE on a CPU-bound action (about 200 us of pure Python per record,
   calibrated on the runners' own Python), 100 records per call, 4 clients, with 1, 2 and 4 runners; and the
   seed cell model (a shared-cell update per record) with 1 and 2 runners;
2. SCRIPTEXECUTE round-trip overhead: its p50 at 1 client minus a GET round trip to redis-server minus the
   same Python function called in-process (timeit, same arrays);
3. AI.SCORE one record per call at 1 and 8 clients (seed cell model), with 1 and 2 runners;
4. the R runner against the Python runner on the seed cell model.
"""
import argparse
import os
import shutil
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

R_CELL_MODEL = """# fastscore.input: int
# fastscore.output: int
library(fastscore)

begin <- function() {
  total <<- Cell("running_total_r")
  Set(total, 0)
}

action <- function(x) {
  emit(Update(total, function(v) v + x))
}
"""

CPU_MODEL = """# fastscore.input: int
# fastscore.output: int
def action(x):
    s = 0
    for i in range(ITERATIONS):
        s += i * x
    yield s % 1000
"""

SCRIPT = """
def add(tensors, keys, args):
    return tensors[0] + tensors[1]
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, extra=()):
    port = free_port()
    p = subprocess.Popen([binary, "--port", str(port), "--save", "", "--dir", tempfile.mkdtemp(prefix="tc-bench-"),
                          *extra],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    sys.exit("tensorcell-server did not start")


def rb(port, clients, n, args):
    """(ops/s, p50 ms, spread) of redis-benchmark runs: the median of three, and max/min - 1 in percent."""
    runs = []
    for _ in range(3):
        out = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients), "-n",
                              str(n), "--csv"] + args, capture_output=True, text=True, check=True).stdout
        f = [x.strip('"') for x in [l for l in out.splitlines() if l and not l.startswith('"test"')][-1].split(",")]
        runs.append((float(f[1]), float(f[4])))
    runs.sort()
    spread = (runs[-1][0] / runs[0][0] - 1) * 100 if runs[0][0] else 0
    return runs[1][0], runs[1][1], spread


def calibrate(python, target_us=200):
    """Loop iterations that take about `target_us` in the runners' Python (the action's own loop)."""
    code = ("import timeit\n"
            "def act(x):\n    s = 0\n    for i in range(2000):\n        s += i * x\n    return s\n"
            "print(min(timeit.repeat(lambda: act(3), number=200, repeat=5)) / 200)")
    per_2000 = float(subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout)
    return max(100, int(2000 * target_us * 1e-6 / per_2000))


def wait_alive(tc, key, n):
    for _ in range(400):
        info = tc.execute_command("AI.INFO", key)
        d = dict(zip(info[::2], info[1::2]))
        if d.get(b"runners_alive", 0) >= n:
            return
        time.sleep(0.05)
    sys.exit(f"{key}: {n} runners did not start")


def store(tc, key, source, runners=1, language="PYTHON", eps=("action",)):
    tc.execute_command("AI.SCRIPTSTORE", key, "CPU", "LANGUAGE", language, "RUNNERS", runners,
                       "ENTRY_POINTS", len(eps), *eps, "SOURCE", source)
    wait_alive(tc, key, runners)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tc-bin", default=os.path.join(ROOT, "target", "release", "tensorcell-server"))
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    o = ap.parse_args()
    n = 4000 if o.quick else 20000
    lines = ["## Scripts and AI.SCORE (runner processes)", ""]
    hundred = ["RECORDS", "100"] + [str(i % 7) for i in range(100)]
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "python3"
    iterations = calibrate(python)

    proc, port = start(o.tc_bin)
    try:
        tc = redis.Redis(port=port)
        # 1. Scaling with runners.
        cpu = CPU_MODEL.replace("ITERATIONS", str(iterations))
        calls = 60 if o.quick else 200
        scale = []
        for runners in (1, 2, 4):
            store(tc, f"cpu{runners}", cpu, runners)
            ops, _, spread = rb(port, 4, calls, ["AI.SCORE", f"cpu{runners}"] + hundred)
            scale.append((runners, ops * 100, spread))
        cells = []
        for runners in (1, 2):
            store(tc, f"cell{runners}", CELL_MODEL, runners)
            ops, _, spread = rb(port, 4, max(200, n // 20), ["AI.SCORE", f"cell{runners}"] + hundred)
            one, _, spread1 = rb(port, 8, n, ["AI.SCORE", f"cell{runners}", "RECORDS", "1", "1"])
            cells.append((runners, ops * 100, spread, one, spread1))
        base = scale[0][1]
        lines += [
            f"AI.SCORE on a CPU-bound action ({iterations} iterations of a pure-Python loop, about 200 us per",
            "record on the runners' Python), 100 records per call, 4 clients, by RUNNERS (median of 3, spread =",
            "max/min - 1):",
            "",
            "| runners | records/s | vs 1 runner | spread |",
            "| ---: | ---: | ---: | ---: |",
        ]
        lines += [f"| {r} | {v:,.0f} | {v / base:.2f}x | {s:.0f}% |" for r, v, s in scale]
        lines += [
            "",
            "The seed cell model (every record updates one shared cell by compare-and-swap), 4 clients x 100",
            "records per call, and 8 clients x 1 record per call:",
            "",
            "| runners | 100/call: records/s | vs 1 runner | spread | 1/call at 8 clients: records/s | vs 1 runner | spread |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        lines += [f"| {r} | {v:,.0f} | {v / cells[0][1]:.2f}x | {s:.0f}% | {one:,.0f} | {one / cells[0][3]:.2f}x | {s1:.0f}% |"
                  for r, v, s, one, s1 in cells]
        lines.append("")

        # 2. Overhead of SCRIPTEXECUTE.
        store(tc, "s", SCRIPT, 1, eps=("add",))
        a = np.arange(256, dtype=np.float32).reshape(1, 256)
        tc.execute_command("AI.TENSORSET", "a", "FLOAT", 1, 256, "BLOB", a.tobytes())
        tc.execute_command("AI.TENSORSET", "b", "FLOAT", 1, 256, "BLOB", a.tobytes())
        execute = ["AI.SCRIPTEXECUTE", "s", "add", "INPUTS", "2", "a", "b", "OUTPUTS", "1", "c"]
        line = tc.info("ai").get("ai_script_s")  # redis-py parses `k=v,...` into a dict
        if not (isinstance(line, dict) and str(line.get("native")) == "1" or "native=1" in str(line)):
            sys.exit("the runners did not load their native half (cargo build --release --workspace builds it)")
        ex_ops, ex_p50, _ = rb(port, 1, n, execute)
        _, get_p50, _ = rb(o.redis_port, 1, n, ["GET", "x"])
        # The same call on runners without their native half (a second server, side by side).
        pproc, pport = start(o.tc_bin, ["--script-python-native", "no"])
        try:
            ptc = redis.Redis(port=pport)
            store(ptc, "s", SCRIPT, 1, eps=("add",))
            ptc.execute_command("AI.TENSORSET", "a", "FLOAT", 1, 256, "BLOB", a.tobytes())
            ptc.execute_command("AI.TENSORSET", "b", "FLOAT", 1, 256, "BLOB", a.tobytes())
            pure_ops, pure_p50, _ = rb(pport, 1, n, execute)
        finally:
            pproc.kill()
            pproc.wait()
        ns = {"tensors": [a, a], "keys": [], "args": []}
        exec(SCRIPT, ns)
        reps = 20000
        inproc_us = timeit.timeit(lambda: ns["add"](ns["tensors"], ns["keys"], ns["args"]), number=reps) / reps * 1e6
        overhead = ex_p50 * 1000 - get_p50 * 1000 - inproc_us
        lines += [
            "SCRIPTEXECUTE of `add` on two 1x256 FLOAT tensors, 1 client (redis-benchmark p50; its p50 has a",
            "resolution of 1 us at best):",
            "",
            "| what | us |",
            "| --- | ---: |",
            f"| the same function called in-process (numpy, timeit) | {inproc_us:.1f} |",
            f"| redis-server GET round trip (baseline) | {get_p50 * 1000:.0f} |",
            f"| AI.SCRIPTEXECUTE round trip ({ex_ops:,.0f} ops/s) | {ex_p50 * 1000:.0f} |",
            f"| overhead: round trip - GET round trip - in-process call | {overhead:.0f} |",
            f"| for comparison: the round trip on pure-Python runners ({pure_ops:,.0f} ops/s) | {pure_p50 * 1000:.0f} |",
            "",
        ]

        # 3. One record per call.
        rows = []
        for clients in (1, 8):
            one1, _, _ = rb(port, clients, n, ["AI.SCORE", "cell1", "RECORDS", "1", "1"])
            one2, _, _ = rb(port, clients, n, ["AI.SCORE", "cell2", "RECORDS", "1", "1"])
            get, _, _ = rb(o.redis_port, clients, n, ["GET", "x"])
            rows.append((clients, one1, one2, get))
        lines += [
            "AI.SCORE with one record per call on the seed cell model, records per second, with redis-server GET",
            "at the same client count for scale:",
            "",
            "| clients | 1 runner | 2 runners | redis GET ops/s |",
            "| ---: | ---: | ---: | ---: |",
        ]
        lines += [f"| {c} | {a1:,.0f} | {a2:,.0f} | {g:,.0f} |" for c, a1, a2, g in rows]
        lines.append("")

        # 4. R against Python.
        if shutil.which("Rscript"):
            store(tc, "rcell", R_CELL_MODEL, 1, language="R")
            r100, _, _ = rb(port, 4, max(100, n // 40), ["AI.SCORE", "rcell"] + hundred)
            r1, _, _ = rb(port, 8, n // 4, ["AI.SCORE", "rcell", "RECORDS", "1", "1"])
            p100, p1 = cells[0][1], cells[0][3]
            lines += [
                "The seed cell model in R and in Python, 1 runner each, records per second:",
                "",
                "| calls | Python | R | R / Python |",
                "| --- | ---: | ---: | ---: |",
                f"| 100 records per call, 4 clients | {p100:,.0f} | {r100 * 100:,.0f} | {r100 * 100 / p100:.2f}x |",
                f"| 1 record per call, 8 clients | {p1:,.0f} | {r1:,.0f} | {r1 / p1:.2f}x |",
                "",
            ]
    finally:
        proc.terminate()
        proc.wait()
    text = "\n".join(lines)
    print(text)
    if o.out:
        with open(o.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
