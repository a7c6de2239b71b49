#!/usr/bin/env python3
"""Model benchmark rows for docs/benchmarks.md (run by scripts/bench; runnable alone for a look).

    .venv/bin/python scripts/bench_models.py --tc-port P --redis-port Q --tc-bin target/release/tensorcell-server \
        [--quick] [--out section.md]

Needs a running release tensorcell-server on tract and Debian's redis-server (scripts/bench starts both), numpy,
onnxruntime and redis-py (the test venv), and redis-benchmark. It starts a second tensorcell-server (the same
binary) whose models run on ONNX Runtime (`--onnxruntime-library`: the onnxruntime wheel's libonnxruntime.so,
the same library the Python onnxruntime below uses), so every row is measured on both runtimes in one run:

1. Per-request overhead at one client: the p50 round trip of TENSORSET + MODELEXECUTE + TENSORGET (three
   round trips, and the same three pipelined into one) minus the model's own run time as the server's worker
   measured it (AI.INFO duration / calls) minus the same client's p50 for three commands of the same sizes on
   redis-server (SET 120 B, SET, GET 8 B: the loopback and client cost that belongs to neither side); and
   MODELEXECUTE alone from redis-benchmark (a C client) against GET on redis-server.
2. Throughput and p50/p99 latency at 1, 8 and 32 clients (redis-benchmark) of MODELEXECUTE on the MLP
   (1x30 + 1x256 -> 2) and on mnist, unbatched and with BATCHSIZE 32; redis-server GET at the same client
   count is the ceiling reference.
3. The run time inside tensorcell (worker-measured, tensor conversion included), on tract and on ONNX Runtime
   (one thread each), against onnxruntime in-process (Python, one intra-op thread) on the same models and
   batch sizes.
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


def ort_library():
    """The libonnxruntime.so of the onnxruntime package this script imports."""
    capi = os.path.join(os.path.dirname(ort.__file__), "capi")
    libs = sorted(f for f in os.listdir(capi) if f.startswith("libonnxruntime.so."))
    if not libs:
        raise SystemExit(f"no libonnxruntime.so.* in {capi}")
    return os.path.join(capi, libs[0])


def start_ort_server(tc_bin):
    """A second tensorcell-server, its models on ONNX Runtime; returns (process, port)."""
    import socket
    import tempfile

    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    proc = subprocess.Popen([tc_bin, "--port", str(port), "--save", "", "--appendonly", "no", "--dir",
                             tempfile.mkdtemp(), "--onnx-backend", "onnxruntime", "--onnxruntime-library",
                             ort_library()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if redis.Redis(port=port).ping():
                return proc, port
        except redis.ConnectionError:
            time.sleep(0.05)
    raise SystemExit("the ONNX Runtime server did not start")


def runtime_of(tc, name):
    info = tc.execute_command("AI.INFO", name)
    return dict(zip(info[::2], info[1::2])).get(b"runtime", b"?").decode()


def run_us(tc, name, inputs, runs):
    """Mean run time in microseconds as the worker measured it, over `runs` runs of one request."""
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
    run = run_us(tc, "mlp", {"transaction": tx, "reference": ref}, 2000)
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
        ("run of the MLP, batch 1 (worker-measured)", run, None),
        ("tensorcell: TENSORSET + MODELEXECUTE + TENSORGET, 3 round trips", s50, s50 - run - b_seq),
        ("tensorcell: the same three pipelined, 1 round trip", p50, p50 - run - b_piped),
        ("redis-server: GET, redis-benchmark 1 client (baseline)", g50, None),
        ("tensorcell: MODELEXECUTE alone, redis-benchmark 1 client", me50, me50 - run - g50),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tc-port", type=int, required=True)
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--tc-bin", required=True, help="the release tensorcell-server (started again on ONNX Runtime)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    o = ap.parse_args()
    ort_proc, ort_port = start_ort_server(o.tc_bin)
    try:
        text = measure(o, ort_port)
    finally:
        ort_proc.terminate()
        ort_proc.wait()
    if o.out:
        with open(o.out, "w") as f:
            f.write(text)
    else:
        print(text)


def measure(o, ort_port):
    rd = redis.Redis(port=o.redis_port, protocol=2)
    servers = [("tract", o.tc_port), ("onnxruntime", ort_port)]
    scale = 5 if o.quick else 1
    lines = ["## Models", ""]
    mlp = open(os.path.join(MODELS, "mlp.onnx"), "rb").read()
    lines += [
        "Each tensorcell row names the runtime its models ran on (`AI.INFO` says `runtime`): tract, built in, and",
        f"ONNX Runtime {ort.__version__} loaded from the onnxruntime wheel (`onnxruntime-library`), two servers of",
        "the same release binary side by side.",
        "",
        "Per-request overhead at 1 client (p50, microseconds; overhead = tensorcell round trip - the model's run",
        "(worker-measured) - the same client's round trip for commands of the same sizes on redis-server, in the same",
        "run; redis-benchmark reports p50 in whole microseconds):",
        "",
        "| runtime | what | p50 us | overhead us |",
        "| --- | --- | ---: | ---: |",
    ]
    for name, port in servers:
        tc = redis.Redis(port=port, protocol=2)
        model_setup(tc, "mlp", mlp, 0)
        assert runtime_of(tc, "mlp") == name, (name, runtime_of(tc, "mlp"))
        for label, us, over in overhead_rows(tc, rd, port, o.redis_port, 3000 // scale):
            if over is None and name != "tract" and label.startswith("redis-server"):
                continue
            who = "" if label.startswith("redis-server") else name
            lines.append(f"| {who} | {label} | {us:.1f} | {'' if over is None else f'{over:.1f}'} |")
            print(lines[-1], flush=True)
    lines.append("")

    # Throughput: redis-benchmark drives MODELEXECUTE on inputs stored under 100 keys.
    mnist_path = os.path.join(SHARED, "mnist.onnx")
    mnist = mnist_any_batch(open(mnist_path, "rb").read()) if os.path.exists(mnist_path) else None
    digit = open(os.path.join(SHARED, "mnist_one.raw"), "rb").read() if mnist else None
    for _, port in servers:
        tc = redis.Redis(port=port, protocol=2)
        rng = np.random.default_rng(2)
        for i in range(100):
            tc.execute_command("AI.TENSORSET", f"t:{i:012d}", "FLOAT", 1, 30, "BLOB",
                               rng.standard_normal((1, 30)).astype(np.float32).tobytes())
            tc.execute_command("AI.TENSORSET", f"r:{i:012d}", "FLOAT", 1, 256, "BLOB",
                               rng.standard_normal((1, 256)).astype(np.float32).tobytes())
        model_setup(tc, "mlp32", mlp, 32)
        if mnist:
            for i in range(100):
                tc.execute_command("AI.TENSORSET", f"d:{i:012d}", "FLOAT", 1, 1, 28, 28, "BLOB", digit)
            model_setup(tc, "mnist", mnist, 0)
            model_setup(tc, "mnist32", mnist, 32)
    models = [("MLP 1x30+1x256", "mlp", "mlp32", ["INPUTS", "2", "t:__rand_int__", "r:__rand_int__"])]
    if mnist:
        models.append(("mnist 1x1x28x28 (batch dim made symbolic)", "mnist", "mnist32", ["INPUTS", "1", "d:__rand_int__"]))
    lines += [
        "Throughput of AI.MODELEXECUTE (redis-benchmark, inputs already stored; p50/p99 in ms). The batching gain is",
        "BATCHSIZE 32 against unbatched at the same client count; redis-server GET at that client count is the",
        "ceiling of the loopback and client on this machine, and `batched / GET` the goal's ratio (issue 16: the MLP",
        "with BATCHSIZE 32 at 32 clients >= 0.8x).",
        "",
        "| model | runtime | clients | unbatched ops/s | p50 / p99 | BATCHSIZE 32 ops/s | p50 / p99 | batching gain"
        " | redis GET ops/s | batched / GET |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    served = {}
    for label, plain, batched, inputs in models:
        for clients in (1, 8, 32):
            n = max(2000, (20000 if clients == 1 else 60000) // scale)
            args = lambda m: ["AI.MODELEXECUTE", m] + inputs + ["OUTPUTS", "1", "o:__rand_int__"]
            med = lambda runs: sorted(runs, key=lambda r: r[0])[1]
            g = [redis_benchmark(o.redis_port, clients, n, ["GET", "x"]) for _ in range(3)]
            gr = med(g)[0]
            for name, port in servers:
                u = [redis_benchmark(port, clients, n, args(plain)) for _ in range(3)]
                b = [redis_benchmark(port, clients, n, args(batched)) for _ in range(3)]
                (ur, u50, u99), (br, b50, b99) = med(u), med(b)
                if plain == "mlp" and clients == 32:
                    served[name] = br
                row = (f"| {label} | {name} | {clients} | {ur:,.0f} | {u50:.3f} / {u99:.3f} | {br:,.0f} |"
                       f" {b50:.3f} / {b99:.3f} | {br / ur:.2f}x | {gr:,.0f} | {br / gr:.2f}x |")
                lines.append(row)
                print(row, flush=True)
    lines += [
        "",
        "The served fraud-style MLP (one 1x30 transaction and one 1x256 reference per request, BATCHSIZE 32,"
        " 32 clients): " + ", ".join(f"{k} {v:,.0f} inferences/s" for k, v in served.items()) + ".",
        "",
    ]

    # Run time inside the server on each runtime against onnxruntime in-process, one thread each, same inputs.
    lines += [
        "Run time inside tensorcell's worker (release build, one thread, tensor conversion included) on tract and on",
        f"ONNX Runtime, against onnxruntime {ort.__version__} in-process (Python, 1 intra-op thread), microseconds per",
        "run, median. Goal (issue 16): tensorcell on ONNX Runtime within 1.15x of in-process.",
        "",
        "| model | batch | tract us | tensorcell on ONNX Runtime us | onnxruntime in-process us | tract / in-process"
        " | tensorcell ONNX Runtime / in-process |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rng = np.random.default_rng(2)
    cases = [("MLP", "mlp", mlp, lambda n: {"transaction": rng.standard_normal((n, 30)).astype(np.float32),
                                             "reference": rng.standard_normal((n, 256)).astype(np.float32)})]
    if mnist:
        cases.append(("mnist", "mnist", mnist,
                      lambda n: {"Input3": np.frombuffer(digit * n, dtype=np.float32).reshape(n, 1, 28, 28)}))
    for label, key, blob, make in cases:
        for batch in (1, 32):
            feed = make(batch)
            t = run_us(redis.Redis(port=o.tc_port, protocol=2), key, feed, 2000 // scale)
            s = run_us(redis.Redis(port=ort_port, protocol=2), key, feed, 2000 // scale)
            r = ort_us(blob, feed, 2000 // scale)
            row = f"| {label} | {batch} | {t:.1f} | {s:.1f} | {r:.1f} | {t / r:.2f}x | {s / r:.2f}x |"
            lines.append(row)
            print(row, flush=True)
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
