#!/usr/bin/env python3
"""Replication benchmark (called by scripts/bench, or alone): tensorcell-server against Debian's redis-server,
each as a primary with two replicas on loopback, side by side on the same machine.

* Primary throughput with two replicas against none: SET 100 B and AI.TENSORSET 1x256 FLOAT (redis: SET 1 KiB),
  redis-benchmark with 50 clients, pipelined 16 deep.
* Replication lag under that load: every 20 ms a probe writes a timestamp on the primary and polls a replica
  until it reads it back; p50 / p99 / max of that delay.
* Full-sync time of 1 GiB (1024 tensors of 1 MiB; redis: 1 MiB strings): from REPLICAOF on an empty replica until
  its link is up and the sync done (redis with repl-diskless-sync-delay 0, its defaults otherwise).

Writes a markdown fragment to --out.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_persist import Srv, bench, fill_mib, parse_args, write_out  # noqa: E402

REDIS_EXTRA = ["--repl-diskless-sync-delay", "0"]


def start(kind, tc_bin, dirs, extra=()):
    d = tempfile.mkdtemp(prefix=f"tc-repl-{kind}-")
    dirs.append(d)
    return Srv(kind, tc_bin, d, list(extra) + (REDIS_EXTRA if kind == "redis" else []))


def in_sync(primary, replica, timeout=600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        p = primary.r.info("replication")["master_repl_offset"]
        r = replica.r.info("replication")
        if r.get("master_link_status") == "up" and r.get("master_sync_in_progress") == 0 \
                and r.get("slave_repl_offset") == p:
            return
        time.sleep(0.005)
    sys.exit("replica did not catch up")


def attach(primary, replica):
    replica.r.execute_command("REPLICAOF", "127.0.0.1", primary.port)
    in_sync(primary, replica)


def load_args(kind, row):
    if row == "SET 100 B":
        return ["-t", "set", "-d", "100"]
    if kind == "tc":
        return ["AI.TENSORSET", "t:__rand_int__", "FLOAT", "1", "256", "BLOB", "x" * 1024]
    return ["SET", "t:__rand_int__", "x" * 1024]


def cpu_seconds(srv):
    """User + system CPU the server process has used (all its threads)."""
    fields = open(f"/proc/{srv.proc.pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_bench(srv, args, n):
    """Throughput, and the primary's CPU microseconds per request (its own cost, whatever else competes)."""
    before = cpu_seconds(srv)
    ops = bench(srv.port, args, n)
    return ops, (cpu_seconds(srv) - before) * 1e6 / n


def probe(primary, replica, stop, delays):
    """Writes a timestamp on the primary and waits until the replica reads it back, every 20 ms."""
    p = redis.Redis(port=primary.port)
    r = redis.Redis(port=replica.port)
    i = 0
    while not stop.is_set():
        i += 1
        key = f"probe:{i}"
        t0 = time.perf_counter()
        p.set(key, i)
        while r.get(key) is None:
            if time.perf_counter() - t0 > 30:
                break
        delays.append(time.perf_counter() - t0)
        time.sleep(0.02)


def throughput_and_lag(opts, tc_bin):
    rows = {}
    for kind in ("tc", "redis"):
        dirs = []
        primary = start(kind, tc_bin, dirs)
        replicas = [start(kind, tc_bin, dirs) for _ in range(2)]
        for row in ("SET 100 B", "TENSORSET 1 KiB"):
            args = ["-P", "16"] + load_args(kind, row)
            alone = [timed_bench(primary, args, opts.n) for _ in range(opts.reps)]
            for r in replicas:
                attach(primary, r)
            with_two, delays = [], []
            for _ in range(opts.reps):
                stop = threading.Event()
                t = threading.Thread(target=probe, args=(primary, replicas[0], stop, delays))
                t.start()
                with_two.append(timed_bench(primary, args, opts.n))
                stop.set()
                t.join()
                in_sync(primary, replicas[1])
            for r in replicas:
                r.r.execute_command("REPLICAOF", "NO", "ONE")
            delays.sort()
            rows[(kind, row)] = (statistics.median(a for a, _ in alone), statistics.median(w for w, _ in with_two),
                                 statistics.median(c for _, c in alone), statistics.median(c for _, c in with_two),
                                 delays[len(delays) // 2] * 1e3, delays[int(len(delays) * 0.99)] * 1e3,
                                 delays[-1] * 1e3)
            print(kind, row, rows[(kind, row)], flush=True)
        for s in [primary] + replicas:
            s.stop()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
    lines = ["", "### Primary throughput with two replicas, and replication lag", "",
             f"redis-benchmark -P 16, 50 clients, {opts.n} requests, median of {opts.reps}; lag probes every 20 ms "
             "during the runs with replicas (ms from the write on the primary to its read on a replica). CPU: the primary "
             "process's CPU microseconds per request (all its threads), alone and with two replicas; their ratio is "
             "the throughput the primary would keep with replicas if they did not share its cores.", "",
             "| row | server | alone ops/s | 2 replicas ops/s | with / alone | CPU us/op alone | with 2 | alone / with"
             " | lag p50 ms | lag p99 ms | lag max ms |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in ("SET 100 B", "TENSORSET 1 KiB"):
        for kind, name in (("tc", "tensorcell"), ("redis", "redis-server")):
            a, w, ca, cw, p50, p99, mx = rows[(kind, row)]
            label = row if kind == "tc" or row.startswith("SET") else "SET 1 KiB"
            lines.append(f"| {label} | {name} | {a:,.0f} | {w:,.0f} | {w / a:.2f}x | {ca:.2f} | {cw:.2f} | {ca / cw:.2f}x"
                         f" | {p50:.2f} | {p99:.2f} | {mx:.2f} |")
    return lines


def full_sync(opts, tc_bin):
    results = {}
    for kind in ("tc", "redis"):
        dirs = []
        primary = start(kind, tc_bin, dirs)
        fill_mib(primary, kind, opts.sync_mib)
        times = []
        for _ in range(opts.reps):
            replica = start(kind, tc_bin, dirs)
            t0 = time.perf_counter()
            attach(primary, replica)
            times.append(time.perf_counter() - t0)
            assert replica.r.dbsize() == opts.sync_mib, (kind, replica.r.dbsize())
            replica.stop("NOSAVE")
        primary.stop()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
        results[kind] = statistics.median(times)
        print(kind, "full sync", times, flush=True)
    t, r = results["tc"], results["redis"]
    return ["", f"### Full sync of {opts.sync_mib} MiB ({opts.sync_mib} values of 1 MiB)", "",
            f"From REPLICAOF on an empty replica until its link is up and the data loaded; median of {opts.reps}.", "",
            "| tensorcell s | redis-server s | ratio (lower is better) |", "| ---: | ---: | ---: |",
            f"| {t:.2f} | {r:.2f} | {t / r:.2f}x |"]


def main():
    opts, sections = parse_args("repl", "throughput,fullsync")
    opts.n = 50000 if opts.quick else 300000
    opts.sync_mib = 64 if opts.quick else 1024
    lines = ["## Replication", "",
             "A primary and two replicas of each server on loopback, all on the same two cores as the client: the"
             " replicas' work competes with the primary's."]
    if "throughput" in sections:
        lines += throughput_and_lag(opts, opts.tc_bin)
    if "fullsync" in sections:
        lines += full_sync(opts, opts.tc_bin)
    write_out(opts, lines)


if __name__ == "__main__":
    main()
