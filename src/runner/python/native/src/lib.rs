//! The native half of the Python script runner (`runner.py`): the runner protocol's frames and its `call`
//! request in Rust, loaded by the runner as the extension module `_tensorcell_native` when the server hands
//! it one (docs/runners.md, "The Python runner").
//!
//! Why it exists: on the 2-core VM the pure-Python runner spends about 33 us of interpreter time per
//! AI.SCRIPTEXECUTE around a 1 us numpy `add` (JSON header decode and encode, the socket calls, the arrays in
//! and out); this does the same work in a few, so a call's cost is the script's own. Everything else the
//! runner does (loading the script, AI.SCORE, cells and pools, callbacks, errors, signals) stays in
//! `runner.py`, which also runs without this module, with the same behaviour, only slower.
//!
//! It is an abi3 extension: one build loads into any CPython from 3.9 on, a user's venv included, and it
//! links no libpython (the interpreter that loads it provides Python's symbols).

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{recv, send, MsgFlags};
use pyo3::exceptions::{PyMemoryError, PyOSError, PyRuntimeError, PySystemExit, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use serde::Deserialize;

mod json;

/// Tensors of at least this many bytes cross through the shared-memory file (`SHM_MIN` in
/// src/runner/wire.rs): the Python side handles those.
const SHM_MIN: usize = 4096;

/// Largest frame either side sends (`MAX_FRAME` in src/runner/wire.rs).
const MAX_FRAME: usize = 1 << 31;

/// Headers longer than this are decoded by `runner.py`: a big one (a callback's answer holding a big value,
/// a call with big arguments) would be a big Rust allocation, and under `script-memory-limit` a failed one
/// aborts the runner where Python's raises MemoryError.
const BIG_HEADER: usize = 64 << 10;

/// What `runner.py` expects of this module: it runs without a native half whose `PROTOCOL` differs (an old
/// build left beside a newer server), rather than failing on its first request.
const PROTOCOL: u32 = 2;

/// The runner's end of its channel: frames in and out, and the `call` request's fast path.
#[pyclass(module = "_tensorcell_native")]
struct Channel {
    fd: i32,
    /// Bytes received and not yet taken as a frame. Behind a lock rather than `&mut self`: a script's
    /// callbacks (`exchange`) run while `call` still holds the channel. Only one thread ever reads at a
    /// time (runner.py serialises exchanges), so the lock is never contended; `try_lock` makes sure of it.
    inbuf: Mutex<Inbuf>,
    /// What it needs of numpy, once the runner has imported it (a script without tensors may run where
    /// numpy is missing).
    numpy: OnceLock<Numpy>,
    /// `runner.py`'s `_result_frame(result) -> bytes`, for outputs this module leaves to Python (strings,
    /// big-endian or unusual dtypes, tensors big enough for shared memory).
    result_frame: Py<PyAny>,
}

struct Numpy {
    /// `numpy.frombuffer`, `numpy.asarray`.
    frombuffer: Py<PyAny>,
    asarray: Py<PyAny>,
    /// Tensor type name -> little-endian numpy dtype.
    dtypes: Py<PyDict>,
    /// Little-endian numpy dtype -> tensor type name (the outputs this module encodes itself).
    back: Py<PyDict>,
}

/// What `call` reads of a `call` request's header.
#[derive(Deserialize)]
struct CallReq {
    #[serde(rename = "fn")]
    func: String,
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    tensors: Vec<TensorRef>,
}

#[derive(Deserialize)]
struct TensorRef {
    dtype: String,
    shape: Vec<i64>,
    data: DataRef,
}

#[derive(Deserialize)]
struct DataRef {
    #[serde(rename = "$blob")]
    blob: Option<(usize, usize)>,
}

#[derive(Deserialize)]
struct Op<'a> {
    op: &'a str,
    #[serde(default)]
    spin_us: u64,
}

/// The frame at the front of `buf`, if it holds a whole one: (frame length, header length).
fn whole_frame(buf: &[u8]) -> PyResult<Option<(usize, usize)>> {
    if buf.len() < 8 {
        return Ok(None);
    }
    let body = u32::from_le_bytes(buf[0..4].try_into().expect("4 bytes")) as usize;
    let hlen = u32::from_le_bytes(buf[4..8].try_into().expect("4 bytes")) as usize;
    if body < 4 || hlen > body - 4 {
        return Err(PyOSError::new_err("the server sent a malformed frame"));
    }
    Ok((buf.len() >= 4 + body).then_some((4 + body, hlen)))
}

/// `data` as a Python bytes object; MemoryError (not a panic) when Python has no room for it, as under
/// `script-memory-limit`.
fn py_bytes<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    PyBytes::new_with(py, data.len(), |b| {
        b.copy_from_slice(data);
        Ok(())
    })
}

/// Room for `n` more bytes in `v`: MemoryError rather than the abort a failed Rust allocation is.
fn room(v: &mut Vec<u8>, n: usize) -> PyResult<()> {
    v.try_reserve(n)
        .map_err(|_| PyMemoryError::new_err("no memory for a frame to the server"))
}

/// The two length words of a frame of `body` bytes after the first word, `hlen` of them the header.
fn lengths(body: usize, hlen: usize) -> PyResult<[u8; 8]> {
    if body > MAX_FRAME {
        return Err(PyValueError::new_err(format!(
            "a frame of {body} bytes is over the runner protocol's 2 GiB limit"
        )));
    }
    let mut w = [0u8; 8];
    w[..4].copy_from_slice(&(body as u32).to_le_bytes());
    w[4..].copy_from_slice(&(hlen as u32).to_le_bytes());
    Ok(w)
}

/// A protocol byte string (latin-1 code points) as the text a script sees (UTF-8, bad bytes replaced).
fn script_text(s: &str) -> String {
    let bytes: Vec<u8> = s.chars().map(|c| c as u32 as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The frame of a `result` answer whose tensors are all inline.
fn result_frame(outputs: &[(String, Vec<i64>, Bound<'_, PyBytes>)]) -> PyResult<Vec<u8>> {
    use std::fmt::Write;
    let mut h = String::with_capacity(64 + 80 * outputs.len());
    h.push_str(r#"{"op":"result","tensors":["#);
    let mut at = 0;
    for (i, (dtype, shape, data)) in outputs.iter().enumerate() {
        if i > 0 {
            h.push(',');
        }
        let _ = write!(h, r#"{{"dtype":"{dtype}","shape":["#);
        for (j, d) in shape.iter().enumerate() {
            if j > 0 {
                h.push(',');
            }
            let _ = write!(h, "{d}");
        }
        let n = data.as_bytes().len();
        let _ = write!(h, r#"],"data":{{"$blob":[{at},{n}]}}}}"#);
        at += n;
    }
    h.push_str("]}");
    let mut f = Vec::new();
    room(&mut f, 8 + h.len() + at)?;
    f.extend_from_slice(&lengths(4 + h.len() + at, h.len())?);
    f.extend_from_slice(h.as_bytes());
    for (_, _, data) in outputs {
        f.extend_from_slice(data.as_bytes());
    }
    Ok(f)
}

#[pymethods]
impl Channel {
    #[new]
    fn new(fd: i32, result_frame: Py<PyAny>) -> Channel {
        Channel {
            fd,
            inbuf: Mutex::new(Inbuf {
                buf: vec![0; 1 << 17],
                filled: 0,
            }),
            numpy: OnceLock::new(),
            result_frame,
        }
    }

    /// Hands over numpy's pieces once the runner has imported it; `call` serves requests from then on.
    fn numpy(
        &self,
        frombuffer: Py<PyAny>,
        asarray: Py<PyAny>,
        dtypes: Py<PyDict>,
        back: Py<PyDict>,
    ) {
        let _ = self.numpy.set(Numpy {
            frombuffer,
            asarray,
            dtypes,
            back,
        });
    }

    /// The next frame from the server, whole (length words included), its `op` and `spin_us`. Polls the
    /// socket for `spin` seconds before it sleeps in `recv` (without the GIL: a script's threads run
    /// meanwhile). The server closing the channel ends the runner (SystemExit), as it does in `runner.py`.
    fn recv<'py>(
        &self,
        py: Python<'py>,
        spin: f64,
    ) -> PyResult<(String, u64, Bound<'py, PyBytes>)> {
        let mut inbuf = self.reader()?;
        let (len, hlen) = fill(self.fd, py, spin, &mut inbuf)?;
        let head = serde_json::from_slice::<Op>(&inbuf.data()[8..8 + hlen])
            .map(|h| (h.op.to_string(), h.spin_us))
            .map_err(|e| PyOSError::new_err(format!("the server sent a bad header: {e}")));
        let frame = py_bytes(py, &inbuf.data()[..len]);
        // Taken whatever happens to it: the next read must start at the next frame.
        inbuf.consume(len);
        let (op, spin_us) = head?;
        Ok((op, spin_us, frame?))
    }

    /// A callback: sends `header` (JSON-encoded here) with `blobs` after it and waits for the server's
    /// answer: (its header decoded, or None when it is big and left to Python, the whole frame, where its
    /// blob area starts).
    fn exchange<'py>(
        &self,
        py: Python<'py>,
        header: &Bound<'py, PyAny>,
        blobs: &Bound<'py, PyAny>,
        spin: f64,
    ) -> PyResult<(Option<Bound<'py, PyAny>>, Bound<'py, PyBytes>, usize)> {
        // The reader first: a request sent whose answer nobody can read would put the two ends out of step.
        let mut inbuf = self.reader()?;
        let mut f = vec![0u8; 8];
        json::write(header, &mut f)?;
        let hlen = f.len() - 8;
        for b in blobs.try_iter()? {
            let b = b?;
            let bytes = match b.cast_into::<PyBytes>() {
                Ok(bytes) => bytes,
                Err(e) => py
                    .get_type::<PyBytes>()
                    .call1((e.into_inner(),))?
                    .cast_into::<PyBytes>()?,
            };
            room(&mut f, bytes.as_bytes().len())?;
            f.extend_from_slice(bytes.as_bytes());
        }
        let words = lengths(f.len() - 4, hlen)?;
        f[..8].copy_from_slice(&words);
        self.send(py, &f)?;
        let (len, hlen) = fill(self.fd, py, spin, &mut inbuf)?;
        let reply = (hlen <= BIG_HEADER).then(|| json::read(py, &inbuf.data()[8..8 + hlen]));
        let frame = py_bytes(py, &inbuf.data()[..len]);
        inbuf.consume(len);
        Ok((reply.transpose()?, frame?, 8 + hlen))
    }

    /// Sends a whole frame.
    fn send(&self, py: Python<'_>, frame: &[u8]) -> PyResult<()> {
        let mut at = 0;
        while at < frame.len() {
            let rest = &frame[at..];
            let fd = self.fd;
            // A big frame can wait for the server to read: let a script's threads run meanwhile.
            let sent = if rest.len() > 1 << 16 {
                py.detach(|| send(fd, rest, MsgFlags::MSG_NOSIGNAL))
            } else {
                send(fd, rest, MsgFlags::MSG_NOSIGNAL)
            };
            match sent {
                Ok(n) => at += n,
                Err(Errno::EINTR) => py.check_signals()?,
                Err(Errno::EPIPE) | Err(Errno::ECONNRESET) => {
                    return Err(PySystemExit::new_err(0));
                }
                Err(e) => return Err(PyOSError::new_err(format!("runner channel: {e}"))),
            }
        }
        Ok(())
    }

    /// Serves a `call` request (`frame` as `recv` gave it) with the script's `module`: the answer's frame,
    /// or None when the request holds what only `runner.py` handles (string tensors, tensors in shared
    /// memory), before anything of the script has run. The script's errors propagate as its exceptions.
    fn call<'py>(
        &self,
        py: Python<'py>,
        whole: &Bound<'py, PyBytes>,
        module: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        // None also for a big header (`BIG_HEADER`).
        let Some(np) = self.numpy.get() else {
            return Ok(None);
        };
        let frame = whole.as_bytes();
        let Some((_, hlen)) = whole_frame(frame)? else {
            return Err(PyOSError::new_err("call: not a whole frame"));
        };
        if hlen > BIG_HEADER {
            return Ok(None);
        }
        let req: CallReq = serde_json::from_slice(&frame[8..8 + hlen])
            .map_err(|e| PyOSError::new_err(format!("the server sent a bad call: {e}")))?;
        let blobs = &frame[8 + hlen..];
        let dtypes = np.dtypes.bind(py);
        let frombuffer = np.frombuffer.bind(py);
        let mut arrays = Vec::with_capacity(req.tensors.len());
        for t in &req.tensors {
            let (Some((at, n)), Some(dtype)) = (t.data.blob, dtypes.get_item(&t.dtype)?) else {
                return Ok(None); // in shared memory, or a STRING tensor
            };
            if at.checked_add(n).is_none_or(|end| end > blobs.len()) {
                return Err(PyOSError::new_err("the server sent a bad blob reference"));
            }
            let size = dtype.getattr("itemsize")?.extract::<usize>()?;
            if size == 0 || n % size != 0 {
                return Err(PyOSError::new_err("the server sent a bad blob reference"));
            }
            // A view of the frame, then one copy: the array owns its data and is writable, as in runner.py.
            let view = frombuffer.call1((whole, &dtype, n / size, 8 + hlen + at))?;
            let shaped = view.call_method1("reshape", (PyTuple::new(py, &t.shape)?,))?;
            arrays.push(shaped.call_method0("copy")?);
        }
        let keys = PyList::new(
            py,
            req.keys.iter().map(|k| PyString::new(py, &script_text(k))),
        )?;
        let args = PyList::new(
            py,
            req.args.iter().map(|a| PyString::new(py, &script_text(a))),
        )?;
        let f = module.getattr(req.func.as_str())?;
        let result = f.call1((PyList::new(py, arrays)?, keys, args))?;
        if let Some(f) = encode(np, py, &result)? {
            return Ok(Some(py_bytes(py, &f)?));
        }
        Ok(Some(
            self.result_frame
                .bind(py)
                .call1((result,))?
                .cast_into::<PyBytes>()?,
        ))
    }
}

impl Channel {
    /// The receive buffer, for the one thread reading.
    fn reader(&self) -> PyResult<std::sync::MutexGuard<'_, Inbuf>> {
        self.inbuf.try_lock().map_err(|e| match e {
            std::sync::TryLockError::WouldBlock => {
                PyRuntimeError::new_err("the runner's channel is in use by another thread")
            }
            // A panic while reading (a bug): the buffer may be out of step with the server, so this
            // runner ends and the server starts a fresh one.
            std::sync::TryLockError::Poisoned(_) => PySystemExit::new_err(70),
        })
    }
}

/// Bytes received from the server: `buf[..filled]` (the rest is room to read into, kept initialised so a
/// read never clears it again).
struct Inbuf {
    buf: Vec<u8>,
    filled: usize,
}

impl Inbuf {
    fn data(&self) -> &[u8] {
        &self.buf[..self.filled]
    }

    /// Drops the first `n` bytes (a frame taken).
    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.filled, 0);
        self.filled -= n;
        if self.filled == 0 && self.buf.len() > 1 << 20 {
            // A big frame has gone: give its room back.
            self.buf.truncate(1 << 17);
            self.buf.shrink_to_fit();
        }
    }
}

/// Reads from `fd` until `inbuf` starts with a whole frame: its (length, header length).
fn fill(fd: i32, py: Python<'_>, spin: f64, inbuf: &mut Inbuf) -> PyResult<(usize, usize)> {
    let until = Instant::now() + Duration::from_secs_f64(spin.max(0.0));
    loop {
        if let Some(whole) = whole_frame(inbuf.data())? {
            return Ok(whole);
        }
        let want = match whole_frame_len(inbuf.data()) {
            Some(len) => len.saturating_sub(inbuf.filled).max(1 << 16),
            None => 1 << 16,
        };
        let have = inbuf.filled;
        if inbuf.buf.len() < have + want {
            // Under script-memory-limit a big frame may not fit: a MemoryError, as Python's own would be,
            // rather than the abort a failed Rust allocation is.
            let more = have + want - inbuf.buf.len();
            if inbuf.buf.try_reserve(more).is_err() {
                // The frame is skipped, so the next read starts at the next one.
                if let Some(len) = whole_frame_len(inbuf.data()) {
                    skip(fd, py, inbuf, len)?;
                }
                return Err(PyMemoryError::new_err("no memory for the server's frame"));
            }
            inbuf.buf.resize(have + want, 0);
        }
        let room = &mut inbuf.buf[have..];
        // The poll holds the GIL (at most `spin`, 50 us): releasing it each turn would let a script's
        // busy background thread keep it for Python's whole switch interval (5 ms) once the answer is in.
        let got = match recv(fd, room, MsgFlags::MSG_DONTWAIT) {
            Err(Errno::EAGAIN) if Instant::now() < until => {
                std::thread::yield_now();
                continue;
            }
            Err(Errno::EAGAIN) => py.detach(|| recv(fd, room, MsgFlags::empty())),
            other => other,
        };
        match got {
            // The server closed the channel (or dropped it with data unread): no more work for this runner.
            Ok(0) | Err(Errno::ECONNRESET) => return Err(PySystemExit::new_err(0)),
            Ok(n) => inbuf.filled += n,
            Err(Errno::EINTR) => py.check_signals()?,
            Err(e) => return Err(PyOSError::new_err(format!("runner channel: {e}"))),
        }
    }
}

/// Reads and drops the rest of the `len`-byte frame `inbuf` holds the start of (the server sends nothing
/// after it before this runner answers, so nothing of the next frame is read).
fn skip(fd: i32, py: Python<'_>, inbuf: &mut Inbuf, len: usize) -> PyResult<()> {
    let mut left = len.saturating_sub(inbuf.filled);
    inbuf.filled = 0;
    while left > 0 {
        let n = left.min(inbuf.buf.len());
        let room = &mut inbuf.buf[..n];
        match py.detach(|| recv(fd, room, MsgFlags::empty())) {
            Ok(0) | Err(Errno::ECONNRESET) => return Err(PySystemExit::new_err(0)),
            Ok(n) => left -= n,
            Err(Errno::EINTR) | Err(Errno::EAGAIN) => py.check_signals()?,
            Err(e) => return Err(PyOSError::new_err(format!("runner channel: {e}"))),
        }
    }
    Ok(())
}

/// The answer's frame when every output is a numeric little-endian array small enough to go inline; None
/// leaves the result to `runner.py`.
fn encode(np: &Numpy, py: Python<'_>, result: &Bound<'_, PyAny>) -> PyResult<Option<Vec<u8>>> {
    let items: Vec<Bound<'_, PyAny>> = if result.is_none() {
        Vec::new()
    } else if result.is_instance_of::<PyList>() || result.is_instance_of::<PyTuple>() {
        result.try_iter()?.collect::<PyResult<_>>()?
    } else {
        vec![result.clone()]
    };
    let back = np.back.bind(py);
    let asarray = np.asarray.bind(py);
    let mut outputs = Vec::with_capacity(items.len());
    for x in items {
        let a = asarray.call1((x,))?;
        let Some(name) = back.get_item(a.getattr("dtype")?)? else {
            return Ok(None);
        };
        // Sized before it is copied: a big output goes through shared memory, from runner.py.
        if a.getattr("nbytes")?.extract::<usize>()? >= SHM_MIN {
            return Ok(None);
        }
        let data = a.call_method0("tobytes")?.cast_into::<PyBytes>()?;
        let shape: Vec<i64> = a.getattr("shape")?.extract()?;
        outputs.push((name.extract::<String>()?, shape, data));
    }
    Ok(Some(result_frame(&outputs)?))
}

/// The length of the frame at the front of `buf`, once its length word is in.
fn whole_frame_len(buf: &[u8]) -> Option<usize> {
    let word = buf.get(0..4)?;
    Some(4 + u32::from_le_bytes(word.try_into().expect("4 bytes")) as usize)
}

#[pymodule]
fn _tensorcell_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Channel>()?;
    m.add("PROTOCOL", PROTOCOL)?;
    Ok(())
}
