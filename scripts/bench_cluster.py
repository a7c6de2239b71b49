#!/usr/bin/env python3
"""The module on a Redis Cluster against the same module on one redis-server (run by scripts/bench; runnable
alone).

    .venv/bin/python scripts/bench_cluster.py --module target/release/libtensorcell_module.so [--quick] [--out f]

Starts a 3-master Redis Cluster with the release module on every node (scripts/cluster --replicas 0, so no
replication traffic shares the two cores) and one plain redis-server with the same module, stores the same
hash-tagged keys on both (the MLP fixture `mlp{b}` and 100 input pairs `x{b}:N`, `r{b}:N`), and measures, row
by row, alternating which goes first, REPS times (each figure the median):

- with redis-benchmark against the master that owns the keys' slot and against the single node: AI.MODELEXECUTE
  and a DAG (TENSORSET + MODELEXECUTE + TENSORGET) at 1 client (p50: the per-request cost) and 32 clients
  (ops/s). This is the server side of cluster routing: slot checks, key extraction through the module's
  getkeys-api, the module's own slot check of what scripts touch.
- with redis-py, one client, 2,000 calls: `RedisCluster` (which computes each call's slot from its keys and
  picks the node) against `Redis` on the single node: the whole routing cost a cluster user pays, p50 in us.

Every ratio is cluster cost / single-node cost: 1.00x is no overhead, and the goal (issue 15) is <= 1.1x.
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
from redis.cluster import ClusterNode, RedisCluster

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from bench_models import redis_benchmark  # noqa: E402
from bench_module import free_port, wait  # noqa: E402

MLP = os.path.join(ROOT, "tests", "fixtures", "models", "mlp.onnx")
CLUSTER = os.path.join(ROOT, "scripts", "cluster")


def free_base():
    """Three consecutive free ports (and their cluster bus ports, +10000)."""
    import socket

    for _ in range(50):
        base = free_port()
        if base + 10002 > 65535:
            continue
        try:
            for p in [base + i for i in range(3)] + [base + 10000 + i for i in range(3)]:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
    sys.exit("no three free ports")


def setup(r):
    """The same keys on both sides, all in the slot of hash tag `b`."""
    rng = np.random.default_rng(3)
    r.execute_command("AI.MODELSTORE", "mlp{b}", "ONNX", "CPU", "BLOB", open(MLP, "rb").read())
    for i in range(100):
        r.execute_command("AI.TENSORSET", f"x{{b}}:{i:012d}", "FLOAT", 1, 30, "BLOB",
                          rng.standard_normal((1, 30)).astype(np.float32).tobytes())
        r.execute_command("AI.TENSORSET", f"r{{b}}:{i:012d}", "FLOAT", 1, 256, "BLOB",
                          rng.standard_normal((1, 256)).astype(np.float32).tobytes())


def p50_us(call, n):
    for _ in range(200):
        call()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    o = ap.parse_args()
    o.module = os.path.abspath(o.module)
    scale = 5 if o.quick else 1
    base, sport = free_base(), free_port()
    d = tempfile.mkdtemp(prefix="tensorcell-bench-cluster-")
    single = subprocess.Popen(["redis-server", "--port", str(sport), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", tempfile.mkdtemp(), "--loadmodule", o.module],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # The cluster's nodes keep the AOF scripts/cluster turns on for its tests; the single node gets the same.
        subprocess.run([CLUSTER, "start", "--port", str(base), "--dir", d, "--module", o.module, "--replicas", "0"],
                       check=True, stdout=subprocess.DEVNULL)
        wait(sport)
        redis.Redis(port=sport).config_set("appendonly", "yes")
        rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", base)], socket_timeout=30)
        one = redis.Redis(port=sport, socket_timeout=30)
        setup(rc)
        setup(one)
        owner = rc.get_node_from_key("mlp{b}").port
        run = ["AI.MODELEXECUTE", "mlp{b}", "INPUTS", "2", "x{b}:__rand_int__", "r{b}:__rand_int__", "OUTPUTS", "1",
               "o{b}"]
        dag = ["AI.DAGEXECUTE", "LOAD", "1", "r{b}:000000000007", "|>", "AI.TENSORSET", "in", "FLOAT", "1", "30",
               "BLOB", "x" * 120, "|>", "AI.MODELEXECUTE", "mlp{b}", "INPUTS", "2", "in", "r{b}:000000000007",
               "OUTPUTS", "1", "out", "|>", "AI.TENSORGET", "out", "BLOB"]
        rows = [
            ("AI.MODELEXECUTE MLP, 1 client (p50 us)", run, 1, 20_000, "p50"),
            ("AI.MODELEXECUTE MLP, 32 clients (us per request)", run, 32, 60_000, "ops"),
            ("AI.DAGEXECUTE TENSORSET+MODELEXECUTE+TENSORGET, 1 client (p50 us)", dag, 1, 20_000, "p50"),
            ("AI.DAGEXECUTE TENSORSET+MODELEXECUTE+TENSORGET, 32 clients (us per request)", dag, 32, 60_000, "ops"),
        ]
        out, ops_owner = [], None
        for label, args, clients, n, kind in rows:
            c_runs, s_runs = [], []
            for rep in range(o.reps):
                order = [(owner, c_runs), (sport, s_runs)]
                for port, runs in (order if rep % 2 == 0 else order[::-1]):
                    ops, lat, _ = redis_benchmark(port, clients, n // scale, args)
                    # Cost per request in us: the p50 at one client, 1/throughput at 32.
                    runs.append(lat * 1000 if kind == "p50" else 1e6 / ops)
            c, s = statistics.median(c_runs), statistics.median(s_runs)
            if label.startswith("AI.MODELEXECUTE MLP, 32"):
                ops_owner = 1e6 / c
            out.append((label, c, s))
            print(f"{label:76s} cluster {c:8.1f} single {s:8.1f} ratio {c / s:5.2f}x", flush=True)
        # redis-py: RedisCluster's routing (slot from the keys, node lookup) against a plain client.
        n = 2_000 // (2 if o.quick else 1)
        py_rows = [
            ("redis-py AI.MODELEXECUTE, RedisCluster vs Redis (p50 us)",
             lambda c: c.execute_command("AI.MODELEXECUTE", "mlp{b}", "INPUTS", 2, "x{b}:000000000001",
                                         "r{b}:000000000001", "OUTPUTS", 1, "o{b}")),
            ("redis-py AI.DAGEXECUTE (as above), RedisCluster vs Redis (p50 us)",
             lambda c: c.execute_command(*dag)),
        ]
        for label, call in py_rows:
            c_runs, s_runs = [], []
            for rep in range(o.reps):
                order = [(rc, c_runs), (one, s_runs)]
                for client, runs in (order if rep % 2 == 0 else order[::-1]):
                    runs.append(p50_us(lambda: call(client), n))
            c, s = statistics.median(c_runs), statistics.median(s_runs)
            out.append((label, c, s))
            print(f"{label:76s} cluster {c:8.1f} single {s:8.1f} ratio {c / s:5.2f}x", flush=True)
        rc.close()
    finally:
        subprocess.run([CLUSTER, "stop", "--dir", d], stdout=subprocess.DEVNULL)
        single.terminate()
        single.wait()
    lines = [
        "## Redis Cluster",
        "",
        "The module on a 3-master Redis Cluster (`scripts/cluster --replicas 0`, all on this machine) against the",
        "same release module on one plain redis-server, the same hash-tagged keys on both, the same client, side by",
        f"side (median of {o.reps} runs, alternating which goes first). redis-benchmark talks to the master that owns",
        "the keys' slot (the server side of routing: slot checks and key extraction through the module's",
        "getkeys-api); redis-py's `RedisCluster` adds the client side (slot from the keys, node lookup). Cost in us per",
        "request: p50 at one client, 1 / throughput at 32. Goal (issue 15): cluster / single node <= 1.1x.",
        "",
        "| row | cluster | single node | cluster / single |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, c, s in out:
        lines.append(f"| {label} | {c:.1f} | {s:.1f} | {c / s:.2f}x |")
    lines += [
        "",
        "The redis-py rows are the client's cost: for a command whose keys are found by parsing (the AI commands'",
        "getkeys-api, as for Redis's own movable-key commands) `RedisCluster` asks the node `COMMAND GETKEYS` before",
        "each call, a second round trip; a client that knows the hash tag can send to its node directly (the",
        "redis-benchmark rows).",
        "",
        "Sizing (arithmetic, not measured: this 2-core machine runs all three masters and the client, so it cannot",
        f"show scaling across shards). One master here served {ops_owner:,.0f} MLP MODELEXECUTE/s at 32 clients using",
        f"both cores (its worker pool and Redis's thread), {ops_owner / 2:,.0f}/s per core. A cluster of N such",
        f"masters, one per 2-core machine, with keys spread over the slots by hash tag, would serve about",
        f"N x {ops_owner:,.0f}/s (3 masters: {3 * ops_owner:,.0f}/s), less what replicas cost their masters (each",
        "write is sent to its replica) and provided the clients and network keep up.",
        "",
    ]
    text = "\n".join(lines)
    if o.out:
        with open(o.out, "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
