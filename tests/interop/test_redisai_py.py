"""AI.TENSORSET / AI.TENSORGET through redisai-py 1.3.0 (running on redis-py 8).

redisai-py builds ``AI.TENSORSET key DTYPE *shape BLOB <ndarray.tobytes()>`` from a numpy
array and reads tensors back with ``AI.TENSORGET key META BLOB`` (or ``META VALUES`` /
``META``). Every round trip here is checked bit for bit (``tobytes()``), so NaN payloads,
signed zeros and integer extremes must survive unchanged.

Compatibility notes (redisai 1.3.0 pins ``redis<5``; we run it on redis 8.1 with numpy 2):

* ``redisai.Client(host, port)`` with *positional* arguments does not work in any redisai
  version: its signature is ``Client(debug=False, enable_postprocess=True, *args, **kwargs)``,
  so the host lands in ``debug`` and the port in ``enable_postprocess``. Use keywords.
* ``tensorget(..., as_numpy_mutable=True)`` calls ``np.fromstring`` on binary data, which
  numpy 2 removed (ValueError). That is a client/numpy problem, not a server one; see
  ``test_as_numpy_mutable``.
* Everything else used here works unchanged on redis-py 8, under RESP2 and RESP3.
"""

import math
import zlib

import numpy as np
import pytest
import redis
import redisai
from redis.exceptions import ResponseError

NUMERIC_DTYPES = ["float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "bool"]
WIRE_NAME = {
    "float32": "FLOAT",
    "float64": "DOUBLE",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "uint8": "UINT8",
    "uint16": "UINT16",
    "bool": "BOOL",
}
SHAPES = [(1,), (7,), (3, 4), (2, 3, 4), (2, 1, 3, 1, 2)]


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def ai(request, server, r):
    """A redisai-py client (keyword arguments: see module docstring) per RESP version."""
    client = redisai.Client(host=server.host, port=server.port, protocol=request.param,
                            socket_timeout=30)
    yield client
    client.close()


def random_array(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if dt.kind == "f":
        return (rng.standard_normal(size=shape) * 1e3).astype(dt)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)


def assert_bit_exact(got, expected):
    assert isinstance(got, np.ndarray), f"expected an ndarray, got {type(got)}: {got!r}"
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()


# --------------------------------------------------------------------------------------
# BLOB round trips (tensorget default: as_numpy=True)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", NUMERIC_DTYPES)
def test_random_roundtrip(ai, dtype, shape):
    arr = random_array(dtype, shape, seed=zlib.crc32(f"{dtype}{shape}".encode()))
    assert ai.tensorset("t", arr) == "OK"
    assert_bit_exact(ai.tensorget("t"), arr)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint16"])
def test_integer_extremes(ai, dtype):
    info = np.iinfo(dtype)
    vals = [info.min, info.max, 0, 1, info.max - 1, info.min + 1]
    if info.min < 0:
        vals += [-1, -2]
    arr = np.array(vals, dtype=dtype)
    ai.tensorset("t", arr)
    assert_bit_exact(ai.tensorget("t"), arr)
    # Same values through the VALUES reply (integers on the wire).
    got = ai.tensorget("t", as_numpy=False)
    assert got["dtype"] == WIRE_NAME[dtype]
    assert got["shape"] == [len(vals)]
    assert got["values"] == [int(v) for v in vals]


@pytest.mark.parametrize("dtype,bits", [("float32", "uint32"), ("float64", "uint64")])
def test_float_special_values_bitwise(ai, dtype, bits):
    fi = np.finfo(dtype)
    specials = np.array(
        [0.0, -0.0, np.inf, -np.inf, np.nan, fi.max, fi.min, fi.tiny, fi.smallest_subnormal,
         -fi.smallest_subnormal, fi.eps, 1.0, -1.0, 1 / 3],
        dtype=dtype,
    )
    # NaNs with payloads and sign bits: only a byte-exact store keeps these.
    if dtype == "float32":
        nan_bits = np.array([0x7FC00001, 0xFFC00000, 0x7F800001, 0x7FFFFFFF], dtype=bits)
    else:
        nan_bits = np.array([0x7FF8000000000001, 0xFFF8000000000000, 0x7FF0000000000001,
                             0x7FFFFFFFFFFFFFFF], dtype=bits)
    arr = np.concatenate([specials, nan_bits.view(dtype)]).reshape(2, -1)
    ai.tensorset("f", arr)
    got = ai.tensorget("f")
    assert_bit_exact(got, arr)
    assert (got.view(bits) == arr.view(bits)).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_values_reply(ai, dtype):
    """VALUES is text/doubles on the wire; non-NaN values must still come back exactly."""
    fi = np.finfo(dtype)
    arr = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, fi.max, fi.min, fi.tiny,
                    fi.smallest_subnormal, 0.1, -2.5, 1 / 3], dtype=dtype)
    ai.tensorset("f", arr)
    got = ai.tensorget("f", as_numpy=False)
    assert got["dtype"] == WIRE_NAME[dtype]
    assert got["shape"] == [arr.size]
    values = got["values"]
    assert all(isinstance(v, float) for v in values)
    back = np.array(values, dtype=dtype)
    for i, (g, e) in enumerate(zip(back, arr)):
        if math.isnan(e):
            assert math.isnan(g), f"element {i}: expected NaN, got {g}"
        else:
            assert g.tobytes() == e.tobytes(), f"element {i}: {g!r} != {e!r}"


def test_bool_values(ai):
    arr = np.array([[True, False, True], [False, False, True]])
    ai.tensorset("b", arr)
    assert_bit_exact(ai.tensorget("b"), arr)
    got = ai.tensorget("b", as_numpy=False)
    assert got == {"dtype": "BOOL", "shape": [2, 3], "values": [1, 0, 1, 0, 0, 1]}


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES)
def test_values_reply_matches_array(ai, dtype):
    arr = random_array(dtype, (2, 3, 2), seed=7)
    ai.tensorset("t", arr)
    got = ai.tensorget("t", as_numpy=False)
    assert got["dtype"] == WIRE_NAME[dtype]
    assert got["shape"] == [2, 3, 2]
    expected = arr.ravel().tolist()
    if dtype == "bool":
        expected = [int(v) for v in expected]
    if dtype == "float32":
        assert np.array(got["values"], dtype=np.float32).tobytes() == arr.tobytes()
    else:
        assert got["values"] == expected


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES)
def test_meta_only(ai, dtype):
    arr = random_array(dtype, (4, 1, 3), seed=3)
    ai.tensorset("t", arr)
    assert ai.tensorget("t", meta_only=True) == {"dtype": WIRE_NAME[dtype], "shape": [4, 1, 3]}


def test_large_tensor(ai):
    arr = np.random.default_rng(1).standard_normal(1_000_000).astype(np.float32).reshape(1000, 1000)
    ai.tensorset("big", arr)
    assert_bit_exact(ai.tensorget("big"), arr)


def test_overwrite_changes_dtype_and_shape(ai):
    ai.tensorset("t", np.arange(12, dtype=np.int64).reshape(3, 4))
    new = np.linspace(0, 1, 5, dtype=np.float64)
    ai.tensorset("t", new)
    assert_bit_exact(ai.tensorget("t"), new)
    assert ai.tensorget("t", meta_only=True) == {"dtype": "DOUBLE", "shape": [5]}


# --------------------------------------------------------------------------------------
# tensorset from Python lists (VALUES on the wire)
# --------------------------------------------------------------------------------------


def test_tensorset_from_list(ai):
    assert ai.tensorset("l", [1, 2, 3, 4, 5, 6], shape=(2, 3), dtype="int32") == "OK"
    assert_bit_exact(ai.tensorget("l"), np.arange(1, 7, dtype=np.int32).reshape(2, 3))
    ai.tensorset("f", (1.5, -2.25), dtype="float")
    assert_bit_exact(ai.tensorget("f"), np.array([1.5, -2.25], dtype=np.float32))
    ai.tensorset("d", [0.1, 1e300], dtype="double")
    assert_bit_exact(ai.tensorget("d"), np.array([0.1, 1e300], dtype=np.float64))


# --------------------------------------------------------------------------------------
# STRING tensors: redisai-py sends numpy unicode arrays as "".join(s + "\0")
# --------------------------------------------------------------------------------------


def test_string_tensor_roundtrip(ai):
    arr = np.array([["alpha", "", "ünïcødé"], ["日本語", "x" * 300, "tab\tand space"]])
    assert arr.dtype.kind == "U"
    assert ai.tensorset("s", arr) == "OK"
    got = ai.tensorget("s")
    assert isinstance(got, np.ndarray)
    assert got.dtype.kind == "U"
    assert got.shape == arr.shape
    assert got.tolist() == arr.tolist()
    assert ai.tensorget("s", meta_only=True) == {"dtype": "STRING", "shape": [2, 3]}
    assert ai.tensorget("s", as_numpy=False) == {
        "dtype": "STRING",
        "shape": [2, 3],
        "values": arr.ravel().tolist(),
    }


def test_string_tensor_from_list(ai):
    ai.tensorset("s", ["a", "bc"], dtype="str")
    got = ai.tensorget("s")
    assert got.tolist() == ["a", "bc"]
    assert ai.execute_command("AI.TENSORGET", "s", "BLOB") == b"a\x00bc\x00"


def test_string_tensor_bytes_array_not_supported_by_client(ai):
    """redisai-py only maps numpy *unicode* arrays to STRING; a bytes (``S``) array is
    refused client-side before anything is sent. The server side of raw bytes is covered
    by test_string_tensor_raw_blob."""
    with pytest.raises(TypeError, match="doesn't support tensors of type"):
        ai.tensorset("s", np.array([b"a", b"b"]))


def test_string_tensor_raw_blob(ai):
    blob = b"caf\xc3\xa9\x00\xff\xfe raw\x00\x00"
    assert ai.execute_command("AI.TENSORSET", "s", "STRING", 3, "BLOB", blob) in (b"OK", "OK")
    assert ai.execute_command("AI.TENSORGET", "s", "BLOB") == blob
    assert ai.tensorget("s", meta_only=True) == {"dtype": "STRING", "shape": [3]}


# --------------------------------------------------------------------------------------
# Wire format seen by plain redis-py, and generic key commands on tensors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("proto", [2, 3])
def test_tensorget_meta_blob_is_flat_list(make_client, proto):
    c = make_client(protocol=proto)
    c.flushall()
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    c.execute_command("AI.TENSORSET", "t", "FLOAT", 2, 3, "BLOB", arr.tobytes())
    reply = c.execute_command("AI.TENSORGET", "t", "META", "BLOB")
    assert reply == [b"dtype", b"FLOAT", b"shape", [2, 3], b"blob", arr.tobytes()]


def test_generic_key_commands_on_tensor(ai, r):
    arr = np.array([1, 2, 3], dtype=np.int16)
    ai.tensorset("t", arr)
    assert r.type("t") == b"AI_TENSOR"
    assert r.exists("t") == 1
    assert r.expire("t", 100) is True
    assert 0 < r.ttl("t") <= 100
    assert r.rename("t", "t2") is True
    assert_bit_exact(ai.tensorget("t2"), arr)
    assert 0 < r.ttl("t2") <= 100
    assert set(r.scan_iter(_type="AI_TENSOR")) == {b"t2"}
    assert r.delete("t2") == 1
    with pytest.raises(ResponseError) as e:
        ai.tensorget("t2")
    assert str(e.value) == "tensor key is empty or in a different shard"


def test_wrongtype_both_ways(ai, r):
    r.set("s", "plain")
    with pytest.raises(ResponseError) as e:
        ai.tensorset("s", np.zeros(2, dtype=np.float32))
    assert str(e.value) == "WRONGTYPE Operation against a key holding the wrong kind of value"
    with pytest.raises(ResponseError, match="^WRONGTYPE"):
        ai.tensorget("s")
    ai.tensorset("t", np.zeros(2, dtype=np.float32))
    with pytest.raises(ResponseError, match="^WRONGTYPE"):
        r.get("t")
    # SET overwrites any type, as in Redis.
    assert r.set("t", "now a string") is True
    assert r.type("t") == b"string"


@pytest.mark.parametrize("dtype", ["uint32", "uint64"])
def test_unsupported_dtypes_rejected_by_server(ai, dtype):
    """redisai-py maps uint32/uint64 to UINT32/UINT64, which RedisAI itself rejects."""
    with pytest.raises(ResponseError) as e:
        ai.tensorset("u", np.array([1, 2], dtype=dtype))
    assert str(e.value) == "invalid data type"
    assert ai.exists("u") == 0


def test_zero_dimension_rejected(ai):
    with pytest.raises(ResponseError) as e:
        ai.tensorset("z", np.zeros((2, 0), dtype=np.float32))
    assert str(e.value) == "invalid or negative value found in tensor shape"


# --------------------------------------------------------------------------------------
# Pipelines
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("transaction", [False, True], ids=["plain", "multi"])
def test_pipeline_tensorset_tensorget(ai, transaction):
    a = random_array("float32", (3, 2), seed=11)
    b = random_array("int64", (4,), seed=12)
    pipe = ai.pipeline(transaction=transaction)
    pipe.tensorset("a", a)
    pipe.tensorset("b", b)
    pipe.tensorget("a")
    pipe.tensorget("b", as_numpy=False)
    pipe.tensorget("a", meta_only=True)
    pipe.set("plain", "v")
    pipe.get("plain")
    res = pipe.execute()
    assert len(res) == 7
    # redisai-py does not post-process TENSORSET replies inside pipelines (documented).
    assert res[0] in (b"OK", "OK")
    assert res[1] in (b"OK", "OK")
    assert_bit_exact(res[2], a)
    assert res[3] == {"dtype": "INT64", "shape": [4], "values": b.tolist()}
    assert res[4] == {"dtype": "FLOAT", "shape": [3, 2]}
    assert res[5] is True
    assert res[6] == b"v"


def test_pipeline_many_tensors(ai):
    arrays = {f"t{i}": random_array(NUMERIC_DTYPES[i % len(NUMERIC_DTYPES)], (i % 5 + 1, 3), seed=i)
              for i in range(50)}
    pipe = ai.pipeline(transaction=False)
    for k, v in arrays.items():
        pipe.tensorset(k, v)
    for k in arrays:
        pipe.tensorget(k)
    res = pipe.execute()
    assert res[:50] == [b"OK"] * 50
    for got, expected in zip(res[50:], arrays.values()):
        assert_bit_exact(got, expected)


# --------------------------------------------------------------------------------------
# Known client-side incompatibility
# --------------------------------------------------------------------------------------


@pytest.mark.xfail(
    int(np.__version__.split(".")[0]) >= 2,
    raises=ValueError,
    strict=True,
    reason="redisai-py 1.3.0 uses np.fromstring(binary) for as_numpy_mutable=True, "
    "removed in numpy 2 (client bug, not the server's)",
)
def test_as_numpy_mutable(ai):
    arr = np.arange(4, dtype=np.int32)
    ai.tensorset("t", arr)
    got = ai.tensorget("t", as_numpy_mutable=True)
    assert_bit_exact(got, arr)
    got[0] = 9  # must be writable


def test_redis8_client_class(ai):
    """redisai.Client is a redis-py 8 client underneath; plain commands work too."""
    assert isinstance(ai, redis.Redis)
    assert ai.ping() is True
    assert ai.set("x", "1") is True
