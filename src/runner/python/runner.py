"""tensorcell's Python script runner: one process per runner, started by the server.

The server starts `python3 -c <bootstrap>` with this file on standard input, the runner's end of a Unix
socket pair as fd 3 and a shared-memory file (memfd) as fd 4, then drives it with the framed protocol of
docs/runners.md: `init` (load the script), then `call` / `score` / `begin` requests, during which the runner
calls back into the server (`redis.execute`, `redisAI.model_execute`, cells and pools). Nothing here holds
state that outlives a request except the script's own module.
"""

import builtins
import inspect
import json
import mmap
import os
import signal
import socket
import struct
import sys
import threading
import time
import types

SHM_MIN = 4096  # tensors of at least this many bytes cross through the shared-memory file
_HDR = struct.Struct("<II")

_sock = socket.socket(fileno=3)
_inbuf = bytearray()  # bytes received and not yet taken as a frame
# How long a wait for the server polls the socket before it sleeps: each request says (`spin_us`), for the
# callbacks it makes and for the wait for the next request (see `spin()` in src/runner/pacing.rs for why).
_spin = [0.0]
_shm_fd = 4
_shm = None  # an mmap of fd 4, remapped when the file has grown past it


# What the native half's `PROTOCOL` must say (`PROTOCOL` in src/runner/python/native/src/lib.rs).
_NATIVE_PROTOCOL = 2


def _load_native():
    """The native half of this runner (`_tensorcell_native`, src/runner/python/native), from the path the
    server gives in TENSORCELL_NATIVE: frames and the `call` request in Rust. Without it (no path, or an
    interpreter that cannot load it) the runner does the same in Python, only slower; `native` in the `init`
    answer tells the server which."""
    path = os.environ.pop("TENSORCELL_NATIVE", None)  # not the script's, nor its subprocesses'
    if not path:
        return None, "not configured"
    if hasattr(sys, "_is_gil_enabled"):
        import sysconfig
        if sysconfig.get_config_var("Py_GIL_DISABLED"):
            # A free-threaded CPython has another object layout than the stable ABI this module is built for.
            return None, "a free-threaded Python cannot load a stable-ABI extension"
    try:
        import importlib.machinery
        import importlib.util
        loader = importlib.machinery.ExtensionFileLoader("_tensorcell_native", path)
        spec = importlib.util.spec_from_file_location("_tensorcell_native", path, loader=loader)
        mod = importlib.util.module_from_spec(spec)
        loader.exec_module(mod)
        if getattr(mod, "PROTOCOL", None) != _NATIVE_PROTOCOL:
            # An older (or newer) build than this runner: its calls would not match.
            return None, f"{path} speaks protocol {getattr(mod, 'PROTOCOL', 1)}, this runner {_NATIVE_PROTOCOL}"
        return mod.Channel(3, lambda result: _result_frame(result)), None
    except Exception as e:  # ImportError, OSError (an unreadable file): run without it
        return None, f"{type(e).__name__}: {e}"


_native, _native_error = _load_native()


class ScriptTimedOut(BaseException):
    """Raised in a script the server interrupted (a BaseException: `except Exception` does not stop it)."""


class _Flags:
    user = False  # inside the script's code (a SIGINT may then raise)
    interrupted = False  # a SIGINT arrived outside the script's code


def _on_sigint(signum, frame):
    if _Flags.user:
        _Flags.user = False
        raise ScriptTimedOut()
    _Flags.interrupted = True


signal.signal(signal.SIGINT, _on_sigint)

# Die with the server: a runner busy in a long call must not outlive it (PR_SET_PDEATHSIG, Linux).
try:
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)
except (OSError, AttributeError):
    pass
if str(os.getppid()) != os.environ.get("TENSORCELL_PID", str(os.getppid())):
    sys.exit(0)  # the server ended before this runner set the signal up


# ---- frames --------------------------------------------------------------------------------------------------


def _more():
    """Appends what the server has sent to `_inbuf`: polls for up to `spin_us`, then waits."""
    end = time.perf_counter() + _spin[0]
    while True:
        try:
            data = _sock.recv(1 << 16, socket.MSG_DONTWAIT)
            break
        except BlockingIOError:
            if time.perf_counter() > end:
                data = _sock.recv(1 << 16)
                break
            os.sched_yield()
    if not data:
        sys.exit(0)  # the server closed the socket: it has no more work for this runner
    _inbuf.extend(data)


def _skip(n):
    """Reads and drops the rest of a frame whose start `_inbuf` holds."""
    _inbuf.clear()
    while n > 0:
        data = _sock.recv(min(n, 1 << 16))
        if not data:
            sys.exit(0)
        n -= len(data)


def _recv_frame():
    """The next whole frame (length words included)."""
    if _native is not None:
        return _native.recv(_spin[0])[2]
    while len(_inbuf) < 8:
        _more()
    total, hlen = _HDR.unpack_from(_inbuf)
    end = 4 + total
    if len(_inbuf) < end:
        # A big frame: read the rest straight into place.
        try:
            frame = bytearray(end)
        except MemoryError:
            _skip(end - len(_inbuf))  # the next read starts at the next frame
            raise
        have = len(_inbuf)
        frame[:have] = _inbuf
        _inbuf.clear()
        view = memoryview(frame)
        while have < end:
            n = _sock.recv_into(view[have:])
            if not n:
                sys.exit(0)
            have += n
    else:
        frame = bytes(_inbuf[:end])
        del _inbuf[:end]
    return frame


def _split(frame):
    """A frame's header (decoded) and blob area."""
    hlen = _HDR.unpack_from(frame)[1]
    return _decode_header(bytes(frame[8:8 + hlen]).decode())[0], memoryview(frame)[8 + hlen:]


def _recv():
    return _split(_recv_frame())


# Built once: `json.loads` / `json.dumps` with options build their decoder and encoder on every call, which
# costs more than a small header's text (measured: 21 -> 17 us per call in process).
_decode_header = json.JSONDecoder().raw_decode
_encode_header = json.JSONEncoder(separators=(",", ":")).encode
_encode_value = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode  # cells, pools, outputs


def _frame(header, blobs=()):
    h = _encode_header(header).encode()
    size = 4 + len(h) + sum(len(b) for b in blobs)
    return b"".join([_HDR.pack(size, len(h)), h, *blobs])


def _send(header, blobs=()):
    _write(_frame(header, blobs))


def _write(frame):
    if _native is not None:
        _native.send(frame)
    else:
        _sock.sendall(frame)


def _b(s):
    """Bytes sent as a JSON string of code points 0-255 (latin-1), the protocol's byte strings."""
    return s.encode("latin-1")


def _s(b):
    return b.decode("latin-1")


def _shm_view(off, n):
    global _shm
    if _shm is None or off + n > len(_shm):
        size = os.fstat(_shm_fd).st_size
        old, _shm = _shm, None  # never left pointing at a closed map
        if old is not None:
            old.close()
        _shm = mmap.mmap(_shm_fd, size)
    return memoryview(_shm)[off:off + n]


def _shm_write(off, data):
    """Writes into the shared-memory file at `off`, growing it when needed."""
    global _shm
    end = off + len(data)
    if _shm is None or end > len(_shm):
        size = os.fstat(_shm_fd).st_size
        if end > size:
            size = max(end, 2 * size, 1 << 20)
            os.ftruncate(_shm_fd, size)
        old, _shm = _shm, None
        if old is not None:
            old.close()
        _shm = mmap.mmap(_shm_fd, size)
    _shm[off:end] = data


def _blob(ref, blobs):
    if "$shm" in ref:
        off, n = ref["$shm"]
        return _shm_view(off, n)
    off, n = ref["$blob"]
    return blobs[off:off + n]


_lock = threading.RLock()  # a script's own threads may call back too: one exchange at a time


class _Active:
    request = False  # a request is being served: callbacks belong to it
    child = False  # a process forked by the script: the channel is its parent's


os.register_at_fork(after_in_child=lambda: setattr(_Active, "child", True))


def _exchange(header, blobs=()):
    """A call back into the server from the script's code; the server's answer is returned."""
    if _Active.child:
        raise RuntimeError("a process forked by a script cannot call the server")
    with _lock:
        if not _Active.request:
            raise RuntimeError("no call is running: a script's background thread cannot call the server "
                               "between calls")
        was_user = _Flags.user
        _Flags.user = False  # a SIGINT now must not cut a frame in half
        try:
            if _native is not None:
                reply, frame, at = _native.exchange(header, blobs, _spin[0])
                if reply is None:  # a big header, decoded here (a MemoryError, not an abort, if it must be)
                    reply = _decode_header(frame[8:at].decode())[0]
                rblobs = memoryview(frame)[at:]
            else:
                _send(header, blobs)
                reply, rblobs = _recv()
        finally:
            _Flags.user = was_user
    if _Flags.interrupted and was_user:
        _Flags.interrupted = False
        raise ScriptTimedOut()
    if reply["op"] == "error":
        if reply.get("timeout"):
            raise ScriptTimedOut()
        raise _HostError(reply["message"])
    return reply, rblobs


class _HostError(RuntimeError):
    pass


# ---- tensors: numpy arrays -----------------------------------------------------------------------------------

_np = None
_DT = {"FLOAT": "float32", "DOUBLE": "float64", "INT8": "int8", "INT16": "int16", "INT32": "int32",
       "INT64": "int64", "UINT8": "uint8", "UINT16": "uint16", "BOOL": "bool"}
_NP_DT = {}  # tensor type -> little-endian numpy dtype
_NP_BACK = {}  # numpy dtype (either byte order) -> tensor type
_BY_NAME = {v: k for k, v in _DT.items()}  # numpy dtype name -> tensor type (other spellings of a dtype)


def _numpy():
    global _np
    if _np is None:
        try:
            import numpy
        except ImportError as e:
            raise RuntimeError(f"scripts with tensors need numpy, which this runner's Python ({sys.executable}) "
                               f"cannot import ({e}): install it, or set script-venv to a virtualenv that has it")
        for name, np_name in _DT.items():
            little = numpy.dtype(np_name).newbyteorder("<")
            _NP_DT[name] = little
            _NP_BACK[little] = name
            _NP_BACK[numpy.dtype(np_name).newbyteorder(">")] = name
        if _native is not None:
            _native.numpy(numpy.frombuffer, numpy.asarray, dict(_NP_DT), {v: k for k, v in _NP_DT.items()})
        _np = numpy
    return _np


def _to_array(t, blobs):
    np = _np or _numpy()
    data = _blob(t["data"], blobs)
    shape = t["shape"]
    if t["dtype"] == "STRING":
        items = bytes(data).split(b"\0")[:-1] if len(data) else []
        return np.array([s.decode("utf-8", "replace") for s in items], dtype=object).reshape(shape)
    return np.frombuffer(data, dtype=_NP_DT[t["dtype"]]).reshape(shape).copy()


class _Out:
    """Tensors on their way to the server: small ones inline, big ones in the shared-memory file."""

    def __init__(self):
        self.blobs, self.inline, self.shm = [], 0, 0

    def add(self, i, x):
        np = _np or _numpy()
        a = np.asarray(x)
        if a.dtype.kind in ("U", "S", "O"):
            flat = [v.decode() if isinstance(v, bytes) else str(v) for v in a.reshape(-1)]
            dtype, data = "STRING", b"".join(s.encode() + b"\0" for s in flat)
        else:
            dtype = _NP_BACK.get(a.dtype) or _BY_NAME.get(a.dtype.name)
            if dtype is None:
                raise TypeError(f"output {i} has numpy dtype {a.dtype.name}, which no tensor type holds")
            data = memoryview(np.ascontiguousarray(a, dtype=_NP_DT[dtype])).cast("B")
        n = len(data)
        if n >= SHM_MIN:
            _shm_write(self.shm, data)
            ref = {"$shm": [self.shm, n]}
            self.shm += n
        else:
            self.blobs.append(data)  # joined into the frame as it is: no copy of its own
            ref = {"$blob": [self.inline, n]}
            self.inline += n
        return {"dtype": dtype, "shape": list(a.shape), "data": ref}


def _result_frame(result):
    """A `call`'s answer frame (the native half hands results it does not encode itself to this)."""
    heads, blobs = _outputs(result)
    return _frame({"op": "result", "tensors": heads}, blobs)


def _outputs(result):
    if result is None:
        return [], []
    out = _Out()
    items = result if isinstance(result, (list, tuple)) else [result]
    return [out.add(i, x) for i, x in enumerate(items)], out.blobs


# ---- what scripts see: `redis`, `redisAI`, and the `tensorcell` / `fastscore` modules ------------------------


class RedisError(Exception):
    pass


def _arg(a):
    if isinstance(a, bytes):
        return a
    if isinstance(a, float) and a.is_integer():
        a = int(a)
    return str(a).encode()


def _value(v):
    if isinstance(v, list):
        return [_value(x) for x in v]
    if isinstance(v, dict):
        return _b(v["$b"])
    return v


class _Redis:
    @staticmethod
    def execute(*args):
        try:
            reply, _ = _exchange({"op": "execute", "argv": [_s(_arg(a)) for a in args]})
        except _HostError as e:
            raise RedisError("Redis command returned an error: " + str(e)) from None
        return _value(reply["value"])


class _RedisAI:
    @staticmethod
    def model_execute(model_key, tensors, n_outputs):
        heads, blobs = _outputs(list(tensors))
        reply, rblobs = _exchange({"op": "model_execute", "key": _s(_arg(model_key)), "tensors": heads}, blobs)
        outs = [_to_array(t, rblobs) for t in reply["tensors"]]
        if len(outs) != n_outputs:
            raise ValueError(f"the model produced {len(outs)} outputs, {n_outputs} were expected")
        return outs


def _get(op, **kw):
    reply, _ = _exchange(dict(op=op, **kw))
    return reply["value"]


def _load(text):
    return None if text is None else json.loads(_b(text).decode())


def _dump(v):
    return _s(_encode_value(v).encode())


# The JSON text each cell (and pool field) held when this runner last saw it. An update swaps against it
# directly, one round trip instead of a read and a swap; when another runner wrote meanwhile the swap fails,
# answers with the current text, and the update retries from that.
_seen = {}
_SEEN_MAX = 100_000  # past this many cells and fields, start over (it is only a hint)
_UNSEEN = object()


def _remember(key, text):
    if len(_seen) >= _SEEN_MAX:
        _seen.clear()
    _seen[key] = text


def _update(key, read, swap, fn):
    old = _seen.get(key, _UNSEEN)
    known = old is not _UNSEEN
    if not known:
        old = read()
    while True:
        try:
            new = fn(_load(old))
        except Exception:
            if not known:
                raise
            # `fn` may fail on a value that is no longer current: read and try again before failing.
            known, old = False, read()
            continue
        done, text = swap(old, _dump(new))
        _remember(key, text)
        if done:
            return new
        known, old = False, text


def _set(key, read, swap, v):
    new = _dump(v)
    old = _seen.get(key, _UNSEEN)
    if old is _UNSEEN:
        old = read()
    while True:
        done, text = swap(old, new)
        _remember(key, text)
        if done:
            return
        old = text


class Cell:
    """A named JSON value shared by every runner; `update` is atomic across all of them."""

    def __init__(self, name):
        self.name = _s(_arg(name))
        self._key = ("c", self.name)

    def _read(self):
        text = _get("cell_get", name=self.name)
        _remember(self._key, text)
        return text

    def _swap(self, old, new):
        return _get("cell_swap", name=self.name, old=old, new=new)

    @property
    def value(self):
        return _load(self._read())

    def set(self, v):
        _set(self._key, self._read, self._swap, v)

    def update(self, fn):
        return _update(self._key, self._read, self._swap, fn)


class Pool:
    """A named map of JSON values shared by every runner; `update` is atomic per field."""

    def __init__(self, name):
        self.name = _s(_arg(name))

    def _ops(self, k):
        k = _s(_arg(k))
        key = ("p", self.name, k)

        def read():
            text = _get("pool_get", name=self.name, field=k)
            _remember(key, text)
            return text

        def swap(old, new):
            return _get("pool_swap", name=self.name, field=k, old=old, new=new)

        return key, read, swap

    def get(self, k, default=None):
        _, read, _ = self._ops(k)
        v = read()
        return default if v is None else _load(v)

    def set(self, k, v):
        _set(*self._ops(k), v)

    def update(self, k, fn):
        return _update(*self._ops(k), fn)

    def keys(self):
        return [_b(k).decode("utf-8", "replace") for k in _get("pool_keys", name=self.name)]

    def delete(self, k):
        key, _, _ = self._ops(k)
        _seen.pop(key, None)
        return _get("pool_delete", name=self.name, field=_s(_arg(k)))


def cells(name):
    return Cell(name)


def pools(name):
    return Pool(name)


for _name in ("tensorcell", "fastscore"):
    _m = types.ModuleType(_name)
    _m.cells, _m.pools, _m.Cell, _m.Pool = cells, pools, Cell, Pool
    sys.modules[_name] = _m
builtins.redis = _Redis
builtins.redisAI = _RedisAI


# ---- FastScore-style models: AI.SCORE --------------------------------------------------------------------------


class ReplyError(Exception):
    """An error whose message is the reply (no exception type in front)."""


_INF = float("inf")


def _record(i, raw, t):
    try:
        s = raw.decode("utf-8")
        if t in ("int", "long"):
            return int(s)
        if t in ("float", "double"):
            return float(s)
        if t == "string":
            return s
        if t == "boolean":
            b = s.strip().lower()
            if b in ("true", "1"):
                return True
            if b in ("false", "0"):
                return False
            raise ValueError(s)
        return json.loads(s)
    except ValueError:
        raise ReplyError(f"record {i}: expected {t}") from None


def _encode(v, t):
    if hasattr(v, "item") and type(v).__module__ == "numpy":
        v = v.item()  # a numpy scalar (a model's prediction) as the Python value it holds
    if t in ("int", "long"):
        if (isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v in (_INF, -_INF)
                or int(v) != v or not -2 ** 63 <= int(v) < 2 ** 63):
            raise ReplyError(f"the action produced {v!r}, which is not {t}")
        return ["int", int(v)]
    if t in ("float", "double"):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ReplyError(f"the action produced {v!r}, which is not {t}")
        v = float(v)
        # JSON has no NaN or infinity: those travel as their text (RESP3 doubles have them).
        return ["double", v if v == v and v not in (_INF, -_INF) else repr(v)]
    if t == "string":
        if not isinstance(v, str):
            raise ReplyError(f"the action produced {v!r}, which is not string")
        return ["str", v]
    if t == "boolean":
        if not isinstance(v, bool):
            raise ReplyError(f"the action produced {v!r}, which is not boolean")
        return ["int", int(v)]
    try:
        return ["json", _encode_value(v)]
    except (TypeError, ValueError):
        raise ReplyError(f"the action produced {v!r}, which is not json") from None


# ---- requests ------------------------------------------------------------------------------------------------

_module = None
_limit = 0  # script-memory-limit, in bytes (0: none)


def _err_text(e):
    if isinstance(e, ReplyError):
        return str(e)
    return f"{type(e).__name__}: {e}"


def _arity(name):
    f = getattr(_module, name, None)
    if not callable(f):
        return -1
    try:
        return len(inspect.signature(f).parameters)
    except (TypeError, ValueError):
        return -2


def _begin():
    f = getattr(_module, "begin", None)
    if callable(f):
        f()


def _init(req, blobs):
    global _module, _limit
    _limit = req.get("memory_limit") or 0
    if _limit:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (_limit, _limit))
    name = "tensorcell_script_" + "".join(c if c.isalnum() else "_" for c in req["name"])[:40]
    source = bytes(_blob(req["source"], blobs)).decode("utf-8")
    module = types.ModuleType(name)
    module.__file__ = "<script>"
    sys.modules[name] = module
    exec(compile(source, "<script>", "exec"), module.__dict__)
    _module = module
    if "numpy" in sys.modules:
        _numpy()  # the script has imported it: its first call can take the native half's path too
    for ep in req["entry_points"]:
        n = _arity(ep)
        if n == -1:
            raise ReplyError(f"Function {ep} does not exist in the given script.")
        if n != 3 and not req["fastscore"]:
            raise ReplyError(f"Wrong number of inputs in function {ep}. Expected 3 but was {n}")
    if req["fastscore"] and req.get("begin"):
        _begin()
    _seen.clear()  # a replayed begin() saw swaps that wrote nothing
    return {"op": "ok", "native": _native_error or True}, ()


def _call(req, blobs):
    arrays = [_to_array(t, blobs) for t in req["tensors"]]
    keys = [_b(k).decode("utf-8", "replace") for k in req["keys"]]
    args = [_b(a).decode("utf-8", "replace") for a in req["args"]]
    f = getattr(_module, req["fn"])
    heads, oblobs = _outputs(f(arrays, keys, args))
    return {"op": "result", "tensors": heads}, oblobs


def _score(req, blobs):
    """The action over each record set (one per AI.SCORE call in the batch); a set that fails answers its
    error and the next set runs."""
    fn = getattr(_module, req["action"], None)
    if not callable(fn):
        raise ReplyError(f"the script has no function {req['action']}")
    tin, tout = req["input"], req["output"]
    records = req["records"]
    results, at = [], 0
    for n in req.get("sets") or [len(records)]:
        out = []
        try:
            for i, raw in enumerate(records[at:at + n], 1):
                r = fn(_record(i, _b(raw), tin))
                if inspect.isgenerator(r):
                    out.extend(_encode(v, tout) for v in r)
                elif r is not None:
                    out.append(_encode(r, tout))
            results.append({"values": out})
        except (ScriptTimedOut, MemoryError, KeyboardInterrupt):
            raise
        except BaseException as e:  # SystemExit too: it fails its own set only
            results.append({"error": _err_text(e)})
        at += n
    if req["eof"] and callable(getattr(_module, "end", None)):
        _module.end()
    return {"op": "result", "results": results}, ()


def _begin_req(req, blobs):
    _begin()
    _seen.clear()
    return {"op": "ok"}, ()


_HANDLERS = {"init": _init, "call": _call, "score": _score, "begin": _begin_req}


def _next():
    """The next request: its op, and its header and blob area (None and the whole frame for a `call` the
    native half will serve)."""
    if _native is not None:
        op, spin_us, frame = _native.recv(_spin[0])
        _spin[0] = spin_us * 1e-6
        if op == "call" and _np is not None:
            return op, None, frame
        req, blobs = _split(frame)
        return op, req, blobs
    req, blobs = _recv()
    _spin[0] = req.get("spin_us", 0) * 1e-6
    return req.get("op"), req, blobs


def _serve(op, req, blobs):
    """One request's answer frame."""
    if req is None:
        frame = _native.call(blobs, _module)
        if frame is not None:
            return frame
        req, blobs = _split(blobs)  # what only the Python half handles: string or shared-memory tensors
    handler = _HANDLERS.get(op)
    if handler is None:
        raise ReplyError(f"unknown request {op!r}")
    return _frame(*handler(req, blobs))


def main():
    while True:
        # Read without the lock: only this thread reads while no request runs (a background thread that
        # tries is refused in _exchange).
        op, req, blobs = _next()
        _Active.request = True
        _Flags.interrupted = False
        try:
            _Flags.user = True
            try:
                frame = _serve(op, req, blobs)
            finally:
                _Flags.user = False
        except ScriptTimedOut:
            frame = _frame({"op": "error", "kind": "timeout", "message": "script timed out"})
        except KeyboardInterrupt:
            frame = _frame({"op": "error", "kind": "timeout", "message": "script timed out"})
        except MemoryError as e:
            if _limit:
                frame = _frame({"op": "error", "kind": "memory", "message": "script memory limit reached"})
            else:
                frame = _frame({"op": "error", "kind": "error", "message": _err_text(e)})
        except BaseException as e:  # SystemExit too: a script cannot end its runner by raising it
            frame = _frame({"op": "error", "kind": "error", "message": _err_text(e)})
        with _lock:  # waits for a background thread's callback in flight
            _Active.request = False
            _write(frame)


try:
    main()
except (BrokenPipeError, ConnectionResetError):
    pass  # the server dropped this runner (the script was deleted, or the server stopped)
