//! The ONNX Runtime backend: everything that touches the `ort` crate lives in this file.
//!
//! ONNX Runtime is loaded at run time (`ort`'s `load-dynamic`), so tensorcell builds and runs without it and
//! links no C++: `libonnxruntime.so` comes from the `onnxruntime-library` directive, `ORT_DYLIB_PATH`, or
//! `AI.CONFIG LOADBACKEND ONNX <path>`, loaded once per process ([`init`]). No `ort` call is made before a
//! library has loaded (ort panics then), and every call that could panic inside ort is caught, so a bad
//! library or model is an error reply, never a crash.
//!
//! `Session::run` takes its session mutably, so a model keeps a small pool of sessions: a run takes an idle
//! one or builds another (at most one per worker running the model at once), and the sessions share their
//! prepacked weights. A run past `model-execution-timeout` is stopped through its `RunOptions` by one
//! watchdog thread ([`Watchdog`]): ONNX Runtime checks the flag between operators, so even an endless Loop
//! ends, and the worker is free again.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ort::environment::Environment;
use ort::session::builder::{GraphOptimizationLevel, PrepackedWeights, SessionBuilder};
use ort::session::{RunOptions, Session, SessionInputValue};
use ort::value::{DynMapValueType, DynValue, Tensor, TensorElementType, ValueType};
use parking_lot::{Condvar, Mutex};

use super::io::IoSpec;
use crate::tensor::{DType, Tensor as CellTensor};

/// The C API level this build asks ONNX Runtime for: a library older than 1.<this> is refused at load.
pub const API_LEVEL: u32 = ort::MINOR_VERSION;

/// The library that loaded: its path and version.
#[derive(Debug, Clone)]
pub struct Library {
    pub path: String,
    pub version: String,
}

/// The library and the environment every session is built in.
struct Loaded {
    lib: Library,
    env: Environment,
}

static LOADED: OnceLock<Loaded> = OnceLock::new();

/// Loads ONNX Runtime from `path` once per process: ONNX Runtime's environment is global, so once a
/// library has loaded, later calls answer it, whatever path they name. A file that does not open as ONNX
/// Runtime leaves nothing behind, and a later call (`AI.CONFIG LOADBACKEND`) may try another path (ort keeps
/// a library that opened but whose environment failed to build, and builds on it next time). A relative
/// path is tried next to the executable first (ort's rule), then as given.
pub fn init(path: &str) -> Result<Library, String> {
    static ATTEMPT: Mutex<()> = Mutex::new(());
    let _one_at_a_time = ATTEMPT.lock();
    if let Some(l) = LOADED.get() {
        return Ok(l.lib.clone());
    }
    let needs = format!(
        "tensorcell needs libonnxruntime.so 1.{API_LEVEL} or newer, C API level {API_LEVEL}"
    );
    let built = catch_unwind(|| {
        ort::init_from(path)
            .map_err(|e| e.to_string())?
            .with_name("tensorcell")
            .with_telemetry(false)
            .build()
            .map_err(|e| e.to_string())
    });
    let env = match built {
        Ok(Ok(env)) => env,
        Ok(Err(e)) => {
            return Err(format!(
                "ONNX Runtime did not load from {path}: {e} ({needs})"
            ))
        }
        Err(_) => return Err(format!("ONNX Runtime did not load from {path} ({needs})")),
    };
    let lib = Library {
        path: path.to_string(),
        version: version(path),
    };
    let _ = LOADED.set(Loaded {
        lib: lib.clone(),
        env,
    });
    Ok(lib)
}

/// The library loaded by [`init`], if one did.
pub fn loaded() -> Option<Library> {
    env().map(|(lib, _)| lib.clone())
}

fn env() -> Option<(&'static Library, &'static Environment)> {
    LOADED.get().map(|l| (&l.lib, &l.env))
}

/// ONNX Runtime's version: from its build info (`git-branch=rel-1.31.1, ...`) when a release branch built
/// it, else from the library's file name (`libonnxruntime.so.1.31.1`); `ort` does not expose the C API's
/// GetVersionString.
fn version(path: &str) -> String {
    let info = ort::info();
    info.split(|c: char| c == ',' || c.is_whitespace())
        .find_map(|w| w.strip_prefix("git-branch=rel-"))
        .or_else(|| path.rsplit_once(".so.").map(|(_, v)| v))
        .unwrap_or("unknown")
        .to_string()
}

/// A loaded model: its sessions and what it needs to build more.
pub struct OrtModel {
    blob: Bytes,
    intra: usize,
    inter: usize,
    prepacked: PrepackedWeights,
    idle: Mutex<Vec<Session>>,
}

fn builder(
    intra: usize,
    inter: usize,
    prepacked: &PrepackedWeights,
) -> ort::Result<SessionBuilder> {
    let Some((_, env)) = env() else {
        return Err(ort::Error::new("ONNX Runtime is not loaded"));
    };
    let b = Session::builder(env)?
        .with_optimization_level(GraphOptimizationLevel::All)?
        .with_intra_threads(intra.max(1))?
        .with_inter_threads(inter.max(1))?
        // ONNX Runtime runs independent operators at once only in parallel execution mode.
        .with_parallel_execution(inter > 1)?
        .with_prepacked_weights(prepacked)?;
    Ok(b)
}

fn spec(name: &str, t: &ValueType) -> IoSpec {
    match t {
        ValueType::Tensor { ty, shape, .. } => IoSpec {
            name: name.to_string(),
            dtype: dtype_of(*ty),
            shape: Some(shape.iter().map(|&d| usize::try_from(d).ok()).collect()),
        },
        _ => IoSpec {
            name: name.to_string(),
            dtype: None,
            shape: None,
        },
    }
}

fn dtype_of(t: TensorElementType) -> Option<DType> {
    Some(match t {
        TensorElementType::Float32 => DType::Float,
        TensorElementType::Float64 => DType::Double,
        TensorElementType::Int8 => DType::Int8,
        TensorElementType::Int16 => DType::Int16,
        TensorElementType::Int32 => DType::Int32,
        TensorElementType::Int64 => DType::Int64,
        TensorElementType::Uint8 => DType::Uint8,
        TensorElementType::Uint16 => DType::Uint16,
        TensorElementType::Bool => DType::Bool,
        TensorElementType::String => DType::String,
        _ => return None,
    })
}

/// Builds a model's first session; returns it with the model's inputs and outputs.
pub fn load(
    blob: &Bytes,
    intra: usize,
    inter: usize,
) -> Result<(OrtModel, Vec<IoSpec>, Vec<IoSpec>), String> {
    if loaded().is_none() {
        return Err("ONNX Runtime is not loaded (onnxruntime-library)".into());
    }
    let built = catch_unwind(AssertUnwindSafe(|| {
        let prepacked = PrepackedWeights::new();
        let session = builder(intra, inter, &prepacked)?.commit_from_memory(blob)?;
        Ok::<_, ort::Error>((session, prepacked))
    }));
    let (session, prepacked) = match built {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("ONNX Runtime failed while loading the model".into()),
    };
    let inputs = session
        .inputs()
        .iter()
        .map(|o| spec(o.name(), o.dtype()))
        .collect();
    let outputs = session
        .outputs()
        .iter()
        .map(|o| spec(o.name(), o.dtype()))
        .collect();
    let model = OrtModel {
        blob: blob.clone(),
        intra,
        inter,
        prepacked,
        idle: Mutex::new(vec![session]),
    };
    Ok((model, inputs, outputs))
}

impl OrtModel {
    fn take(&self) -> Result<Session, String> {
        if let Some(s) = self.idle.lock().pop() {
            return Ok(s);
        }
        catch_unwind(AssertUnwindSafe(|| {
            builder(self.intra, self.inter, &self.prepacked)?.commit_from_memory(&self.blob)
        }))
        .map_err(|_| "ONNX Runtime failed while loading the model".to_string())?
        .map_err(|e| e.to_string())
    }

    /// Runs the model on `inputs`; stopped once it has taken `limit` (`model-execution-timeout`).
    pub fn run(
        &self,
        inputs: &[&CellTensor],
        limit: Option<Duration>,
    ) -> Result<Vec<CellTensor>, String> {
        // ort's tensor constructors may panic (its `expect`s): caught like the run.
        let values = catch_unwind(AssertUnwindSafe(|| {
            inputs
                .iter()
                .map(|t| to_ort(t).map(SessionInputValue::from))
                .collect::<Result<Vec<_>, String>>()
        }))
        .map_err(|_| "ONNX Runtime failed while reading the inputs".to_string())??;
        let mut session = self.take()?;
        let ran = catch_unwind(AssertUnwindSafe(|| -> Result<Vec<CellTensor>, String> {
            let options = Arc::new(RunOptions::new().map_err(|e| e.to_string())?);
            let _watch = limit.map(|l| watchdog().watch(Instant::now() + l, options.clone()));
            let outputs = session
                .run_with_options(values.as_slice(), &options)
                .map_err(|e| {
                    let e = e.to_string();
                    if e.contains("terminate flag") {
                        "Exiting due to terminate flag being set to true (model-execution-timeout)"
                            .to_string()
                    } else {
                        e
                    }
                })?;
            outputs.values().map(|v| from_ort(&v)).collect()
        }));
        match ran {
            Ok(r) => {
                // A session that answered (even with an error) is sound and goes back to the pool.
                self.idle.lock().push(session);
                r
            }
            // A panic inside ort: the session is dropped, the next run builds a fresh one.
            Err(_) => Err("ONNX Runtime failed while running the model".into()),
        }
    }
}

/// Our tensor as an ONNX Runtime tensor (one copy: our bytes need not be aligned for their type).
fn to_ort(t: &CellTensor) -> Result<DynValue, String> {
    let shape = t.shape.clone();
    macro_rules! pod {
        ($ty:ty) => {{
            let data: Vec<$ty> = bytemuck::pod_collect_to_vec(&t.data);
            Tensor::from_array((shape, data)).map(|x| x.into_dyn())
        }};
    }
    let made = match t.dtype {
        DType::Float => pod!(f32),
        DType::Double => pod!(f64),
        DType::Int8 => pod!(i8),
        DType::Int16 => pod!(i16),
        DType::Int32 => pod!(i32),
        DType::Int64 => pod!(i64),
        DType::Uint8 => pod!(u8),
        DType::Uint16 => pod!(u16),
        DType::Bool => {
            let data: Vec<bool> = t.data.iter().map(|&b| b != 0).collect();
            Tensor::from_array((shape, data)).map(|x| x.into_dyn())
        }
        DType::String => {
            let items: Vec<String> = t
                .strings()
                .map(|s| String::from_utf8_lossy(&s).into_owned())
                .collect();
            Tensor::from_string_array((shape, items.as_slice())).map(|x| x.into_dyn())
        }
    };
    made.map_err(|e| format!("bad input tensor: {e}"))
}

fn bytes_of<T: bytemuck::NoUninit>(data: &[T]) -> Bytes {
    Bytes::copy_from_slice(bytemuck::cast_slice(data))
}

fn dims(shape: &[i64]) -> Vec<usize> {
    shape.iter().map(|&d| d.max(0) as usize).collect()
}

/// An ONNX Runtime output as our tensor. Tensors of a type we hold come back as they are (U32 widened to
/// INT64); a sequence of maps (scikit-learn's ZipMap of class probabilities) becomes a FLOAT tensor
/// `[rows, classes]` in class order.
fn from_ort(v: &DynValue) -> Result<CellTensor, String> {
    let e = |e: ort::Error| e.to_string();
    macro_rules! pod {
        ($ty:ty, $dt:expr) => {{
            let (shape, data) = v.try_extract_tensor::<$ty>().map_err(e)?;
            CellTensor {
                dtype: $dt,
                shape: dims(shape),
                data: bytes_of(data),
            }
        }};
    }
    // Element by element into a type of ours.
    macro_rules! wide {
        ($ty:ty, $dt:expr, $conv:expr) => {{
            let (shape, data) = v.try_extract_tensor::<$ty>().map_err(e)?;
            let ours: Vec<_> = data.iter().map($conv).collect();
            CellTensor {
                dtype: $dt,
                shape: dims(shape),
                data: bytes_of(&ours),
            }
        }};
    }
    Ok(match v.dtype() {
        ValueType::Tensor { ty, .. } => match ty {
            TensorElementType::Float32 => pod!(f32, DType::Float),
            TensorElementType::Float64 => pod!(f64, DType::Double),
            TensorElementType::Int8 => pod!(i8, DType::Int8),
            TensorElementType::Int16 => pod!(i16, DType::Int16),
            TensorElementType::Int32 => pod!(i32, DType::Int32),
            TensorElementType::Int64 => pod!(i64, DType::Int64),
            TensorElementType::Uint8 => pod!(u8, DType::Uint8),
            TensorElementType::Uint16 => pod!(u16, DType::Uint16),
            // Widened where that is lossless, as on tract.
            TensorElementType::Float16 => wide!(half::f16, DType::Float, |x| x.to_f32()),
            TensorElementType::Uint32 => wide!(u32, DType::Int64, |&x| i64::from(x)),
            TensorElementType::Bool => wide!(bool, DType::Bool, |&b| u8::from(b)),
            TensorElementType::String => {
                let (shape, items) = v.try_extract_strings().map_err(e)?;
                let mut buf = Vec::new();
                for s in &items {
                    buf.extend_from_slice(s.as_bytes());
                    buf.push(0);
                }
                CellTensor {
                    dtype: DType::String,
                    shape: dims(shape),
                    data: buf.into(),
                }
            }
            other => {
                return Err(format!(
                    "the model produced a {other:?} tensor, which tensorcell cannot hold"
                ))
            }
        },
        ValueType::Sequence(inner) if matches!(**inner, ValueType::Map { .. }) => zipmap(v, inner)?,
        other => {
            return Err(format!(
                "the model produced a {other} output, which tensorcell cannot hold"
            ))
        }
    })
}

/// A sequence of `map(label -> probability)`, one map per row, as a FLOAT `[rows, classes]` tensor with the
/// classes in label order (the order scikit-learn's `classes_` has).
fn zipmap(v: &DynValue, inner: &ValueType) -> Result<CellTensor, String> {
    let e = |e: ort::Error| e.to_string();
    let ValueType::Map { key, value } = inner else {
        unreachable!("checked by the caller")
    };
    if *value != TensorElementType::Float32 {
        return Err(format!(
            "the model produced a sequence of maps to {value:?}, which tensorcell cannot hold"
        ));
    }
    let maps = v.try_extract_sequence::<DynMapValueType>().map_err(e)?;
    let mut rows: Vec<Vec<f32>> = Vec::with_capacity(maps.len());
    for m in &maps {
        let row = match key {
            TensorElementType::Int64 => {
                let mut kv = m.try_extract_key_values::<i64, f32>().map_err(e)?;
                kv.sort_by_key(|(k, _)| *k);
                kv.into_iter().map(|(_, p)| p).collect()
            }
            TensorElementType::String => {
                let mut kv = m.try_extract_key_values::<String, f32>().map_err(e)?;
                kv.sort_by(|a, b| a.0.cmp(&b.0));
                kv.into_iter().map(|(_, p)| p).collect()
            }
            other => {
                return Err(format!(
                    "the model produced a sequence of maps keyed by {other:?}, which tensorcell cannot hold"
                ))
            }
        };
        rows.push(row);
    }
    let classes = rows.first().map_or(0, Vec::len);
    if rows.iter().any(|r| r.len() != classes) {
        return Err("the model's probability maps have different class counts".into());
    }
    let flat: Vec<f32> = rows.into_iter().flatten().collect();
    Ok(CellTensor {
        dtype: DType::Float,
        shape: vec![maps.len(), classes],
        data: bytes_of(&flat),
    })
}

/// Runs past their deadline, stopped by one thread: it looks at the runs at least every [`TICK`] and at the
/// earliest deadline, and sets the terminate flag of each run past its own. A run registers without waking
/// it (a wake-up is a context switch per run: measured 38 us a run in a debug build) unless its deadline
/// falls before the thread's next look; a run that ends first drops its [`Watch`], which takes it off the
/// list.
struct Watchdog {
    runs: Mutex<Runs>,
    wake: Condvar,
}

#[derive(Default)]
struct Runs {
    list: Vec<Entry>,
    /// When the thread looks next (None while it is looking).
    next_look: Option<Instant>,
    /// The latest registration: a watchdog with nothing to watch for a second looks every [`IDLE`] only.
    last_watch: Option<Instant>,
}

struct Entry {
    deadline: Instant,
    id: u64,
    options: Arc<RunOptions>,
}

/// The longest the watchdog sleeps: how late past its deadline a run may be stopped, at worst.
const TICK: Duration = Duration::from_millis(20);
/// How often an idle watchdog looks (a run whose deadline comes sooner wakes it).
const IDLE: Duration = Duration::from_secs(1);

/// A run on the watchdog's list while this lives.
struct Watch {
    id: u64,
}

impl Drop for Watch {
    fn drop(&mut self) {
        watchdog().runs.lock().list.retain(|e| e.id != self.id);
    }
}

fn watchdog() -> &'static Watchdog {
    static DOG: OnceLock<&'static Watchdog> = OnceLock::new();
    DOG.get_or_init(|| {
        let dog: &'static Watchdog = Box::leak(Box::new(Watchdog {
            runs: Mutex::new(Runs::default()),
            wake: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("onnxruntime-watchdog".into())
            .spawn(move || dog.serve())
            .expect("spawn the ONNX Runtime watchdog thread");
        dog
    })
}

impl Watchdog {
    fn watch(&'static self, deadline: Instant, options: Arc<RunOptions>) -> Watch {
        use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Relaxed);
        let mut runs = self.runs.lock();
        runs.list.push(Entry {
            deadline,
            id,
            options,
        });
        runs.last_watch = Some(Instant::now());
        if runs.next_look.is_some_and(|at| deadline < at) {
            self.wake.notify_one();
        }
        Watch { id }
    }

    fn serve(&self) {
        let mut runs = self.runs.lock();
        loop {
            let now = Instant::now();
            runs.list.retain(|e| {
                let due = e.deadline <= now;
                if due {
                    let _ = e.options.terminate();
                }
                !due
            });
            let idle = runs.list.is_empty()
                && runs
                    .last_watch
                    .is_none_or(|w| now.saturating_duration_since(w) > IDLE);
            let tick = if idle { IDLE } else { TICK };
            let earliest = runs.list.iter().map(|e| e.deadline).min();
            let at = earliest.map_or(now + tick, |d| d.min(now + tick));
            runs.next_look = Some(at);
            self.wake.wait_until(&mut runs, at);
            runs.next_look = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the time of one run goes (not a check: `cargo test --release -- --ignored ort_timing
    /// --nocapture` with ORT_DYLIB_PATH set prints it).
    #[test]
    #[ignore]
    fn ort_timing() {
        let Ok(path) = std::env::var("ORT_DYLIB_PATH") else {
            return;
        };
        init(&path).unwrap();
        let blob = Bytes::from(
            std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/models/mlp.onnx"
            ))
            .unwrap(),
        );
        let (m, _, _) = load(&blob, 1, 1).unwrap();
        let t = |shape: Vec<usize>| CellTensor {
            dtype: DType::Float,
            data: Bytes::from(vec![0u8; shape.iter().product::<usize>() * 4]),
            shape,
        };
        let (a, b) = (t(vec![1, 30]), t(vec![1, 256]));
        let time = |label: &str, f: &mut dyn FnMut()| {
            for _ in 0..200 {
                f();
            }
            let start = Instant::now();
            for _ in 0..2000 {
                f();
            }
            eprintln!(
                "{label}: {:.1} us",
                start.elapsed().as_secs_f64() * 1e6 / 2000.0
            );
        };
        time("run, no limit", &mut || {
            m.run(&[&a, &b], None).unwrap();
        });
        time("run, 5 s limit", &mut || {
            m.run(&[&a, &b], Some(Duration::from_secs(5))).unwrap();
        });
        time("inputs only", &mut || {
            let _ = to_ort(&a).unwrap();
            let _ = to_ort(&b).unwrap();
        });
        time("RunOptions::new", &mut || {
            let _ = RunOptions::new().unwrap();
        });
        let mut s = m.take().unwrap();
        let va = to_ort(&a).unwrap();
        let vb = to_ort(&b).unwrap();
        time("session.run alone", &mut || {
            let ins = [SessionInputValue::from(&va), SessionInputValue::from(&vb)];
            let _ = s.run(ins).unwrap();
        });
    }
}
