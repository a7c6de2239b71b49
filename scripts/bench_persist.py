#!/usr/bin/env python3
"""Persistence benchmark (called by scripts/bench, or alone): tensorcell-server against Debian's redis-server,
each configured the same way, side by side on loopback.

* Write throughput by AOF policy (appendonly no / everysec / always): SET 100 B and AI.TENSORSET 1x256 FLOAT
  (against SET 1 KiB on redis-server), redis-benchmark with 50 clients.
* Start-up load time of 1 GiB of values (1024 tensors of 1 MiB; redis: 1 MiB strings): tensorcell from its AOF
  and from its snapshot file, redis-server from its AOF and its RDB, read from each server's own log line.
* AI.SNAPSHOT SAVE and RESTORE per codec on a script whose state is one pool of 20,000 fields.

Writes a markdown fragment to --out.
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Srv:
    def __init__(self, kind, tc_bin, dirpath, extra):
        self.port = free_port()
        self.log = os.path.join(dirpath, f"{kind}.log")
        if kind == "tc":
            cmd = [tc_bin, "--port", str(self.port), "--dir", dirpath, "--save", ""] + extra
        else:
            cmd = ["redis-server", "--port", str(self.port), "--dir", dirpath, "--save", "", "--bind", "127.0.0.1",
                   "--logfile", self.log] + extra
        self.started = time.time()
        self.proc = subprocess.Popen(cmd, stdout=open(self.log + ".out", "w"), stderr=subprocess.STDOUT)
        deadline = time.time() + 600
        while True:
            try:
                redis.Redis(port=self.port).ping()
                break
            except (redis.ConnectionError, redis.ResponseError):
                if time.time() > deadline or self.proc.poll() is not None:
                    sys.exit(f"{kind} did not start: {cmd}")
                time.sleep(0.05)
        # Saves and loads of 1 GiB can take longer than redis-py's default timeout on a slow disk.
        self.r = redis.Redis(port=self.port, socket_timeout=600)

    def logtext(self):
        text = ""
        for p in (self.log, self.log + ".out"):
            if os.path.exists(p):
                text += open(p, errors="replace").read()
        return text

    def stop(self, how="NOSAVE"):
        try:
            self.r.execute_command("SHUTDOWN", how)
        except redis.ConnectionError:
            pass
        self.proc.wait(timeout=600)


def bench(port, args, n, clients=50):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(n), "-c", str(clients), "-r", "100000",
                          "-q", "--csv"] + args, capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1].split(",")[1].strip('"'))


def throughput_rows(opts, tc_bin):
    blob = "a" * 1024
    value = "v" * 100
    policies = [("no AOF", ["--appendonly", "no"]),
                ("appendfsync everysec", ["--appendonly", "yes", "--appendfsync", "everysec"]),
                ("appendfsync always", ["--appendonly", "yes", "--appendfsync", "always"])]
    rows = {}
    for name, extra in policies:
        for kind in ("tc", "redis"):
            d = tempfile.mkdtemp(prefix="tc-bench-")
            s = Srv(kind, tc_bin, d, extra)
            set_runs, t_runs = [], []
            for _ in range(opts.reps):
                set_runs.append(bench(s.port, ["SET", "key:__rand_int__", value], opts.n))
                if kind == "tc":
                    t_runs.append(bench(s.port, ["AI.TENSORSET", "t:__rand_int__", "FLOAT", "1", "256", "BLOB", blob],
                                        opts.n))
                else:
                    t_runs.append(bench(s.port, ["SET", "t:__rand_int__", blob], opts.n))
            rows[(name, kind)] = (statistics.median(set_runs), statistics.median(t_runs))
            s.stop()
            shutil.rmtree(d, ignore_errors=True)
            print(name, kind, rows[(name, kind)], flush=True)
    lines = ["### Write throughput by AOF policy (50 clients, unpipelined)", "",
             "| row | tensorcell ops/s | vs its no-AOF | redis-server ops/s | vs its no-AOF | tensorcell / redis |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for i, what in enumerate(["SET 100 B", "AI.TENSORSET 1x256 FLOAT (redis: SET 1 KiB)"]):
        for name, _ in policies:
            t, r = rows[(name, "tc")][i], rows[(name, "redis")][i]
            t0, r0 = rows[("no AOF", "tc")][i], rows[("no AOF", "redis")][i]
            lines.append(f"| {what}, {name} | {t:,.0f} | {t / t0:.2f}x | {r:,.0f} | {r / r0:.2f}x | {t / r:.2f}x |")
    return lines


def loaded_seconds(text):
    found = re.findall(r"DB loaded from [^\n]*?([0-9.]+) seconds", text)
    return float(found[-1]) if found else float("nan")


def fill_mib(srv, kind, n):
    """Writes `n` values of 1 MiB of random bytes: tensors on tensorcell, strings on redis-server."""
    mib = 1 << 20
    payload = os.urandom(mib)
    p = srv.r.pipeline(transaction=False)
    for i in range(n):
        if kind == "tc":
            p.execute_command("AI.TENSORSET", f"t{i}", "UINT8", mib, "BLOB", payload)
        else:
            p.execute_command("SET", f"t{i}", payload)
        if i % 16 == 15:
            p.execute()
    p.execute()


def load_rows(opts, tc_bin):
    results = {}
    for kind in ("tc", "redis"):
        d = tempfile.mkdtemp(prefix="tc-load-")
        s = Srv(kind, tc_bin, d, ["--appendonly", "yes"])
        fill_mib(s, kind, opts.load_mib)
        s.r.execute_command("SAVE")
        s.stop()
        # From the AOF, then from the snapshot file alone.
        for label, extra in (("AOF", ["--appendonly", "yes"]), ("snapshot", ["--appendonly", "no"])):
            s = Srv(kind, tc_bin, d, extra)
            assert s.r.dbsize() == opts.load_mib, (kind, label, s.r.dbsize())
            s.stop()
            results[(kind, label)] = loaded_seconds(s.logtext())
            print(kind, label, results[(kind, label)], flush=True)
        shutil.rmtree(d, ignore_errors=True)
    lines = ["", f"### Start-up load of {opts.load_mib} MiB ({opts.load_mib} values of 1 MiB)", "",
             "| from | tensorcell s | redis-server s | ratio (lower is better) |", "| --- | ---: | ---: | ---: |"]
    for label, rname in (("AOF", "AOF"), ("snapshot", "RDB")):
        t, r = results[("tc", label)], results[("redis", label)]
        lines.append(f"| {label} (redis: {rname}) | {t:.2f} | {r:.2f} | {t / r:.2f}x |")
    return lines


SCRIPT = "# fastscore.input: int\n# fastscore.output: int\ndef action(x):\n    yield x\n"


def snapshot_rows(opts, tc_bin):
    d = tempfile.mkdtemp(prefix="tc-snap-")
    s = Srv("tc", tc_bin, d, [])
    r = s.r
    r.execute_command("AI.SCRIPTSTORE", "m", "CPU", "ENTRY_POINTS", 1, "action", "SOURCE", SCRIPT)
    fields = []
    for i in range(20000):
        fields += [f"user{i}", f'{{"count":{i},"mean":{i / 7:.6f},"tag":"t{i % 13}"}}']
    r.execute_command("AI.POOLSET", "p", *fields)
    r.execute_command("AI._SCRIPTSTATE", "m", "pool", "p")
    raw = sum(len(x) for x in fields)
    lines = ["", f"### AI.SNAPSHOT of a 20,000-field pool ({raw / 1e6:.2f} MB of JSON), directory store", "",
             "| codec | size | ratio | SAVE ms | SAVE MB/s | RESTORE ms | RESTORE MB/s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for codec in ("none", "snappy", "gzip", "bzip2", "xz", "zstd"):
        saves, restores, size = [], [], 0
        for _ in range(opts.reps + 2):
            t0 = time.perf_counter()
            sid = r.execute_command("AI.SNAPSHOT", "SAVE", "m", "CODEC", codec).decode()
            saves.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            r.execute_command("AI.SNAPSHOT", "RESTORE", "m", sid)
            restores.append(time.perf_counter() - t0)
            size = r.execute_command("AI.SNAPSHOT", "LIST", "m", "COUNT", 1)[0][7]
        sv, rs = statistics.median(saves), statistics.median(restores)
        lines.append(f"| {codec} | {size:,} | {raw / size:.1f}x | {sv * 1e3:.1f} | {raw / sv / 1e6:.1f} | "
                     f"{rs * 1e3:.1f} | {raw / rs / 1e6:.1f} |")
        print(lines[-1], flush=True)
    s.stop()
    shutil.rmtree(d, ignore_errors=True)
    return lines


def parse_args(name, sections):
    """The options every section script takes (scripts/bench passes --tc-bin, --out and --quick)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--tc-bin", default=os.path.join(ROOT, "target", "release", "tensorcell-server"))
    ap.add_argument("--out", default=os.path.join(ROOT, "target", f"bench_{name}.md"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=0, help="runs per row (default 3, 1 with --quick)")
    ap.add_argument("--sections", default=sections, help=f"comma-separated subset of {sections}")
    opts = ap.parse_args()
    opts.reps = opts.reps or (1 if opts.quick else 3)
    return opts, opts.sections.split(",")


def write_out(opts, lines):
    with open(opts.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {opts.out}")


def main():
    opts, sections = parse_args("persist", "throughput,load,snapshots")
    opts.n = 20000 if opts.quick else 100000
    opts.load_mib = 64 if opts.quick else 1024
    lines = ["## Persistence", "",
             "Both servers with `--save ''` and the same AOF settings, in fresh directories on the same disk."]
    if "throughput" in sections:
        lines += [""] + throughput_rows(opts, opts.tc_bin)
    if "load" in sections:
        lines += load_rows(opts, opts.tc_bin)
    if "snapshots" in sections:
        lines += snapshot_rows(opts, opts.tc_bin)
    write_out(opts, lines)


if __name__ == "__main__":
    main()
