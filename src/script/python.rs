//! Embedded Python: everything that touches the interpreter (pyo3) lives in this file.
//!
//! Scripts are compiled into their own module and called with numpy arrays. The conversions between
//! tensors and arrays are done by a small glue module written in Python (`GLUE`): numpy's own
//! `frombuffer`/`tobytes` copy the data once each way and handle every dtype, STRING included, without
//! any unsafe code on our side. All calls happen on worker threads, never on an I/O thread.

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyModule};
use pyo3::IntoPyObjectExt;

use super::{Host, HostValue};
use crate::tensor::{DType, Tensor};

const GLUE: &str = r#"
import ctypes as _ctypes
import inspect as _inspect
import threading as _threading
import numpy as _np


class ScriptTimedOut(BaseException):
    """Raised inside a script that ran past its time limit (a BaseException, so `except Exception` in the
    script does not swallow it)."""


def ident():
    return _threading.get_ident()


def interrupt(tid):
    _ctypes.pythonapi.PyThreadState_SetAsyncExc(_ctypes.c_ulong(tid), _ctypes.py_object(ScriptTimedOut))


def clear(tid):
    # Drops an interrupt that arrived too late to be raised in the script, so it cannot hit the next call.
    _ctypes.pythonapi.PyThreadState_SetAsyncExc(_ctypes.c_ulong(tid), None)

_DT = {"FLOAT": "float32", "DOUBLE": "float64", "INT8": "int8", "INT16": "int16", "INT32": "int32",
       "INT64": "int64", "UINT8": "uint8", "UINT16": "uint16", "BOOL": "bool"}
_BACK = {v: k for k, v in _DT.items()}


def to_array(dtype, shape, data):
    if dtype == "STRING":
        items = data.split(b"\0")[:-1] if data else []
        return _np.array([s.decode("utf-8", "replace") for s in items], dtype=object).reshape(shape)
    return _np.frombuffer(data, dtype=_np.dtype(_DT[dtype]).newbyteorder("<")).reshape(shape).copy()


def from_array(i, x):
    a = _np.asarray(x)
    if a.dtype.kind in ("U", "S", "O"):
        flat = [v.decode() if isinstance(v, bytes) else str(v) for v in a.reshape(-1)]
        return ("STRING", list(a.shape), b"".join(s.encode() + b"\0" for s in flat))
    name = _BACK.get(a.dtype.name)
    if name is None:
        raise TypeError(f"output {i} has numpy dtype {a.dtype.name}, which no tensor type holds")
    return (name, list(a.shape), _np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes())


def outputs(result):
    if result is None:
        return []
    if isinstance(result, (list, tuple)):
        return [from_array(i, x) for i, x in enumerate(result)]
    return [from_array(0, result)]


# ---- What scripts see: `redis`, `redisAI` (globals), and the `tensorcell` / `fastscore` modules. ----

_host = None  # the Rust host functions, set when the glue is created


class RedisError(Exception):
    pass


def _arg(a):
    if isinstance(a, bytes):
        return a
    if isinstance(a, float) and a.is_integer():
        a = int(a)
    return str(a).encode()


class _Redis:
    @staticmethod
    def execute(*args):
        ok, value = _host.execute([_arg(a) for a in args])
        if not ok:
            raise RedisError("Redis command returned an error: " + value)
        return value


class _RedisAI:
    @staticmethod
    def model_execute(model_key, tensors, n_outputs):
        ins = [from_array(i, t) for i, t in enumerate(tensors)]
        outs = _host.model_execute(_arg(model_key), ins)
        if len(outs) != n_outputs:
            raise ValueError(f"the model produced {len(outs)} outputs, {n_outputs} were expected")
        return [to_array(d, s, b) for d, s, b in outs]


import json as _json


def _load(text):
    return None if text is None else _json.loads(text)


def _dump(v):
    return _json.dumps(v, separators=(",", ":")).encode()


class Cell:
    """A named JSON value shared by every runner; `update` is atomic across all of them."""

    def __init__(self, name):
        self.name = _arg(name)

    @property
    def value(self):
        return _load(_host.cell_get(self.name))

    def set(self, v):
        while not _host.cell_swap(self.name, _host.cell_get(self.name), _dump(v)):
            pass

    def update(self, fn):
        while True:
            old = _host.cell_get(self.name)
            new = fn(_load(old))
            if _host.cell_swap(self.name, old, _dump(new)):
                return new


class Pool:
    """A named map of JSON values shared by every runner; `update` is atomic per field."""

    def __init__(self, name):
        self.name = _arg(name)

    def get(self, k, default=None):
        v = _host.pool_get(self.name, _arg(k))
        return default if v is None else _load(v)

    def set(self, k, v):
        k = _arg(k)
        while not _host.pool_swap(self.name, k, _host.pool_get(self.name, k), _dump(v)):
            pass

    def update(self, k, fn):
        k = _arg(k)
        while True:
            old = _host.pool_get(self.name, k)
            new = fn(_load(old))
            if _host.pool_swap(self.name, k, old, _dump(new)):
                return new

    def keys(self):
        return [k.decode("utf-8", "replace") for k in _host.pool_keys(self.name)]

    def delete(self, k):
        return _host.pool_delete(self.name, _arg(k))


def cells(name):
    return Cell(name)


def pools(name):
    return Pool(name)


def install(host):
    """Makes `import tensorcell` / `import fastscore` and the `redis` / `redisAI` globals available."""
    global _host
    _host = host
    import builtins, sys, types
    for name in ("tensorcell", "fastscore"):
        m = types.ModuleType(name)
        m.cells, m.pools, m.Cell, m.Pool = cells, pools, Cell, Pool
        sys.modules[name] = m
    builtins.redis = _Redis
    builtins.redisAI = _RedisAI


# ---- FastScore-style models: AI.SCORE ----


class ReplyError(Exception):
    """An error whose message is the reply (no exception type in front)."""


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
        return _json.loads(s)
    except ValueError:
        raise ReplyError(f"record {i}: expected {t}") from None


def _encode(v, t):
    if t in ("int", "long"):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v:
            raise ReplyError(f"the action produced {v!r}, which is not {t}")
        return ("int", int(v))
    if t in ("float", "double"):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ReplyError(f"the action produced {v!r}, which is not {t}")
        return ("double", float(v))
    if t == "string":
        if not isinstance(v, str):
            raise ReplyError(f"the action produced {v!r}, which is not string")
        return ("str", v)
    if t == "boolean":
        if not isinstance(v, bool):
            raise ReplyError(f"the action produced {v!r}, which is not boolean")
        return ("int", int(v))
    try:
        return ("json", _json.dumps(v, separators=(",", ":")))
    except (TypeError, ValueError):
        raise ReplyError(f"the action produced {v!r}, which is not json") from None


def score(module, action, records, tin, tout, eof):
    fn = getattr(module, action, None)
    if not callable(fn):
        raise ReplyError(f"the script has no function {action}")
    out = []
    for i, raw in enumerate(records, 1):
        r = fn(_record(i, raw, tin))
        if _inspect.isgenerator(r):
            out.extend(_encode(v, tout) for v in r)
        elif r is not None:
            out.append(_encode(r, tout))
    if eof and callable(getattr(module, "end", None)):
        module.end()
    return out


def begin(module):
    f = getattr(module, "begin", None)
    if callable(f):
        f()


def arity(module, name):
    f = getattr(module, name, None)
    if not callable(f):
        return -1
    try:
        return len(_inspect.signature(f).parameters)
    except (TypeError, ValueError):
        return -2
"#;

/// A compiled script: its own module.
pub struct Compiled(Py<PyModule>);

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Compiled")
    }
}

/// The reply text for a script that ran past its limit.
pub const TIMED_OUT: &str = "script timed out";

/// `Type: message` of a Python exception (or [`TIMED_OUT`]).
fn err_text(py: Python<'_>, e: &PyErr) -> String {
    let kind = e
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".into());
    if kind == "ScriptTimedOut" {
        return TIMED_OUT.into();
    }
    if kind == "ReplyError" {
        return e.value(py).to_string();
    }
    format!("{kind}: {}", e.value(py))
}

/// Running calls with a time limit: call id -> (Python thread id, deadline). A watchdog thread interrupts
/// the ones past their deadline by raising `ScriptTimedOut` in their thread. Both sides take the GIL before
/// this lock, so a call is interrupted only while it is still registered, that is, still running.
fn running() -> &'static Mutex<HashMap<u64, (u64, Instant)>> {
    static RUNNING: OnceLock<Mutex<HashMap<u64, (u64, Instant)>>> = OnceLock::new();
    RUNNING.get_or_init(|| {
        std::thread::Builder::new()
            .name("script-watchdog".into())
            .spawn(watchdog)
            .expect("spawning the script watchdog");
        Mutex::new(HashMap::new())
    })
}

fn watchdog() {
    loop {
        std::thread::sleep(Duration::from_millis(5));
        let now = Instant::now();
        let due = running()
            .lock()
            .map(|m| m.values().any(|(_, d)| *d <= now))
            .unwrap_or(false);
        if !due {
            continue;
        }
        // The GIL first (a running script yields it every switch interval), then the registry.
        Python::attach(|py| {
            let Ok(g) = glue(py) else { return };
            let Ok(mut calls) = running().lock() else {
                return;
            };
            let expired: Vec<u64> = calls
                .iter()
                .filter(|(_, (_, d))| *d <= Instant::now())
                .map(|(id, _)| *id)
                .collect();
            for id in expired {
                if let Some((tid, _)) = calls.remove(&id) {
                    let _ = g.getattr("interrupt").and_then(|f| f.call1((tid,)));
                }
            }
        });
    }
}

/// A Python value of a command's reply.
fn to_py(py: Python<'_>, v: &HostValue) -> PyResult<Py<PyAny>> {
    Ok(match v {
        HostValue::Nil => py.None(),
        HostValue::Int(i) => i.into_py_any(py)?,
        HostValue::Text(t) => t.into_py_any(py)?,
        HostValue::Bytes(b) => PyBytes::new(py, b).into_any().unbind(),
        HostValue::List(items) => PyList::new(
            py,
            items
                .iter()
                .map(|i| to_py(py, i))
                .collect::<PyResult<Vec<_>>>()?,
        )?
        .into_any()
        .unbind(),
    })
}

fn the_host() -> PyResult<&'static dyn Host> {
    crate::script::host().ok_or_else(|| PyRuntimeError::new_err("no server to call into"))
}

fn host_err(e: String) -> PyErr {
    PyRuntimeError::new_err(e)
}

/// `redis.execute`: (ok, value or error text). The GIL is released while the command runs.
#[pyfunction]
fn execute(py: Python<'_>, argv: Vec<Vec<u8>>) -> PyResult<(bool, Py<PyAny>)> {
    let host = the_host()?;
    let argv: Vec<Bytes> = argv.into_iter().map(Bytes::from).collect();
    match py.detach(|| host.execute(argv)) {
        Ok(v) => Ok((true, to_py(py, &v)?)),
        Err(e) => Ok((false, e.into_py_any(py)?)),
    }
}

type RawTensor = (String, Vec<usize>, Vec<u8>);

/// `redisAI.model_execute`: inputs and outputs as (dtype, shape, bytes).
#[pyfunction]
fn model_execute(py: Python<'_>, key: Vec<u8>, inputs: Vec<RawTensor>) -> PyResult<Vec<RawTensor>> {
    let host = the_host()?;
    let tensors = inputs
        .into_iter()
        .map(|(d, shape, data)| Tensor {
            dtype: DType::parse(d.as_bytes()).unwrap_or(DType::Float),
            shape,
            data: Bytes::from(data),
        })
        .collect();
    let outs = py
        .detach(|| host.model_execute(&key, tensors))
        .map_err(host_err)?;
    Ok(outs
        .into_iter()
        .map(|t| (t.dtype.name().to_string(), t.shape, t.data.to_vec()))
        .collect())
}

#[pyfunction]
fn cell_get(py: Python<'_>, name: Vec<u8>) -> PyResult<Option<Vec<u8>>> {
    let host = the_host()?;
    py.detach(|| host.cell_get(&name))
        .map(|o| o.map(|b| b.to_vec()))
        .map_err(host_err)
}

#[pyfunction]
fn cell_swap(py: Python<'_>, name: Vec<u8>, old: Option<Vec<u8>>, new: Vec<u8>) -> PyResult<bool> {
    let host = the_host()?;
    py.detach(|| host.cell_swap(&name, old.as_deref(), &new))
        .map_err(host_err)
}

#[pyfunction]
fn pool_get(py: Python<'_>, name: Vec<u8>, field: Vec<u8>) -> PyResult<Option<Vec<u8>>> {
    let host = the_host()?;
    py.detach(|| host.pool_get(&name, &field))
        .map(|o| o.map(|b| b.to_vec()))
        .map_err(host_err)
}

#[pyfunction]
fn pool_swap(
    py: Python<'_>,
    name: Vec<u8>,
    field: Vec<u8>,
    old: Option<Vec<u8>>,
    new: Vec<u8>,
) -> PyResult<bool> {
    let host = the_host()?;
    py.detach(|| host.pool_swap(&name, &field, old.as_deref(), &new))
        .map_err(host_err)
}

#[pyfunction]
fn pool_keys(py: Python<'_>, name: Vec<u8>) -> PyResult<Vec<Vec<u8>>> {
    let host = the_host()?;
    py.detach(|| host.pool_keys(&name))
        .map(|v| v.into_iter().map(|b| b.to_vec()).collect())
        .map_err(host_err)
}

#[pyfunction]
fn pool_delete(py: Python<'_>, name: Vec<u8>, field: Vec<u8>) -> PyResult<bool> {
    let host = the_host()?;
    py.detach(|| host.pool_delete(&name, &field))
        .map_err(host_err)
}

/// The module of host functions the glue calls.
fn host_module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let m = PyModule::new(py, "tensorcell_host")?;
    m.add_function(wrap_pyfunction!(execute, &m)?)?;
    m.add_function(wrap_pyfunction!(model_execute, &m)?)?;
    m.add_function(wrap_pyfunction!(cell_get, &m)?)?;
    m.add_function(wrap_pyfunction!(cell_swap, &m)?)?;
    m.add_function(wrap_pyfunction!(pool_get, &m)?)?;
    m.add_function(wrap_pyfunction!(pool_swap, &m)?)?;
    m.add_function(wrap_pyfunction!(pool_keys, &m)?)?;
    m.add_function(wrap_pyfunction!(pool_delete, &m)?)?;
    Ok(m)
}

/// The glue module, created once; fails (for good) when numpy cannot be imported.
fn glue(py: Python<'_>) -> Result<Bound<'_, PyModule>, String> {
    static GLUE_MODULE: OnceLock<Result<Py<PyModule>, String>> = OnceLock::new();
    GLUE_MODULE
        .get_or_init(|| {
            let code = CString::new(GLUE).expect("no NUL in the glue");
            PyModule::from_code(py, &code, c"tensorcell_glue.py", c"tensorcell_glue")
                .and_then(|g| {
                    g.getattr("install")?.call1((host_module(py)?,))?;
                    Ok(g.unbind())
                })
                .map_err(|e| {
                    format!(
                        "Python scripts need numpy, which the server's Python ({}) cannot import ({}): install \
                         python3-numpy, or point PYTHONPATH at a site-packages that has it",
                        Python::version_str(),
                        err_text(py, &e)
                    )
                })
        })
        .as_ref()
        .map(|m| m.bind(py).clone())
        .map_err(Clone::clone)
}

/// Initializes the interpreter and the glue (numpy) now.
pub fn warm_up() -> Result<(), String> {
    Python::attach(|py| glue(py).map(|_| ()))
}

/// Compiles `source` as module `name` (running its top level) and checks every entry point is a function of
/// three parameters (RedisAI's messages). A FastScore model's entry points only need to exist (its action
/// takes one datum), and its `begin()` runs now.
pub fn compile(
    name: &str,
    source: &[u8],
    entry_points: &[String],
    fastscore: bool,
    run_begin: bool,
) -> Result<Compiled, String> {
    Python::attach(|py| {
        let g = glue(py)?;
        let code =
            CString::new(source).map_err(|_| "script SOURCE contains a NUL byte".to_string())?;
        let module_name =
            CString::new(format!("tensorcell_script_{name}")).unwrap_or_else(|_| c"script".into());
        let module = PyModule::from_code(py, &code, c"<script>", &module_name)
            .map_err(|e| err_text(py, &e))?;
        for ep in entry_points {
            let n: i64 = g
                .getattr("arity")
                .and_then(|f| f.call1((&module, ep.as_str())))
                .and_then(|v| v.extract())
                .map_err(|e| err_text(py, &e))?;
            if n == -1 {
                return Err(format!("Function {ep} does not exist in the given script."));
            }
            if n != 3 && !fastscore {
                return Err(format!(
                    "Wrong number of inputs in function {ep}. Expected 3 but was {n}"
                ));
            }
        }
        if fastscore && run_begin {
            g.getattr("begin")
                .and_then(|f| f.call1((&module,)))
                .map_err(|e| err_text(py, &e))?;
        }
        Ok(Compiled(module.unbind()))
    })
}

/// Calls a FastScore model's `begin()`, if it defines one (at start-up, for a script loaded from disk).
pub fn begin(script: &Compiled) -> Result<(), String> {
    Python::attach(|py| {
        let g = glue(py)?;
        g.getattr("begin")
            .and_then(|f| f.call1((script.0.bind(py),)))
            .map(|_| ())
            .map_err(|e| err_text(py, &e))
    })
}

/// One value an action produced, in its output type's reply form.
#[derive(Debug, Clone, PartialEq)]
pub enum Scored {
    Int(i64),
    Double(f64),
    Text(String),
}

/// AI.SCORE: runs `action` on each record (parsed as `input`), collects what it returns or yields (encoded as
/// `output`), then `end()` when `eof`.
#[allow(clippy::too_many_arguments)]
pub fn score(
    script: &Compiled,
    action: &str,
    records: &[Bytes],
    input: &str,
    output: &str,
    eof: bool,
    limit: Duration,
) -> Result<Vec<Scored>, String> {
    limited(limit, |py, g| {
        let recs: Vec<Bound<'_, PyBytes>> = records.iter().map(|r| PyBytes::new(py, r)).collect();
        let out: Vec<(String, Bound<'_, PyAny>)> = g
            .getattr("score")?
            .call1((script.0.bind(py), action, recs, input, output, eof))?
            .extract()?;
        out.into_iter()
            .map(|(kind, v)| {
                Ok(match kind.as_str() {
                    "int" => Scored::Int(v.extract()?),
                    "double" => Scored::Double(v.extract()?),
                    _ => Scored::Text(v.extract()?),
                })
            })
            .collect()
    })
}

/// Calls `func(tensors, keys, args)` with the tensors as numpy arrays; returns its outputs as tensors. A call
/// still running after `limit` is interrupted and fails with [`TIMED_OUT`].
pub fn call(
    script: &Compiled,
    func: &str,
    tensors: &[&Tensor],
    keys: &[Bytes],
    args: &[Bytes],
    limit: Duration,
) -> Result<Vec<Tensor>, String> {
    limited(limit, |py, g| {
        call_inner(py, g, script, func, tensors, keys, args)
    })
}

/// Runs `f` under the GIL with the glue, interrupted with [`TIMED_OUT`] if it is still running after `limit`.
fn limited<T>(
    limit: Duration,
    f: impl for<'py> FnOnce(Python<'py>, &Bound<'py, PyModule>) -> PyResult<T>,
) -> Result<T, String> {
    static NEXT_CALL: AtomicU64 = AtomicU64::new(1);
    Python::attach(|py| {
        let g = glue(py)?;
        let call_id = NEXT_CALL.fetch_add(1, Relaxed);
        let tid: u64 = g
            .getattr("ident")
            .and_then(|f| f.call0())
            .and_then(|v| v.extract())
            .map_err(|e| err_text(py, &e))?;
        if let Ok(mut calls) = running().lock() {
            calls.insert(call_id, (tid, Instant::now() + limit));
        }
        let result = f(py, &g).map_err(|e| err_text(py, &e));
        // Still holding the GIL: the watchdog cannot be between its check and its raise.
        let interrupted = running()
            .lock()
            .map(|mut calls| calls.remove(&call_id).is_none())
            .unwrap_or(false);
        if interrupted {
            let _ = g.getattr("clear").and_then(|f| f.call1((tid,)));
            return Err(TIMED_OUT.into());
        }
        result
    })
}

fn call_inner(
    py: Python<'_>,
    g: &Bound<'_, PyModule>,
    script: &Compiled,
    func: &str,
    tensors: &[&Tensor],
    keys: &[Bytes],
    args: &[Bytes],
) -> PyResult<Vec<Tensor>> {
    {
        let run = || -> PyResult<Vec<Tensor>> {
            let to_array = g.getattr("to_array")?;
            let arrays = tensors
                .iter()
                .map(|t| {
                    to_array.call1((t.dtype.name(), t.shape.clone(), PyBytes::new(py, &t.data)))
                })
                .collect::<PyResult<Vec<_>>>()?;
            let text = |v: &[Bytes]| {
                v.iter()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .collect::<Vec<_>>()
            };
            let f = script.0.bind(py).getattr(func)?;
            let result = f.call1((PyList::new(py, arrays)?, text(keys), text(args)))?;
            let outs: Vec<(String, Vec<usize>, Vec<u8>)> =
                g.getattr("outputs")?.call1((result,))?.extract()?;
            Ok(outs
                .into_iter()
                .map(|(dtype, shape, data)| Tensor {
                    dtype: DType::parse(dtype.as_bytes()).unwrap_or(DType::Float),
                    shape,
                    data: Bytes::from(data),
                })
                .collect())
        };
        run()
    }
}
