#!/usr/bin/env python3
"""Builds tensorcell's own small ONNX test models and records onnxruntime's outputs next to them.

    .venv/bin/python scripts/make_fixtures.py [outdir]     (default: tests/fixtures/models)

Every model is built with onnx.helper from seeded weights, so the output is the same on every run. For each
model, `cases.json` holds input tensors and the outputs onnxruntime computes for them; the integration tests
feed the same inputs to tensorcell and compare. Needs `onnx`, `onnxruntime` and `numpy` (tests/interop/
requirements.txt installs them into .venv).
"""

import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 13)]
RNG = np.random.default_rng(20261122)

DTYPES = {
    np.float32: ("FLOAT", TensorProto.FLOAT),
    np.float64: ("DOUBLE", TensorProto.DOUBLE),
    np.int32: ("INT32", TensorProto.INT32),
    np.int64: ("INT64", TensorProto.INT64),
    np.int8: ("INT8", TensorProto.INT8),
    np.uint8: ("UINT8", TensorProto.UINT8),
    np.int16: ("INT16", TensorProto.INT16),
    np.uint16: ("UINT16", TensorProto.UINT16),
    np.bool_: ("BOOL", TensorProto.BOOL),
}


def dtype_name(arr):
    # By dtype, not by scalar class: numpy may hand back `longlong` where `int64` was built.
    for t, (name, _) in DTYPES.items():
        if arr.dtype == np.dtype(t):
            return name
    raise KeyError(arr.dtype)


def model(name, nodes, inputs, outputs, inits=()):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = helper.make_model(graph, opset_imports=OPSET, producer_name="tensorcell-fixtures")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def init(name, arr):
    return numpy_helper.from_array(arr, name)


def build():
    """(name, model, [input dicts]) for every fixture."""
    out = []

    # linear: a dense layer with a symbolic batch dim N. Used for batching.
    w = RNG.standard_normal((4, 3)).astype(np.float32)
    b = RNG.standard_normal((3,)).astype(np.float32)
    m = model(
        "linear",
        [helper.make_node("MatMul", ["x", "w"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])],
        [vi("x", TensorProto.FLOAT, ["N", 4])],
        [vi("y", TensorProto.FLOAT, ["N", 3])],
        [init("w", w), init("b", b)],
    )
    xs = [RNG.standard_normal((n, 4)).astype(np.float32) for n in (1, 3)]
    out.append(("linear", m, [{"x": x} for x in xs]))

    # two_inputs: two inputs, two outputs.
    m = model(
        "two_inputs",
        [helper.make_node("Add", ["a", "b"], ["sum"]), helper.make_node("Mul", ["a", "b"], ["product"])],
        [vi("a", TensorProto.FLOAT, ["N", 3]), vi("b", TensorProto.FLOAT, ["N", 3])],
        [vi("sum", TensorProto.FLOAT, ["N", 3]), vi("product", TensorProto.FLOAT, ["N", 3])],
    )
    a = RNG.standard_normal((2, 3)).astype(np.float32)
    bb = RNG.standard_normal((2, 3)).astype(np.float32)
    out.append(("two_inputs", m, [{"a": a, "b": bb}]))

    # cnn: conv -> relu -> maxpool -> flatten -> gemm, on 1x8x8 images.
    k = RNG.standard_normal((4, 1, 3, 3)).astype(np.float32)
    kb = RNG.standard_normal((4,)).astype(np.float32)
    fw = RNG.standard_normal((5, 36)).astype(np.float32)
    fb = RNG.standard_normal((5,)).astype(np.float32)
    m = model(
        "cnn",
        [
            helper.make_node("Conv", ["img", "k", "kb"], ["c"]),
            helper.make_node("Relu", ["c"], ["r"]),
            helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Flatten", ["p"], ["f"], axis=1),
            helper.make_node("Gemm", ["f", "fw", "fb"], ["scores"], transB=1),
        ],
        [vi("img", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [vi("scores", TensorProto.FLOAT, ["N", 5])],
        [init("k", k), init("kb", kb), init("fw", fw), init("fb", fb)],
    )
    imgs = RNG.standard_normal((2, 1, 8, 8)).astype(np.float32)
    out.append(("cnn", m, [{"img": imgs}]))

    # integers: INT64 and INT32 arithmetic, with negative values.
    m = model(
        "integers",
        [
            helper.make_node("Mul", ["x", "three"], ["x3"]),
            helper.make_node("Add", ["x3", "one"], ["y"]),
            helper.make_node("Neg", ["i"], ["j"]),
        ],
        [vi("x", TensorProto.INT64, ["N", 2]), vi("i", TensorProto.INT32, ["N", 2])],
        [vi("y", TensorProto.INT64, ["N", 2]), vi("j", TensorProto.INT32, ["N", 2])],
        [init("three", np.array(3, dtype=np.int64)), init("one", np.array(1, dtype=np.int64))],
    )
    x = np.array([[1, -2], [40000000000, -7]], dtype=np.int64)
    i = np.array([[5, -6], [2147483647, 0]], dtype=np.int32)
    out.append(("integers", m, [{"x": x, "i": i}]))

    # booleans: And, Or, Not.
    m = model(
        "booleans",
        [
            helper.make_node("And", ["p", "q"], ["both"]),
            helper.make_node("Or", ["p", "q"], ["either"]),
            helper.make_node("Not", ["p"], ["not_p"]),
        ],
        [vi("p", TensorProto.BOOL, ["N", 4]), vi("q", TensorProto.BOOL, ["N", 4])],
        [vi("both", TensorProto.BOOL, ["N", 4]), vi("either", TensorProto.BOOL, ["N", 4]),
         vi("not_p", TensorProto.BOOL, ["N", 4])],
    )
    p = np.array([[True, True, False, False]], dtype=np.bool_)
    q = np.array([[True, False, True, False]], dtype=np.bool_)
    out.append(("booleans", m, [{"p": p, "q": q}]))

    # badbatch: sums over the batch, so its output dim 0 is always 1 (auto-batching must fail it).
    m = model(
        "badbatch",
        [helper.make_node("ReduceSum", ["x", "axes"], ["s"], keepdims=1)],
        [vi("x", TensorProto.FLOAT, ["N", 2])],
        [vi("s", TensorProto.FLOAT, [1, 2])],
        [init("axes", np.array([0], dtype=np.int64))],
    )
    out.append(("badbatch", m, [{"x": np.ones((2, 2), dtype=np.float32)}]))

    # slow: 16 layers of 128x128 MatMul + Tanh sharing one weight (a small file), for concurrency, batching
    # and timeout tests: its run time grows with the number of rows.
    nodes, prev = [], "x"
    for layer in range(16):
        mm, th = f"mm{layer}", f"t{layer}"
        nodes.append(helper.make_node("MatMul", [prev, "w"], [mm]))
        nodes.append(helper.make_node("Tanh", [mm], [th]))
        prev = th
    nodes.append(helper.make_node("Identity", [prev], ["y"]))
    w = (RNG.standard_normal((128, 128)) / 11).astype(np.float32)
    m = model("slow", nodes, [vi("x", TensorProto.FLOAT, ["N", 128])], [vi("y", TensorProto.FLOAT, ["N", 128])], [init("w", w)])
    out.append(("slow", m, [{"x": RNG.standard_normal((2, 128)).astype(np.float32)}]))

    # mlp: the fraud-detection benchmark's shape: a 1x30 transaction and a 1x256 reference vector, concatenated,
    # through a 64-unit hidden layer to 2 scores. Used by scripts/bench_models.py.
    w1 = (RNG.standard_normal((286, 64)) / 17).astype(np.float32)
    b1 = RNG.standard_normal((64,)).astype(np.float32)
    w2 = (RNG.standard_normal((64, 2)) / 8).astype(np.float32)
    b2 = RNG.standard_normal((2,)).astype(np.float32)
    m = model(
        "mlp",
        [
            helper.make_node("Concat", ["transaction", "reference"], ["joined"], axis=1),
            helper.make_node("Gemm", ["joined", "w1", "b1"], ["h"]),
            helper.make_node("Relu", ["h"], ["hr"]),
            helper.make_node("Gemm", ["hr", "w2", "b2"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["scores"], axis=1),
        ],
        [vi("transaction", TensorProto.FLOAT, ["N", 30]), vi("reference", TensorProto.FLOAT, ["N", 256])],
        [vi("scores", TensorProto.FLOAT, ["N", 2])],
        [init("w1", w1), init("b1", b1), init("w2", w2), init("b2", b2)],
    )
    feed = {"transaction": RNG.standard_normal((2, 30)).astype(np.float32),
            "reference": RNG.standard_normal((2, 256)).astype(np.float32)}
    out.append(("mlp", m, [feed]))

    # dtypes: every other tensor type through the backend and back (Identity per type, and a STRING one).
    kinds = [("d", TensorProto.DOUBLE, np.float64), ("i8", TensorProto.INT8, np.int8),
             ("i16", TensorProto.INT16, np.int16), ("u8", TensorProto.UINT8, np.uint8),
             ("u16", TensorProto.UINT16, np.uint16)]
    m = model(
        "dtypes",
        [helper.make_node("Identity", [f"{k}_in"], [f"{k}_out"]) for k, _, _ in kinds]
        + [helper.make_node("Identity", ["s_in"], ["s_out"])],
        [vi(f"{k}_in", e, ["N", 3]) for k, e, _ in kinds] + [vi("s_in", TensorProto.STRING, ["N", 2])],
        [vi(f"{k}_out", e, ["N", 3]) for k, e, _ in kinds] + [vi("s_out", TensorProto.STRING, ["N", 2])],
    )
    feed = {f"{k}_in": np.array([[np.iinfo(t).min if t != np.float64 else -1.5, 0,
                                  np.iinfo(t).max if t != np.float64 else 1e300]], dtype=t) for k, _, t in kinds}
    feed["s_in"] = np.array([["tensor", "cell"]], dtype=object)
    out.append(("dtypes", m, [feed]))

    # add: element-wise a + b on 2-element vectors (the seed's DAG example).
    m = model(
        "add",
        [helper.make_node("Add", ["a", "b"], ["c"])],
        [vi("a", TensorProto.FLOAT, [2]), vi("b", TensorProto.FLOAT, [2])],
        [vi("c", TensorProto.FLOAT, [2])],
    )
    out.append(("add", m, [{"a": np.array([2, 3], dtype=np.float32), "b": np.array([2, 3], dtype=np.float32)}]))
    return out


def tensor_json(arr):
    if arr.dtype == object:
        return {"dtype": "STRING", "shape": list(arr.shape), "values": [str(v) for v in arr.flatten()]}
    return {
        "dtype": dtype_name(arr),
        "shape": list(arr.shape),
        "values": [bool(v) if arr.dtype == np.bool_ else (int(v) if arr.dtype.kind in "iu" else float(v))
                   for v in arr.flatten()],
    }


def endless():
    """endless: a Loop whose condition stays true and whose trip count is unbounded: it runs until stopped (the
    model-execution-timeout kill switch test). No case is recorded: onnxruntime would never return."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["v_in", "one"], ["v_out"]),
        ],
        "endless_body",
        [vi("i", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []), vi("v_in", TensorProto.FLOAT, [1])],
        [vi("cond_out", TensorProto.BOOL, []), vi("v_out", TensorProto.FLOAT, [1])],
        initializer=[init("one", np.ones(1, dtype=np.float32))],
    )
    nodes = [helper.make_node("Loop", ["", "cond"], ["y"], body=body, name="forever")]
    nodes[0].input.append("x")
    return model("endless", nodes, [vi("x", TensorProto.FLOAT, [1])], [vi("y", TensorProto.FLOAT, [1])],
                 [init("cond", np.array(True))])


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "models")
    os.makedirs(outdir, exist_ok=True)
    cases = {}
    for name, m, inputs in build():
        path = os.path.join(outdir, f"{name}.onnx")
        data = m.SerializeToString()
        with open(path, "wb") as f:
            f.write(data)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
        runs = []
        for feed in inputs:
            results = sess.run(None, feed)
            runs.append({
                "inputs": [dict(name=k, **tensor_json(v)) for k, v in feed.items()],
                "outputs": [dict(name=o.name, **tensor_json(r)) for o, r in zip(sess.get_outputs(), results)],
            })
        cases[name] = {
            "inputs": [i.name for i in sess.get_inputs()],
            "outputs": [o.name for o in sess.get_outputs()],
            "runs": runs,
        }
    with open(os.path.join(outdir, "endless.onnx"), "wb") as f:
        f.write(endless().SerializeToString())
    with open(os.path.join(outdir, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(cases)} models and cases.json to {os.path.normpath(outdir)} (onnxruntime {ort.__version__})")


if __name__ == "__main__":
    main()
