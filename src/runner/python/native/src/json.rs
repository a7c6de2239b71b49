//! Callback headers between Python objects and JSON text, without Python's `json` module: the headers are
//! small and made of a few kinds of value, and going through `json.dumps`/`json.loads` costs several
//! microseconds of interpreter time per callback that this does in well under one.

use pyo3::exceptions::{PyMemoryError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::Value;

/// `Vec<u8>` as a writer whose growth fails with an error (MemoryError) instead of aborting the runner.
struct Fallible<'a>(&'a mut Vec<u8>);

impl std::io::Write for Fallible<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .try_reserve(buf.len())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::OutOfMemory))?;
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `s` as a JSON string, appended.
fn string(s: &str, out: &mut Vec<u8>) -> PyResult<()> {
    serde_json::to_writer(Fallible(out), s)
        .map_err(|_| PyMemoryError::new_err("no memory for a callback's header"))
}

/// Appends `obj` as JSON: None, bools, ints, floats, strings, lists, tuples and dicts with string keys,
/// as Python's encoder writes them (NaN and infinities as `NaN`/`Infinity`, which the server's reader of
/// callback headers never receives from the runner's own code).
pub fn write(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    if obj.is_none() {
        out.extend_from_slice(b"null");
    } else if let Ok(b) = obj.cast::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
    } else if let Ok(s) = obj.cast::<PyString>() {
        string(s.to_cow()?.as_ref(), out)?;
    } else if obj.is_instance_of::<PyInt>() {
        match obj.extract::<i64>() {
            Ok(i) => out.extend_from_slice(i.to_string().as_bytes()),
            // Beyond 64 bits: its decimal text, as Python writes it.
            Err(_) => out.extend_from_slice(obj.str()?.to_cow()?.as_bytes()),
        }
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        let v = f.value();
        if v.is_finite() {
            serde_json::to_writer(&mut *out, &v).expect("JSON of a number");
        } else if v.is_nan() {
            out.extend_from_slice(b"NaN");
        } else if v > 0.0 {
            out.extend_from_slice(b"Infinity");
        } else {
            out.extend_from_slice(b"-Infinity");
        }
    } else if let Ok(d) = obj.cast::<PyDict>() {
        out.push(b'{');
        for (i, (k, v)) in d.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let k = k
                .cast::<PyString>()
                .map_err(|_| PyTypeError::new_err("callback header keys must be str"))?;
            string(k.to_cow()?.as_ref(), out)?;
            out.push(b':');
            write(&v, out)?;
        }
        out.push(b'}');
    } else if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        out.push(b'[');
        for (i, v) in obj.try_iter()?.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write(&v?, out)?;
        }
        out.push(b']');
    } else {
        return Err(PyTypeError::new_err(format!(
            "a callback header cannot hold {}",
            obj.get_type().name()?
        )));
    }
    Ok(())
}

/// The Python value of a JSON text (objects as dicts, arrays as lists).
pub fn read<'py>(py: Python<'py>, text: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let v: Value = serde_json::from_slice(text)
        .map_err(|e| PyValueError::new_err(format!("the server sent a bad header: {e}")))?;
    to_py(py, &v)
}

fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any(),
            _ => PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let d = PyDict::new(py);
            for (k, item) in map {
                d.set_item(k, to_py(py, item)?)?;
            }
            d.into_any()
        }
    })
}
