#!/usr/bin/env python3
"""DAG benchmark rows for docs/benchmarks.md (run by scripts/bench; runnable alone).

    .venv/bin/python scripts/bench_dags.py [--tc-bin target/release/tensorcell-server] [--quick] [--out f.md]

Starts its own tensorcell-server (release build, 2 workers per queue) and measures with Python clients
(redis-py + hiredis; one process per client, so the GIL does not serialize the clients):
1. one DAG (TENSORSET volatile -> MODELEXECUTE -> TENSORGET) against the same three steps as separate commands
   through the keyspace, on the MLP fixture, at 1 and 32 clients;
2. an ensemble of two independent models (two runs of the `slow` fixture on different inputs) as one DAG
   against the two MODELEXECUTEs one after the other: median latency.
"""
import argparse
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import tempfile
import sys
import time

import numpy as np
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "tests", "fixtures", "models")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary):
    port = free_port()
    p = subprocess.Popen([binary, "--port", str(port), "--save", "", "--dir", tempfile.mkdtemp(prefix="tc-bench-"),
                          "--threads-per-queue", "2"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    sys.exit("tensorcell-server did not start")


TX = np.random.default_rng(3).standard_normal((1, 30)).astype(np.float32).tobytes()


def one_dag(r, i):
    r.execute_command("AI.DAGEXECUTE", "LOAD", 1, "ref", "|>", "AI.TENSORSET", "tx", "FLOAT", 1, 30, "BLOB", TX,
                      "|>", "AI.MODELEXECUTE", "mlp", "INPUTS", 2, "tx", "ref", "OUTPUTS", 1, "s",
                      "|>", "AI.TENSORGET", "s", "BLOB")


def three_commands(r, i):
    r.execute_command("AI.TENSORSET", f"tx{i}", "FLOAT", 1, 30, "BLOB", TX)
    r.execute_command("AI.MODELEXECUTE", "mlp", "INPUTS", 2, f"tx{i}", "ref", "OUTPUTS", 1, f"s{i}")
    r.execute_command("AI.TENSORGET", f"s{i}", "BLOB")


def client(args):
    port, kind, n, i = args
    r = redis.Redis(port=port)
    f = one_dag if kind == "dag" else three_commands
    f(r, i)
    t = time.perf_counter()
    for _ in range(n):
        f(r, i)
    return n, time.perf_counter() - t


def throughput(port, kind, clients, n):
    with mp.Pool(clients) as pool:
        t = time.perf_counter()
        res = pool.map(client, [(port, kind, n, i) for i in range(clients)])
        wall = time.perf_counter() - t
    return sum(k for k, _ in res) / wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tc-bin", default=os.path.join(ROOT, "target", "release", "tensorcell-server"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    o = ap.parse_args()
    n1, n32 = (1000, 100) if o.quick else (5000, 400)
    proc, port = start(o.tc_bin)
    lines = ["## DAGs", ""]
    try:
        r = redis.Redis(port=port)
        r.execute_command("AI.MODELSTORE", "mlp", "ONNX", "CPU", "BLOB", open(os.path.join(MODELS, "mlp.onnx"), "rb").read())
        ref = np.random.default_rng(4).standard_normal((1, 256)).astype(np.float32)
        r.execute_command("AI.TENSORSET", "ref", "FLOAT", 1, 256, "BLOB", ref.tobytes())
        rows = []
        for clients, n in ((1, n1), (32, n32)):
            runs = {k: [throughput(port, k, clients, n) for _ in range(3)] for k in ("dag", "three")}
            d, t = statistics.median(runs["dag"]), statistics.median(runs["three"])
            rows.append((clients, d, t))
        lines += [
            "One DAG (TENSORSET -> MODELEXECUTE -> TENSORGET on the MLP, local tensors) against the same three steps",
            "as separate commands through the keyspace; pipelines per second, Python clients (one process each),",
            "2 workers per queue, median of 3:",
            "",
            "| clients | DAG /s | three commands /s | DAG gain |",
            "| ---: | ---: | ---: | ---: |",
        ]
        lines += [f"| {c} | {d:,.0f} | {t:,.0f} | {d / t:.2f}x |" for c, d, t in rows]
        lines.append("")

        slow = open(os.path.join(MODELS, "slow.onnx"), "rb").read()
        r.execute_command("AI.MODELSTORE", "m1", "ONNX", "CPU", "BLOB", slow)
        r.execute_command("AI.MODELSTORE", "m2", "ONNX", "CPU", "BLOB", slow)
        rows_in = 2000
        rng = np.random.default_rng(5)
        for k in ("e1", "e2"):
            r.execute_command("AI.TENSORSET", k, "FLOAT", rows_in, 128, "BLOB",
                              rng.standard_normal((rows_in, 128)).astype(np.float32).tobytes())
        seq, dag = [], []
        for _ in range(20 if o.quick else 60):
            t = time.perf_counter()
            r.execute_command("AI.MODELEXECUTE", "m1", "INPUTS", 1, "e1", "OUTPUTS", 1, "o1")
            r.execute_command("AI.MODELEXECUTE", "m2", "INPUTS", 1, "e2", "OUTPUTS", 1, "o2")
            seq.append(time.perf_counter() - t)
            t = time.perf_counter()
            r.execute_command("AI.DAGEXECUTE", "LOAD", 2, "e1", "e2", "|>",
                              "AI.MODELEXECUTE", "m1", "INPUTS", 1, "e1", "OUTPUTS", 1, "o1", "|>",
                              "AI.MODELEXECUTE", "m2", "INPUTS", 1, "e2", "OUTPUTS", 1, "o2")
            dag.append(time.perf_counter() - t)
        s_ms, d_ms = statistics.median(seq) * 1000, statistics.median(dag) * 1000
        lines += [
            f"An ensemble of two independent models ({rows_in}x128 through 16 MatMul+Tanh layers each), 2 workers,",
            "median latency of the pair:",
            "",
            "| how | ms | vs sequential |",
            "| --- | ---: | ---: |",
            f"| two MODELEXECUTEs one after the other | {s_ms:.2f} | 1.00x |",
            f"| one DAG (the two ops run in parallel) | {d_ms:.2f} | {d_ms / s_ms:.2f}x |",
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
