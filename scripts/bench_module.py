#!/usr/bin/env python3
"""The Redis module against the standalone server, side by side (run by scripts/bench; runnable alone).

    .venv/bin/python scripts/bench_module.py --tc-bin target/release/tensorcell-server \
        --module target/release/libtensorcell_module.so [--quick] [--out section.md]

Starts tensorcell-server and Debian's redis-server with the module (both release builds, default settings,
no persistence) on loopback, and drives both with redis-benchmark, row by row, alternating which goes first,
REPS times; each figure is the median. Rows: AI.TENSORSET / AI.TENSORGET of a 1x256 FLOAT tensor (1 KiB),
AI.MODELEXECUTE of the MLP fixture at 1, 8 and 32 clients (at 1 client its p50 is the per-request cost), and a
DAG (TENSORSET + MODELEXECUTE + TENSORGET in one AI.DAGEXECUTE) at 1 and 32 clients. The ratio is module /
standalone. Then the module's tensor commands against the same redis-server's own SET / GET of the same 1 KiB.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from bench_models import redis_benchmark  # noqa: E402

MLP = os.path.join(ROOT, "tests", "fixtures", "models", "mlp.onnx")


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(port):
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if redis.Redis(port=port, socket_timeout=1).ping():
                return
        except redis.ConnectionError:
            time.sleep(0.05)
    sys.exit(f"server on port {port} did not start")


def setup(r):
    """The same keys on both sides: a tensor for the reads, the MLP and 100 input pairs for the runs."""
    rng = np.random.default_rng(3)
    r.execute_command("AI.TENSORSET", "t", "FLOAT", 1, 256, "BLOB", b"x" * 1024)
    r.execute_command("AI.MODELSTORE", "mlp", "ONNX", "CPU", "BLOB", open(MLP, "rb").read())
    for i in range(100):
        r.execute_command("AI.TENSORSET", f"x:{i:012d}", "FLOAT", 1, 30, "BLOB",
                          rng.standard_normal((1, 30)).astype(np.float32).tobytes())
        r.execute_command("AI.TENSORSET", f"r:{i:012d}", "FLOAT", 1, 256, "BLOB",
                          rng.standard_normal((1, 256)).astype(np.float32).tobytes())
    r.set("s", b"x" * 1024)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tc-bin", required=True)
    ap.add_argument("--module", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    o = ap.parse_args()
    # redis-server changes to its --dir before it loads modules: the path must not be relative.
    o.module = os.path.abspath(o.module)
    scale = 5 if o.quick else 1
    tport, mport = free_port(), free_port()
    procs = [
        subprocess.Popen([o.tc_bin, "--port", str(tport), "--save", "", "--appendonly", "no", "--dir",
                          tempfile.mkdtemp()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen(["redis-server", "--port", str(mport), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                          "no", "--dir", tempfile.mkdtemp(), "--loadmodule", o.module],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        wait(tport)
        wait(mport)
        for port in (tport, mport):
            setup(redis.Redis(port=port, protocol=2))
        blob = "x" * 1024
        run = ["AI.MODELEXECUTE", "mlp", "INPUTS", "2", "x:__rand_int__", "r:__rand_int__", "OUTPUTS", "1", "o"]
        # One reference key (redis-benchmark draws each __rand_int__ on its own).
        dag = ["AI.DAGEXECUTE", "LOAD", "1", "r:000000000007", "|>", "AI.TENSORSET", "in", "FLOAT", "1", "30", "BLOB",
               "x" * 120, "|>", "AI.MODELEXECUTE", "mlp", "INPUTS", "2", "in", "r:000000000007", "OUTPUTS", "1", "out",
               "|>", "AI.TENSORGET", "out", "BLOB"]
        # (label, args, clients, requests, pipeline)
        rows = [
            ("AI.TENSORSET 1x256 FLOAT (1 KiB)", ["AI.TENSORSET", "t", "FLOAT", "1", "256", "BLOB", blob], 50, 200_000, 1),
            ("AI.TENSORGET BLOB 1x256 FLOAT", ["AI.TENSORGET", "t", "BLOB"], 50, 200_000, 1),
            ("AI.TENSORSET 1x256 FLOAT -P 16", ["AI.TENSORSET", "t", "FLOAT", "1", "256", "BLOB", blob], 50, 1_000_000, 16),
            ("AI.TENSORGET BLOB 1x256 FLOAT -P 16", ["AI.TENSORGET", "t", "BLOB"], 50, 1_000_000, 16),
            ("AI.MODELEXECUTE MLP, 1 client", run, 1, 20_000, 1),
            ("AI.MODELEXECUTE MLP, 8 clients", run, 8, 60_000, 1),
            ("AI.MODELEXECUTE MLP, 32 clients", run, 32, 60_000, 1),
            ("AI.DAGEXECUTE TENSORSET+MODELEXECUTE+TENSORGET, 1 client", dag, 1, 20_000, 1),
            ("AI.DAGEXECUTE TENSORSET+MODELEXECUTE+TENSORGET, 32 clients", dag, 32, 60_000, 1),
        ]
        out = []
        for label, args, clients, n, p in rows:
            t_runs, m_runs, t_p50, m_p50 = [], [], [], []
            for rep in range(o.reps):
                order = [(tport, t_runs, t_p50), (mport, m_runs, m_p50)]
                for port, runs, p50 in (order if rep % 2 == 0 else order[::-1]):
                    ops, lat, _ = redis_benchmark(port, clients, n // scale, ["-P", str(p)] + args)
                    runs.append(ops)
                    p50.append(lat)
            t, m = statistics.median(t_runs), statistics.median(m_runs)
            out.append((label, t, m, statistics.median(t_p50), statistics.median(m_p50)))
            print(f"{label:58s} standalone {t:>10,.0f}/s module {m:>10,.0f}/s ratio {m / t:5.2f}x", flush=True)
        # The module's tensor commands against Redis's own strings of the same size, in the same redis-server.
        own = []
        for label, ai, plain in [
            ("AI.TENSORSET 1 KiB vs SET 1 KiB", ["AI.TENSORSET", "t", "FLOAT", "1", "256", "BLOB", blob],
             ["SET", "s", blob]),
            ("AI.TENSORGET BLOB 1 KiB vs GET 1 KiB", ["AI.TENSORGET", "t", "BLOB"], ["GET", "s"]),
        ]:
            a_runs, s_runs = [], []
            for rep in range(o.reps):
                pair = [(ai, a_runs), (plain, s_runs)]
                for args, runs in (pair if rep % 2 == 0 else pair[::-1]):
                    runs.append(redis_benchmark(mport, 50, 200_000 // scale, args)[0])
            a, s = statistics.median(a_runs), statistics.median(s_runs)
            own.append((label, a, s))
            print(f"{label:58s} module {a:>10,.0f}/s redis {s:>10,.0f}/s ratio {a / s:5.2f}x", flush=True)
    finally:
        for p in procs:
            p.terminate()
            p.wait()
    lines = [
        "## The Redis module",
        "",
        "Debian's redis-server with `libtensorcell_module.so` against tensorcell-server, both release builds with",
        f"default settings, side by side (redis-benchmark, median of {o.reps} runs, alternating which goes first;",
        "p50 in ms). Goal (issue 14): the module >= 0.9x the standalone server on every row.",
        "",
        "| row | standalone ops/s | module ops/s | module / standalone | p50 standalone | p50 module |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, t, m, tp, mp in out:
        lines.append(f"| {label} | {t:,.0f} | {m:,.0f} | {m / t:.2f}x | {tp:.3f} | {mp:.3f} |")
    lines += [
        "",
        "The module's tensor commands against the same redis-server's own SET / GET of the same bytes (50 clients).",
        "Goal: >= 0.9x.",
        "",
        "| row | module ops/s | redis-server ops/s | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, a, s in own:
        lines.append(f"| {label} | {a:,.0f} | {s:,.0f} | {a / s:.2f}x |")
    lines.append("")
    text = "\n".join(lines)
    if o.out:
        with open(o.out, "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
