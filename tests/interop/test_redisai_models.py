"""redisai-py end to end on models: modelstore (chunked), modelget, modelexecute, tensorget, infoget,
inforeset, modelscan, modeldel, config, and the deprecated modelset/modelrun, against a real server.

Models: tensorcell's own fixtures (tests/fixtures/models, built by scripts/make_fixtures.py with
onnxruntime's outputs recorded in cases.json) and the shared third-party ones (../shared/fixtures/onnx).
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
import redisai
from redis.exceptions import ResponseError

from conftest import ONNX_RUNTIME

REPO = pathlib.Path(__file__).resolve().parents[2]
MODELS = REPO / "tests" / "fixtures" / "models"


def model_bytes(name: str) -> bytes:
    return (MODELS / f"{name}.onnx").read_bytes()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def ai(request, server, r):
    client = redisai.Client(host=server.host, port=server.port, protocol=request.param,
                            socket_timeout=60)
    yield client
    client.close()


def test_modelstore_is_chunked_by_the_servers_chunk_size(ai):
    blob = model_bytes("cnn")
    # redisai-py asks AI.CONFIG GET MODEL_CHUNK_SIZE (an integer) and splits the blob itself.
    assert ai.config("MODEL_CHUNK_SIZE", 100) == "OK"
    try:
        assert ai.modelstore("cnn", "ONNX", "CPU", blob, tag="v2", batch=4, minbatch=2) == "OK"
        got = ai.modelget("cnn")
        assert isinstance(got["blob"], list) and len(got["blob"]) == len(blob) // 100 + 1
        assert b"".join(got["blob"]) == blob
    finally:
        ai.config("MODEL_CHUNK_SIZE", 535822336)
    meta = ai.modelget("cnn", meta_only=True)
    assert meta["backend"] == "ONNX" and meta["device"] == "CPU" and meta["tag"] == "v2"
    assert meta["batchsize"] == 4 and meta["minbatchsize"] == 2 and meta["minbatchtimeout"] == 0
    assert meta["inputs"] == ["img"] and meta["outputs"] == ["scores"]
    assert ai.modelget("cnn")["blob"] == blob


def test_modelexecute_matches_onnxruntime(ai):
    cases = json.loads((MODELS / "cases.json").read_text())
    case = cases["cnn"]["runs"][0]
    ai.modelstore("cnn", "ONNX", "CPU", model_bytes("cnn"))
    img = np.array(case["inputs"][0]["values"], dtype=np.float32).reshape(case["inputs"][0]["shape"])
    ai.tensorset("img", img)
    assert ai.modelexecute("cnn", inputs=["img"], outputs=["scores"]) == "OK"
    got = ai.tensorget("scores")
    want = np.array(case["outputs"][0]["values"], dtype=np.float32).reshape(case["outputs"][0]["shape"])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_two_inputs_two_outputs_and_integer_types(ai):
    ai.modelstore("two", "ONNX", "CPU", model_bytes("two_inputs"))
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.full((2, 3), 2.0, dtype=np.float32)
    ai.tensorset("a", a)
    ai.tensorset("b", b)
    assert ai.modelexecute("two", inputs=["a", "b"], outputs=["s", "p"]) == "OK"
    np.testing.assert_array_equal(ai.tensorget("s"), a + b)
    np.testing.assert_array_equal(ai.tensorget("p"), a * b)

    ai.modelstore("ints", "ONNX", "CPU", model_bytes("integers"))
    x = np.array([[1, -2], [40000000000, -7]], dtype=np.int64)
    i = np.array([[5, -6], [2147483647, 0]], dtype=np.int32)
    ai.tensorset("x", x)
    ai.tensorset("i", i)
    assert ai.modelexecute("ints", inputs=["x", "i"], outputs=["y", "j"]) == "OK"
    np.testing.assert_array_equal(ai.tensorget("y"), x * 3 + 1)
    np.testing.assert_array_equal(ai.tensorget("j"), -i)

    ai.modelstore("bools", "ONNX", "CPU", model_bytes("booleans"))
    p = np.array([[True, True, False, False]])
    q = np.array([[True, False, True, False]])
    ai.tensorset("p", p)
    ai.tensorset("q", q)
    assert ai.modelexecute("bools", inputs=["p", "q"], outputs=["both", "either", "not_p"]) == "OK"
    np.testing.assert_array_equal(ai.tensorget("both"), p & q)
    np.testing.assert_array_equal(ai.tensorget("either"), p | q)
    np.testing.assert_array_equal(ai.tensorget("not_p"), ~p)


def test_infoget_inforeset_and_modelscan(ai):
    ai.modelstore("m", "ONNX", "cpu", model_bytes("linear"), tag="v1.2")
    assert ai.infoget("m") == {"key": "m", "type": "MODEL", "backend": "ONNX", "device": "cpu",
                               "tag": "v1.2", "duration": 0, "samples": 0, "calls": 0, "errors": 0,
                               "runtime": ONNX_RUNTIME}
    ai.tensorset("x", np.ones((3, 4), dtype=np.float32))
    ai.modelexecute("m", inputs=["x"], outputs=["y"])
    info = ai.infoget("m")
    assert info["calls"] == 1 and info["samples"] == 3 and info["errors"] == 0 and info["duration"] > 0
    assert ai.inforeset("m") == "OK"
    assert ai.infoget("m")["calls"] == 0
    ai.modelstore("pt_model", "ONNX", "CPU", model_bytes("add"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scan = ai.modelscan()
    assert sorted(scan) == [["m", "v1.2"], ["pt_model", ""]]
    assert ai.modeldel("m") == "OK"
    with pytest.raises(ResponseError, match="model key is empty"):
        ai.modelget("m")


def test_errors_come_back_as_exceptions(ai):
    with pytest.raises(ResponseError, match="unsupported backend"):
        ai.modelstore("m", "TORCH", "CPU", b"x")
    with pytest.raises(ResponseError, match="Reading proto model|protobuf parsing failed"):
        ai.modelstore("m", "ONNX", "CPU", b"not a model")
    ai.modelstore("m", "ONNX", "CPU", model_bytes("linear"))
    ai.tensorset("wide", np.ones((1, 5), dtype=np.float32))
    with pytest.raises(ResponseError, match=r"input 0 \('x'\) of the model has shape"):
        ai.modelexecute("m", inputs=["wide"], outputs=["y"])
    assert ai.infoget("m")["errors"] == 1


def test_deprecated_modelset_and_modelrun(ai):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ai.execute_command("AI.MODELSET", "m", "ONNX", "CPU", "BLOB", model_bytes("add"))
        ai.tensorset("a", np.array([2, 3], dtype=np.float32))
        ai.tensorset("b", np.array([2, 3], dtype=np.float32))
        assert ai.execute_command("AI.MODELRUN", "m", "INPUTS", "a", "b", "OUTPUTS", "c") in (b"OK", "OK")
    np.testing.assert_array_equal(ai.tensorget("c"), np.array([4, 6], dtype=np.float32))


@pytest.mark.needs_shared_onnx
def test_third_party_onnx_ml_and_dl_models(ai, onnx_fixtures):
    # redisai-py's own test_run_onnxml_model / test_run_onnxdl_model, on tract.
    ai.modelstore("boston", "ONNX", "CPU", (onnx_fixtures / "boston.onnx").read_bytes())
    ai.tensorset("h", np.array([[0.00632, 18, 2.31, 0, 0.538, 6.575, 65.2, 4.09, 1, 296, 15.3, 396.9, 4.98]],
                               dtype=np.float32))
    ai.modelexecute("boston", inputs=["h"], outputs=["price"])
    price = ai.tensorget("price")
    assert price.shape == (1, 1) and np.isfinite(price).all()
    ai.modelstore("sq", "ONNX", "CPU", (onnx_fixtures / "findsquare.onnx").read_bytes())
    ai.tensorset("n", np.array([5.0], dtype=np.float32))
    ai.modelexecute("sq", inputs=["n"], outputs=["n2"])
    assert ai.tensorget("n2").shape == (1,)
    ai.modelstore("mnist", "ONNX", "CPU", (onnx_fixtures / "mnist.onnx").read_bytes())
    digit = np.frombuffer((onnx_fixtures / "mnist_one.raw").read_bytes(), dtype=np.float32).reshape(1, 1, 28, 28)
    ai.tensorset("digit", digit)
    ai.modelexecute("mnist", inputs=["digit"], outputs=["scores"])
    assert int(np.argmax(ai.tensorget("scores"))) == 1


def test_pipeline_of_tensor_and_model_commands(ai):
    ai.modelstore("m", "ONNX", "CPU", model_bytes("linear"))
    pipe = ai.pipeline(transaction=False)
    for k in range(5):
        pipe.tensorset(f"x{k}", np.full((1, 4), k, dtype=np.float32))
        # redisai-py's pipeline has only the tensor methods; model commands go through execute_command.
        pipe.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, f"x{k}", "OUTPUTS", 1, f"y{k}")
        pipe.tensorget(f"y{k}")
    results = pipe.execute()
    outs = [r for r in results if isinstance(r, np.ndarray)]
    assert len(outs) == 5 and all(o.shape == (1, 3) for o in outs)
    assert not np.array_equal(outs[0], outs[1])


def test_fixtures_are_reproducible(tmp_path):
    """scripts/make_fixtures.py rebuilds the committed models byte for byte, with the same outputs."""
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_fixtures.py"), str(tmp_path)], check=True)
    for committed in MODELS.glob("*.onnx"):
        assert (tmp_path / committed.name).read_bytes() == committed.read_bytes(), committed.name
    fresh = json.loads((tmp_path / "cases.json").read_text())
    old = json.loads((MODELS / "cases.json").read_text())
    assert fresh.keys() == old.keys()
    for name in old:
        for run_new, run_old in zip(fresh[name]["runs"], old[name]["runs"]):
            for a, b in zip(run_new["outputs"], run_old["outputs"]):
                assert a["dtype"] == b["dtype"] and a["shape"] == b["shape"], name
                if a["dtype"] == "STRING":
                    assert a["values"] == b["values"], name
                else:
                    np.testing.assert_allclose(np.array(a["values"], dtype=np.float64),
                                               np.array(b["values"], dtype=np.float64), rtol=1e-5, atol=1e-6)


SCRIPT = """
import numpy as np

def bar(tensors, keys, args):
    a, b = tensors
    return a + b

def scale(tensors, keys, args):
    return [t * float(args[0]) for t in tensors]
"""


def test_scripts_end_to_end(ai):
    """redisai-py's scriptstore / scriptexecute / scriptget / scriptscan / scriptdel on Python scripts."""
    assert ai.scriptstore("s", "CPU", SCRIPT, entry_points=["bar", "scale"], tag="v3") == "OK"
    a = np.array([[1, 2], [3, 4]], dtype=np.float32)
    b = np.array([[10, 20], [30, 40]], dtype=np.float32)
    ai.tensorset("a", a)
    ai.tensorset("b", b)
    assert ai.scriptexecute("s", "bar", inputs=["a", "b"], outputs=["c"]) == "OK"
    np.testing.assert_array_equal(ai.tensorget("c"), a + b)
    assert ai.scriptexecute("s", "scale", inputs=["a", "b"], args=["0.5"], outputs=["x", "y"]) == "OK"
    np.testing.assert_array_equal(ai.tensorget("y"), b * 0.5)
    got = ai.scriptget("s")
    assert got["device"] == "CPU" and got["tag"] == "v3" and got["source"] == SCRIPT
    # redisai-py lowercases "Entry Points" and leaves the names as bytes.
    assert [n.decode() for n in got["entry points"]] == ["bar", "scale"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ai.scriptscan() == [["s", "v3"]]
    info = ai.infoget("s")
    assert info["type"] == "SCRIPT" and info["calls"] == 2 and info["samples"] == -1
    with pytest.raises(ResponseError, match="ZeroDivisionError|AttributeError"):
        ai.scriptexecute("s", "missing", inputs=["a"], outputs=["z"])
    assert ai.scriptdel("s") == "OK"
    with pytest.raises(ResponseError, match="script key is empty"):
        ai.scriptget("s")


def test_dag_builder_end_to_end(ai):
    """redisai-py's dag() builder: AI.DAGEXECUTE with LOAD/PERSIST, and DAGEXECUTE_RO."""
    ai.modelstore("add", "ONNX", "CPU", model_bytes("add"))
    ai.tensorset("a", np.array([2, 3], dtype=np.float32))
    dag = ai.dag(load=["a"], persist=["c"])
    dag.tensorset("b", np.array([2, 3], dtype=np.float32))
    dag.modelexecute("add", inputs=["a", "b"], outputs=["c"])
    dag.tensorget("c")
    result = dag.execute()
    assert result[0] == "OK" and result[1] == "OK"
    np.testing.assert_array_equal(result[2], np.array([4, 6], dtype=np.float32))
    np.testing.assert_array_equal(ai.tensorget("c"), np.array([4, 6], dtype=np.float32))
    assert not ai.exists("b"), "DAG-local tensors never reach the keyspace"
    ro = ai.dag(load=["c"], readonly=True)
    ro.modelexecute("add", inputs=["c", "c"], outputs=["d"])
    ro.tensorget("d")
    out = ro.execute()
    np.testing.assert_array_equal(out[1], np.array([8, 12], dtype=np.float32))
    assert not ai.exists("d")
