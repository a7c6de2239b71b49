#!/usr/bin/env python3
"""Model benchmark rows for docs/benchmarks.md (run by scripts/bench; runnable alone for a look).

    .venv/bin/python scripts/bench_models.py --tc-port P --redis-port Q [--quick] [--out section.md]

Needs a running release tensorcell-server and Debian's redis-server (scripts/bench starts both), numpy,
onnxruntime and redis-py (the test venv), and redis-benchmark. Measures, side by side in one run:

1. Per-request overhead at one client: the p50 round trip of TENSORSET + MODELEXECUTE + TENSORGET (three
   round trips, and the same three pipelined into one) minus the model's own run time as the server's worker
   measured it (AI.INFO duration / calls) minus the same client's p50 for three commands of the same sizes on
   redis-server (SET 120 B, SET, GET 8 B: the loopback and client cost that belongs to neither side); and
   MODELEXECUTE alone from redis-benchmark (a C client) against GET on redis-server.
2. Throughput and p50/p99 latency at 1, 8 and 32 clients (redis-benchmark) of MODELEXECUTE on the MLP
   (1x30 + 1x256 -> 2) and on mnist, unbatched and with BATCHSIZE 32; redis-server GET at the same client
   count is the ceiling reference.
3. tract (inside tensorcell, release build, one thread) against onnxruntime (in-process, one intra-op thread)
   on the same models and batch sizes.
"""
import argparse
import os
import statistics
import subprocess
import time

import numpy as np
import onnxruntime as ort
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "tests", "fixtures", "models")
SHARED = os.path.join(ROOT, "..", "shared", "fixtures", "onnx")


def mnist_any_batch(blob):
    """The shared mnist.onnx fixes its batch dim at 1 (input, output and one Reshape); make it symbolic so
    requests can batch, as a user re-exporting the model would."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load_from_string(blob)
    del m.graph.value_info[:]  # recorded intermediate shapes say batch 1
    for vi in list(m.graph.input[:1]) + list(m.graph.output):
        vi.type.tensor_type.shape.dim[0].dim_param = "N"
    for i, init in enumerate(m.graph.initializer):
        if init.name == "Pooling160_Output_0_reshape0_shape":
            m.graph.initializer[i].CopyFrom(numpy_helper.from_array(np.array([-1, 256], dtype=np.int64), init.name))
    return m.SerializeToString()


def redis_benchmark(port, clients, n, args):
    """(ops/s, p50 ms, p99 ms) of one redis-benchmark run."""
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients), "-n", str(n),
           "-r", "100", "--csv"] + args
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    row = [l for l in out.splitlines() if l and not l.startswith('"test"')][-1]
    f = [x.strip('"') for x in row.split(",")]
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    return float(f[1]), float(f[4]), float(f[6])


def model_setup(tc, name, blob, batch):
    opts = ["BATCHSIZE", str(batch)] if batch else []
    tc.execute_command("AI.MODELSTORE", name, "ONNX", "CPU", *opts, "BLOB", blob)


def tract_us(tc, name, inputs, runs):
    """Mean tract run time in microseconds as the worker measured it, over `runs` runs of one request."""
    for k, arr in inputs.items():
        tc.execute_command("AI.TENSORSET", f"bench:{k}", "FLOAT", *arr.shape, "BLOB", arr.tobytes())
    keys = [f"bench:{k}" for k in inputs]
    for _ in range(20):
        tc.execute_command("AI.MODELEXECUTE", name, "INPUTS", len(keys), *keys, "OUTPUTS", 1, "bench:out")
    tc.execute_command("AI.INFO", name, "RESETSTAT")
    for _ in range(runs):
        tc.execute_command("AI.MODELEXECUTE", name, "INPUTS", len(keys), *keys, "OUTPUTS", 1, "bench:out")
    info = tc.execute_command("AI.INFO", name)
    d = dict(zip(info[::2], info[1::2]))
    return d[b"duration"] / d[b"calls"]


def ort_us(blob, inputs, runs):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(blob, opts, providers=["CPUExecutionProvider"])
    for _ in range(20):
        sess.run(None, inputs)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(None, inputs)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6


def overhead_rows(tc, rd, tc_port, rd_port, samples):
    """Per-request overhead of the linear-in-size MLP at one client."""
    rng = np.random.default_rng(1)
    tx = rng.standard_normal((1, 30)).astype(np.float32)
    ref = rng.standard_normal((1, 256)).astype(np.float32)
    tc.execute_command("AI.TENSORSET", "ref", "FLOAT", 1, 256, "BLOB", ref.tobytes())
    rd.set("g", b"x" * 8)
    base_seq, base_piped, seq, piped = [], [], [], []
    pipe = tc.pipeline(transaction=False)
    rpipe = rd.pipeline(transaction=False)
    for _ in range(samples):
        t = time.perf_counter()
        rd.execute_command("SET", "tx", tx.tobytes())
        rd.execute_command("SET", "k", "v")
        rd.execute_command("GET", "g")
        base_seq.append(time.perf_counter() - t)
        t = time.perf_counter()
        rpipe.execute_command("SET", "tx", tx.tobytes())
        rpipe.execute_command("SET", "k", "v")
        rpipe.execute_command("GET", "g")
        rpipe.execute()
        base_piped.append(time.perf_counter() - t)
        t = time.perf_counter()
        tc.execute_command("AI.TENSORSET", "tx", "FLOAT", 1, 30, "BLOB", tx.tobytes())
        tc.execute_command("AI.MODELEXECUTE", "mlp", "INPUTS", 2, "tx", "ref", "OUTPUTS", 1, "s")
        tc.execute_command("AI.TENSORGET", "s", "BLOB")
        seq.append(time.perf_counter() - t)
        t = time.perf_counter()
        pipe.execute_command("AI.TENSORSET", "tx", "FLOAT", 1, 30, "BLOB", tx.tobytes())
        pipe.execute_command("AI.MODELEXECUTE", "mlp", "INPUTS", 2, "tx", "ref", "OUTPUTS", 1, "s")
        pipe.execute_command("AI.TENSORGET", "s", "BLOB")
        pipe.execute()
        piped.append(time.perf_counter() - t)
    run = tract_us(tc, "mlp", {"transaction": tx, "reference": ref}, 2000)
    b_seq, b_piped = statistics.median(base_seq) * 1e6, statistics.median(base_piped) * 1e6
    s50, p50 = statistics.median(seq) * 1e6, statistics.median(piped) * 1e6
    tc.execute_command("AI.TENSORSET", "t:000000000000", "FLOAT", 1, 30, "BLOB", tx.tobytes())
    tc.execute_command("AI.TENSORSET", "r:000000000000", "FLOAT", 1, 256, "BLOB", ref.tobytes())
    me = [redis_benchmark(tc_port, 1, 20000, ["AI.MODELEXECUTE", "mlp", "INPUTS", "2", "t:000000000000",
                                              "r:000000000000", "OUTPUTS", "1", "o"])[1] for _ in range(3)]
    gets = [redis_benchmark(rd_port, 1, 20000, ["GET", "g"])[1] for _ in range(3)]
    me50, g50 = statistics.median(me) * 1000, statistics.median(gets) * 1000
    return [
        ("redis-server: SET 120 B + SET + GET, 3 round trips (Python client, baseline)", b_seq, None),
        ("redis-server: the same three pipelined (baseline)", b_piped, None),
        ("tract run of the MLP, batch 1 (worker-measured)", run, None),
        ("tensorcell: TENSORSET + MODELEXECUTE + TENSORGET, 3 round trips", s50, s50 - run - b_seq),
        ("tensorcell: the same three pipelined, 1 round trip", p50, p50 - run - b_piped),
        ("redis-server: GET, redis-benchmark 1 client (baseline)", g50, None),
        ("tensorcell: MODELEXECUTE alone, redis-benchmark 1 client", me50, me50 - run - g50),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tc-port", type=int, required=True)
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    o = ap.parse_args()
    tc = redis.Redis(port=o.tc_port, protocol=2)
    rd = redis.Redis(port=o.redis_port, protocol=2)
    scale = 5 if o.quick else 1
    lines = ["## Models", ""]

    mlp = open(os.path.join(MODELS, "mlp.onnx"), "rb").read()
    model_setup(tc, "mlp", mlp, 0)
    rows = overhead_rows(tc, rd, o.tc_port, o.redis_port, 3000 // scale)
    lines += [
        "Per-request overhead at 1 client (p50, microseconds; overhead = tensorcell round trip - tract run -"
        " the same client's round trip for commands of the same sizes on redis-server, in the same run;"
        " redis-benchmark reports p50 in whole microseconds):",
        "",
        "| what | p50 us | overhead us |",
        "| --- | ---: | ---: |",
    ]
    for label, us, over in rows:
        lines.append(f"| {label} | {us:.1f} | {'' if over is None else f'{over:.1f}'} |")
    lines.append("")
    print("\n".join(lines[-len(rows) - 1:]), flush=True)

    # Throughput: redis-benchmark drives MODELEXECUTE on inputs stored under 100 keys.
    rng = np.random.default_rng(2)
    for i in range(100):
        tc.execute_command("AI.TENSORSET", f"t:{i:012d}", "FLOAT", 1, 30, "BLOB",
                           rng.standard_normal((1, 30)).astype(np.float32).tobytes())
        tc.execute_command("AI.TENSORSET", f"r:{i:012d}", "FLOAT", 1, 256, "BLOB",
                           rng.standard_normal((1, 256)).astype(np.float32).tobytes())
    model_setup(tc, "mlp32", mlp, 32)
    models = [("MLP 1x30+1x256", "mlp", "mlp32", ["INPUTS", "2", "t:__rand_int__", "r:__rand_int__"])]
    mnist_path = os.path.join(SHARED, "mnist.onnx")
    mnist = mnist_any_batch(open(mnist_path, "rb").read()) if os.path.exists(mnist_path) else None
    if mnist:
        digit = open(os.path.join(SHARED, "mnist_one.raw"), "rb").read()
        for i in range(100):
            tc.execute_command("AI.TENSORSET", f"d:{i:012d}", "FLOAT", 1, 1, 28, 28, "BLOB", digit)
        model_setup(tc, "mnist", mnist, 0)
        model_setup(tc, "mnist32", mnist, 32)
        models.append(("mnist 1x1x28x28 (batch dim made symbolic)", "mnist", "mnist32", ["INPUTS", "1", "d:__rand_int__"]))
    lines += [
        "Throughput of AI.MODELEXECUTE (redis-benchmark, inputs already stored; p50/p99 in ms). The batching gain is",
        "BATCHSIZE 32 against unbatched at the same client count; redis-server GET at that client count is the",
        "ceiling of the loopback and client on this machine.",
        "",
        "| model | clients | unbatched ops/s | p50 / p99 | BATCHSIZE 32 ops/s | p50 / p99 | batching gain | redis GET ops/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, plain, batched, inputs in models:
        for clients in (1, 8, 32):
            n = max(2000, (20000 if clients == 1 else 60000) // scale)
            args = lambda m: ["AI.MODELEXECUTE", m] + inputs + ["OUTPUTS", "1", "o:__rand_int__"]
            u = [redis_benchmark(o.tc_port, clients, n, args(plain)) for _ in range(3)]
            b = [redis_benchmark(o.tc_port, clients, n, args(batched)) for _ in range(3)]
            g = [redis_benchmark(o.redis_port, clients, n, ["GET", "x"]) for _ in range(3)]
            med = lambda runs: sorted(runs, key=lambda r: r[0])[1]
            (ur, u50, u99), (br, b50, b99), (gr, _, _) = med(u), med(b), med(g)
            row = (f"| {label} | {clients} | {ur:,.0f} | {u50:.3f} / {u99:.3f} | {br:,.0f} | {b50:.3f} / {b99:.3f}"
                   f" | {br / ur:.2f}x | {gr:,.0f} |")
            lines.append(row)
            print(row, flush=True)
    lines.append("")

    # tract against onnxruntime, one thread each, same inputs.
    lines += [
        "tract (in tensorcell's worker, release build, including tensor conversion) against onnxruntime",
        f"{ort.__version__} (Python, in-process, 1 intra-op thread), microseconds per run, median:",
        "",
        "| model | batch | tract us | onnxruntime us | tract / onnxruntime |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    cases = [("MLP", "mlp", mlp, lambda n: {"transaction": rng.standard_normal((n, 30)).astype(np.float32),
                                             "reference": rng.standard_normal((n, 256)).astype(np.float32)})]
    if mnist:
        cases.append(("mnist", "mnist", mnist,
                      lambda n: {"Input3": np.frombuffer(digit * n, dtype=np.float32).reshape(n, 1, 28, 28)}))
    for label, key, blob, make in cases:
        for batch in (1, 32):
            feed = make(batch)
            t = tract_us(tc, key, feed, 2000 // scale)
            r = ort_us(blob, feed, 2000 // scale)
            row = f"| {label} | {batch} | {t:.1f} | {r:.1f} | {t / r:.2f}x |"
            lines.append(row)
            print(row, flush=True)
    lines.append("")
    text = "\n".join(lines)
    if o.out:
        with open(o.out, "w") as f:
            f.write(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
