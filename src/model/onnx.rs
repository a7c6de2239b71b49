//! ONNX models, whichever runtime runs them: the one model-backend interface.
//!
//! A model is loaded by tract (`tract.rs`: pure Rust, built in, always there) or by ONNX Runtime (`ort.rs`:
//! `libonnxruntime.so`, loaded at run time), as `onnx-backend` says: `auto` (ONNX Runtime when its library
//! loads, else tract), `onnxruntime`, or `tract`. Both answer the same [`IoSpec`]s and run on our tensors,
//! so the commands, the batcher and the DAG runner see only [`OnnxModel`]. The choice is made once per
//! process ([`select`], at start; `AI.CONFIG LOADBACKEND ONNX <path>` later) because ONNX Runtime's
//! environment is process-wide; a model keeps the runtime it was loaded with.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;

pub use super::io::IoSpec;
use super::{ort, tract};
use crate::tensor::{DType, Tensor as CellTensor};

/// The runtime that runs a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Tract,
    OnnxRuntime,
}

impl Runtime {
    /// As the log, INFO and AI.INFO spell it.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Tract => "tract",
            Runtime::OnnxRuntime => "onnxruntime",
        }
    }
}

/// `onnx-backend`: which runtime new models get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Choice {
    #[default]
    Auto,
    OnnxRuntime,
    Tract,
}

impl Choice {
    pub fn parse(s: &str) -> Option<Choice> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Some(Choice::Auto),
            "onnxruntime" => Some(Choice::OnnxRuntime),
            "tract" => Some(Choice::Tract),
            _ => None,
        }
    }
}

const TRACT: u8 = 0;
const ORT: u8 = 1;
/// `onnx-backend onnxruntime` without a library that loaded: model loads are refused, never silently
/// moved to tract.
const NONE: u8 = 2;

/// The runtime new models load on (a code above), and the reason when it is [`NONE`].
static ACTIVE: AtomicU8 = AtomicU8::new(TRACT);
static REFUSAL: parking_lot::Mutex<String> = parking_lot::Mutex::new(String::new());
/// `onnx-backend tract`: a library loaded later (LOADBACKEND) does not move new models off tract.
static TRACT_PINNED: AtomicBool = AtomicBool::new(false);

/// Chooses the runtime of the models this process loads from `onnx-backend` and the library path
/// (`onnxruntime-library`, else `ORT_DYLIB_PATH`). Returns the log line saying what was chosen and why; an
/// error when `onnxruntime` was asked for and did not load (the server still starts, and refuses model
/// loads with that error, which a snapshot holding models then fails to load with too).
pub fn select(choice: Choice, library: &str) -> Result<String, String> {
    TRACT_PINNED.store(choice == Choice::Tract, Relaxed);
    let path = match library {
        "" => std::env::var("ORT_DYLIB_PATH").unwrap_or_default(),
        p => p.to_string(),
    };
    match (choice, path.as_str()) {
        (Choice::Tract, _) => {
            ACTIVE.store(TRACT, Relaxed);
            Ok(format!("ONNX models run on tract {}", tract::TRACT_VERSION))
        }
        (Choice::Auto, "") => {
            ACTIVE.store(TRACT, Relaxed);
            Ok(format!(
                "ONNX models run on tract {} (onnx-backend auto: no onnxruntime-library or ORT_DYLIB_PATH set)",
                tract::TRACT_VERSION
            ))
        }
        (Choice::OnnxRuntime, "") => {
            let e = "onnx-backend onnxruntime: no library given (set onnxruntime-library, ORT_DYLIB_PATH, or AI.CONFIG LOADBACKEND ONNX <path>)".to_string();
            refuse(&e);
            Err(e)
        }
        (_, path) => match ort::init(path) {
            Ok(lib) => {
                ACTIVE.store(ORT, Relaxed);
                Ok(format!(
                    "ONNX models run on ONNX Runtime {} ({})",
                    lib.version, lib.path
                ))
            }
            Err(e) if choice == Choice::Auto => {
                ACTIVE.store(TRACT, Relaxed);
                Ok(format!(
                    "ONNX models run on tract {} (onnx-backend auto: {e})",
                    tract::TRACT_VERSION
                ))
            }
            Err(e) => {
                refuse(&e);
                Err(e)
            }
        },
    }
}

fn refuse(reason: &str) {
    *REFUSAL.lock() = reason.to_string();
    ACTIVE.store(NONE, Relaxed);
}

/// `AI.CONFIG LOADBACKEND ONNX <path>`: loads ONNX Runtime from `path` (RedisAI's way); new models then run
/// on it, unless `onnx-backend tract` pins them to tract.
pub fn load_backend(path: &str) -> Result<ort::Library, String> {
    let lib = ort::init(path)?;
    if !TRACT_PINNED.load(Relaxed) {
        ACTIVE.store(ORT, Relaxed);
    }
    Ok(lib)
}

/// The runtime new models load on, or why none can.
pub fn active() -> Result<Runtime, String> {
    match ACTIVE.load(Relaxed) {
        TRACT => Ok(Runtime::Tract),
        ORT => Ok(Runtime::OnnxRuntime),
        _ => Err(REFUSAL.lock().clone()),
    }
}

/// ONNX Runtime's version when it is loaded (INFO).
pub fn onnxruntime_version() -> Option<String> {
    ort::loaded().map(|l| l.version)
}

/// A loaded ONNX model.
pub struct OnnxModel {
    pub inputs: Vec<IoSpec>,
    pub outputs: Vec<IoSpec>,
    engine: Engine,
}

enum Engine {
    Tract(tract::TractModel),
    Ort(ort::OrtModel),
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel")
            .field("runtime", &self.runtime())
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish()
    }
}

/// A worker's reusable run states (tract keeps scratch space per model and plan; ONNX Runtime's sessions
/// keep theirs).
#[derive(Default)]
pub struct States {
    tract: tract::States,
}

/// Parses and prepares a model on the active runtime. `intra` > 1 lets one run use that many threads for
/// its operators; `inter` lets ONNX Runtime run independent operators in parallel.
pub fn load(blob: &Bytes, intra: usize, inter: usize) -> Result<OnnxModel, String> {
    match active()? {
        Runtime::Tract => {
            let (t, inputs, outputs) = tract::load(blob, intra)?;
            Ok(OnnxModel {
                inputs,
                outputs,
                engine: Engine::Tract(t),
            })
        }
        Runtime::OnnxRuntime => {
            let (o, inputs, outputs) = ort::load(blob, intra, inter)?;
            Ok(OnnxModel {
                inputs,
                outputs,
                engine: Engine::Ort(o),
            })
        }
    }
}

impl OnnxModel {
    pub fn runtime(&self) -> Runtime {
        match self.engine {
            Engine::Tract(_) => Runtime::Tract,
            Engine::Ort(_) => Runtime::OnnxRuntime,
        }
    }

    /// The rows to run a batch of `rows` rows as (the batcher pads the rest with zero rows, whose outputs it
    /// drops). tract builds and keeps a plan per input size (`tract::MAX_CONCRETE` of them, then a slow
    /// generic plan), so batches of every size from 1 to BATCHSIZE would build plans on the request path
    /// and then fall back: padded to a power of two (up to `batchsize`), a batched model needs a handful of
    /// plans. ONNX Runtime runs any size as it comes.
    pub fn batch_rows(&self, rows: usize, batchsize: usize) -> usize {
        // Only where the model says dim 0 of every input and output is free (a batch dim): zero rows must
        // fit its shapes and come back as rows of their own.
        let free = |specs: &[IoSpec]| {
            specs
                .iter()
                .all(|s| s.shape.as_ref().is_some_and(|d| d.first() == Some(&None)))
        };
        if !free(&self.inputs) || !free(&self.outputs) {
            return rows;
        }
        match self.engine {
            Engine::Tract(_) => {
                let bucket = rows.next_power_of_two();
                if bucket <= batchsize {
                    bucket
                } else {
                    rows
                }
            }
            Engine::Ort(_) => rows,
        }
    }

    /// Whether running `batchsize` rows at once costs less than that many single runs, measured now on zero
    /// inputs (median of a few runs each, after warm-up runs that also build tract's plans): `None` when it
    /// cannot be measured (an input without a fixed type and shape but for dim 0, or a run that fails) or
    /// one run takes so long that batching surely pays for itself. Returns (pays, single us, batch us).
    pub fn batching_pays(&self, batchsize: usize) -> Option<(bool, u64, u64)> {
        const RUNS: usize = 5;
        let zeros = |rows: usize| -> Option<Vec<CellTensor>> {
            self.inputs
                .iter()
                .map(|s| {
                    let dtype = s.dtype.filter(|d| *d != DType::String)?;
                    let dims = s.shape.as_ref()?;
                    let (first, rest) = dims.split_first()?;
                    if first.is_some() {
                        return None;
                    }
                    let mut shape = vec![rows];
                    for d in rest {
                        shape.push((*d)?);
                    }
                    let n: usize = shape.iter().product();
                    Some(CellTensor {
                        dtype,
                        data: Bytes::from(vec![0u8; n * dtype.size()?]),
                        shape,
                    })
                })
                .collect()
        };
        let (one, many) = (zeros(1)?, zeros(batchsize)?);
        let mut states = States::default();
        let mut time = |inputs: &[CellTensor]| -> Option<u64> {
            let refs: Vec<&CellTensor> = inputs.iter().collect();
            let mut took = Vec::with_capacity(RUNS);
            for i in 0..RUNS + 2 {
                let start = std::time::Instant::now();
                self.run(0, &mut states, &refs, None).ok()?;
                let us = start.elapsed().as_micros() as u64;
                // A model this slow gains from batching whatever it costs to measure.
                if us > 50_000 {
                    return None;
                }
                if i >= 2 {
                    took.push(us);
                }
            }
            took.sort_unstable();
            Some(took[RUNS / 2].max(1))
        };
        let single = time(&one)?;
        let batch = time(&many)?;
        Some((batch < single * batchsize as u64, single, batch))
    }

    /// Checks inputs against what the model declares, so a mismatch gets a clear error instead of an error
    /// from deep inside an operator.
    pub fn check_inputs(&self, inputs: &[&CellTensor]) -> Result<(), String> {
        for (i, (t, s)) in inputs.iter().zip(&self.inputs).enumerate() {
            if let Some(dt) = s.dtype {
                if dt != t.dtype {
                    return Err(format!(
                        "input {i} ('{}') of the model is {}, got {}",
                        s.name,
                        dt.name(),
                        t.dtype.name()
                    ));
                }
            }
            if let Some(shape) = &s.shape {
                let fits = shape.len() == t.shape.len()
                    && shape
                        .iter()
                        .zip(&t.shape)
                        .all(|(want, got)| want.is_none_or(|w| w == *got));
                if !fits {
                    let want: Vec<String> = shape
                        .iter()
                        .map(|d| d.map_or("?".into(), |n| n.to_string()))
                        .collect();
                    return Err(format!(
                        "input {i} ('{}') of the model has shape [{}], got {:?}",
                        s.name,
                        want.join(","),
                        t.shape
                    ));
                }
            }
        }
        Ok(())
    }

    /// Runs the model on `inputs` (model `id`'s run state from `states` on tract). The run stops once it has
    /// taken `limit` (the `model-execution-timeout` kill switch).
    pub fn run(
        &self,
        id: u64,
        states: &mut States,
        inputs: &[&CellTensor],
        limit: Option<Duration>,
    ) -> Result<Vec<CellTensor>, String> {
        match &self.engine {
            Engine::Tract(t) => t.run(id, &mut states.tract, inputs, limit),
            Engine::Ort(o) => o.run(inputs, limit),
        }
    }
}
