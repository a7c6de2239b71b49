//! The tract runtime of ONNX models (pure Rust, built in): everything that touches tract lives in this file.
//!
//! A model is parsed from its blob and optimized into a plan shared by every worker (`Arc`), and run through a
//! per-worker run state that is reused across calls (tract allocates its scratch space once per state).
//! Input dims that the model leaves symbolic (a `dim_param` such as `N`) stay symbolic in that generic plan,
//! so it serves every batch size; the first run at a given size also builds a plan specialized to it (tract
//! picks kernels and packs weights for concrete shapes: measured 2x faster on mnist), used from then on, up to
//! [`MAX_CONCRETE`] sizes per model. Every tract failure becomes an error string with tract's reason; a panic
//! inside tract is caught and reported the same way, so no model can take a worker down.

/// The tract release this backend is built with (Cargo.toml pins it; INFO reports it).
pub const TRACT_VERSION: &str = "0.23.9";

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::{format_err, DimLike};
use tract_onnx::tract_core::plan::eval as tract_eval;

use super::io::IoSpec;
use crate::tensor::{DType, Tensor as CellTensor};

/// Most shape-specialized plans kept per model; other sizes run on the generic plan.
pub const MAX_CONCRETE: usize = 8;

/// A loaded, optimized ONNX model.
pub struct TractModel {
    /// The plan with symbolic dims, for any size.
    plan: Arc<TypedSimplePlan>,
    /// The decluttered model the specialized plans are built from (only when it has symbolic input dims).
    generic: Option<TypedModel>,
    /// Where the symbols sit: (input, dim, symbol).
    symbols: Vec<(usize, usize, Symbol)>,
    /// Specialized plans by the values of `symbols`.
    concrete: Mutex<HashMap<Vec<usize>, Arc<TypedSimplePlan>>>,
    threads: usize,
}

/// A worker's reusable run states, one per model and plan it has run (keyed by the model's unique id and the
/// concrete sizes of its symbolic dims; empty for the generic plan).
#[derive(Default)]
pub struct States {
    states: HashMap<(u64, Vec<usize>), TypedSimpleState>,
}

impl States {
    /// Most states a worker keeps; beyond that the cache is cleared (models are few in practice).
    const MAX: usize = 64;

    /// Forgets a run state (after a failure, so a half-run state is never reused).
    fn forget(&mut self, key: &(u64, Vec<usize>)) {
        self.states.remove(key);
    }
}

/// tract's reason, with its context chain, on one line.
fn reason(e: &TractError) -> String {
    format!("{e:#}")
}

fn dtype_of(dt: DatumType) -> Option<DType> {
    Some(match dt {
        DatumType::F32 => DType::Float,
        DatumType::F64 => DType::Double,
        DatumType::I8 => DType::Int8,
        DatumType::I16 => DType::Int16,
        DatumType::I32 => DType::Int32,
        DatumType::I64 => DType::Int64,
        DatumType::U8 => DType::Uint8,
        DatumType::U16 => DType::Uint16,
        DatumType::Bool => DType::Bool,
        DatumType::String => DType::String,
        _ => return None,
    })
}

fn datum_of(dt: DType) -> DatumType {
    match dt {
        DType::Float => DatumType::F32,
        DType::Double => DatumType::F64,
        DType::Int8 => DatumType::I8,
        DType::Int16 => DatumType::I16,
        DType::Int32 => DatumType::I32,
        DType::Int64 => DatumType::I64,
        DType::Uint8 => DatumType::U8,
        DType::Uint16 => DatumType::U16,
        DType::Bool => DatumType::Bool,
        DType::String => DatumType::String,
    }
}

fn spec(name: String, fact: &TypedFact) -> IoSpec {
    IoSpec {
        name,
        dtype: dtype_of(fact.datum_type),
        shape: Some(fact.shape.iter().map(|d| d.to_usize().ok()).collect()),
    }
}

/// What a load gives: the model, its inputs and its outputs.
pub type Loaded = (TractModel, Vec<IoSpec>, Vec<IoSpec>);

/// Parses and optimizes a model. `threads` > 1 gives the plan its own pool for intra-op parallelism.
pub fn load(blob: &[u8], threads: usize) -> Result<Loaded, String> {
    catch_unwind(|| load_inner(blob, threads))
        .unwrap_or_else(|_| Err("the ONNX backend failed while loading the model".into()))
}

fn load_inner(blob: &[u8], threads: usize) -> Result<Loaded, String> {
    let model = tract_onnx::onnx()
        .model_for_read(&mut &blob[..])
        .map_err(|e| reason(&e))?;
    let input_names: Vec<String> = model
        .input_outlets()
        .map_err(|e| reason(&e))?
        .iter()
        .map(|o| model.node(o.node).name.clone())
        .collect();
    let output_names: Vec<String> = model
        .output_outlets()
        .map_err(|e| reason(&e))?
        .iter()
        .map(|o| {
            model
                .outlet_label(*o)
                .map(str::to_string)
                .unwrap_or_else(|| model.node(o.node).name.clone())
        })
        .collect();
    let decluttered = model
        .into_typed()
        .and_then(|m| m.into_decluttered())
        .map_err(|e| reason(&e))?;
    let mut symbols = Vec::new();
    for i in 0..decluttered.inputs.len() {
        let fact = decluttered.input_fact(i).map_err(|e| reason(&e))?;
        for (d, dim) in fact.shape.iter().enumerate() {
            if let TDim::Sym(sym) = dim {
                symbols.push((i, d, sym.clone()));
            }
        }
    }
    let generic = (!symbols.is_empty()).then(|| decluttered.clone());
    let typed = decluttered.into_optimized().map_err(|e| reason(&e))?;
    let inputs = input_names
        .into_iter()
        .enumerate()
        .map(|(i, n)| Ok(spec(n, typed.input_fact(i)?)))
        .collect::<TractResult<Vec<_>>>()
        .map_err(|e| reason(&e))?;
    let outputs = output_names
        .into_iter()
        .enumerate()
        .map(|(i, n)| Ok(spec(n, typed.output_fact(i)?)))
        .collect::<TractResult<Vec<_>>>()
        .map_err(|e| reason(&e))?;
    let plan = runnable(typed, threads)?;
    let model = TractModel {
        plan,
        generic,
        symbols,
        concrete: Mutex::new(HashMap::new()),
        threads,
    };
    Ok((model, inputs, outputs))
}

fn runnable(typed: TypedModel, threads: usize) -> Result<Arc<TypedSimplePlan>, String> {
    let options = RunOptions {
        executor: (threads > 1).then(|| multithread::Executor::multithread(threads)),
        ..Default::default()
    };
    typed
        .into_runnable_with_options(&options)
        .map_err(|e| reason(&e))
}

impl TractModel {
    /// The plan for these inputs and the key of its run state: a plan specialized to the inputs' sizes of
    /// the symbolic dims (built on first use), or the generic one.
    fn plan_for(&self, inputs: &[&CellTensor]) -> (Arc<TypedSimplePlan>, Vec<usize>) {
        let Some(generic) = &self.generic else {
            return (self.plan.clone(), Vec::new());
        };
        let Some(values) = self
            .symbols
            .iter()
            .map(|(i, d, _)| inputs.get(*i).and_then(|t| t.shape.get(*d).copied()))
            .collect::<Option<Vec<usize>>>()
        else {
            return (self.plan.clone(), Vec::new());
        };
        if let Some(p) = self.concrete.lock().get(&values) {
            return (p.clone(), values);
        }
        if self.concrete.lock().len() >= MAX_CONCRETE {
            return (self.plan.clone(), Vec::new());
        }
        let mut subs = HashMap::new();
        for ((_, _, sym), v) in self.symbols.iter().zip(&values) {
            // One symbol used by several inputs must agree; if not, the generic plan reports the mismatch.
            let v = TDim::Val(*v as i64);
            if subs
                .insert(sym.clone(), v.clone())
                .is_some_and(|old| old != v)
            {
                return (self.plan.clone(), Vec::new());
            }
        }
        let built = catch_unwind(AssertUnwindSafe(|| {
            generic
                .set_symbols(&subs)
                .and_then(|m| m.into_optimized())
                .map_err(|e| reason(&e))
                .and_then(|m| runnable(m, self.threads))
        }));
        match built {
            Ok(Ok(plan)) => {
                self.concrete.lock().insert(values.clone(), plan.clone());
                (plan, values)
            }
            // A size tract cannot specialize still runs, on the generic plan.
            _ => (self.plan.clone(), Vec::new()),
        }
    }

    /// Runs the model on `inputs` with the worker's reusable state for model `id`. The run stops between
    /// two operators once it has taken `limit` (the `model-execution-timeout` kill switch; building a plan
    /// for a new size does not count).
    pub fn run(
        &self,
        id: u64,
        states: &mut States,
        inputs: &[&CellTensor],
        limit: Option<std::time::Duration>,
    ) -> Result<Vec<CellTensor>, String> {
        let values = inputs
            .iter()
            .map(|t| to_tract(t).map(TValue::from))
            .collect::<Result<TVec<_>, String>>()?;
        let (plan, sizes) = self.plan_for(inputs);
        let key = (id, sizes);
        if states.states.len() >= States::MAX && !states.states.contains_key(&key) {
            states.states.clear();
        }
        let state = match states.states.entry(key.clone()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(plan.spawn().map_err(|e| reason(&e))?)
            }
        };
        let deadline = limit.map(|l| Instant::now() + l);
        let run = catch_unwind(AssertUnwindSafe(|| {
            state.run_plan_with_eval(values, |ctx, op_state, node, inputs| {
                if deadline.is_some_and(|d| Instant::now() > d) {
                    return Err(format_err!(
                        "Exiting due to terminate flag being set to true (model-execution-timeout)"
                    ));
                }
                tract_eval(ctx, op_state, node, inputs)
            })
        }));
        let outputs = match run {
            Ok(Ok(outputs)) => outputs,
            Ok(Err(e)) => {
                states.forget(&key);
                return Err(reason(&e));
            }
            Err(_) => {
                states.forget(&key);
                return Err("the ONNX backend failed while running the model".into());
            }
        };
        outputs
            .into_iter()
            .map(|v| from_tract(v.into_tensor()))
            .collect()
    }
}

/// Our tensor as a tract tensor (one copy into tract's aligned storage).
fn to_tract(t: &CellTensor) -> Result<Tensor, String> {
    if t.dtype == DType::String {
        let items: Vec<String> = t
            .strings()
            .map(|s| String::from_utf8_lossy(&s).into_owned())
            .collect();
        let arr = tract_ndarray::ArrayD::from_shape_vec(t.shape.clone(), items)
            .map_err(|e| format!("bad STRING tensor: {e}"))?;
        return Ok(arr.into());
    }
    let mut out = Tensor::zero_dt(datum_of(t.dtype), &t.shape).map_err(|e| reason(&e))?;
    let dst = out.as_bytes_mut();
    if dst.len() != t.data.len() {
        return Err("tensor data does not match its shape".into());
    }
    // Both sides are little-endian row-major (tensorcell only targets little-endian machines).
    dst.copy_from_slice(&t.data);
    Ok(out)
}

/// A tract output as our tensor. Types without a tensorcell dtype are widened where that is lossless
/// (F16 -> FLOAT, U32 -> INT64) and refused otherwise.
fn from_tract(t: Tensor) -> Result<CellTensor, String> {
    let t = match t.datum_type() {
        DatumType::F16 => t
            .cast_to_dt(DatumType::F32)
            .map_err(|e| reason(&e))?
            .into_owned(),
        DatumType::U32 => t
            .cast_to_dt(DatumType::I64)
            .map_err(|e| reason(&e))?
            .into_owned(),
        _ => t,
    };
    let Some(dtype) = dtype_of(t.datum_type()) else {
        return Err(format!(
            "the model produced a {:?} tensor, which tensorcell cannot hold",
            t.datum_type()
        ));
    };
    let shape = t.shape().to_vec();
    let data = if dtype == DType::String {
        let view = t.to_plain_array_view::<String>().map_err(|e| reason(&e))?;
        let mut buf = Vec::new();
        for s in view.iter() {
            buf.extend_from_slice(s.as_bytes());
            buf.push(0);
        }
        Bytes::from(buf)
    } else {
        Bytes::copy_from_slice(t.as_bytes())
    };
    Ok(CellTensor { dtype, shape, data })
}
