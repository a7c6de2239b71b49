//! Running a parsed DAG, and the original `=>` form of AI.DAGRUN (commands.md section 3), whose
//! `~volatile~` names live in the call's arena while other names are keyspace keys.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::dag::{parse_op, Op, Variant};
use crate::args::Args;
use crate::commands::{Ctx, Effects, Event, Events, Outcome};
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::exec::asyncdag::AsyncDag;
use crate::exec::{Job, WorkerCache};
use crate::keyspace::Value;
use crate::reply::Reply;
use crate::shared::Shared;
use crate::tensor::{tensor_reply, Tensor};

/// Whether a name is `~volatile~`.
pub(super) fn volatile(name: &[u8]) -> bool {
    name.len() >= 2 && name.starts_with(b"~") && name.ends_with(b"~")
}

/// `AI.DAGRUN op => op => ...`: every non-volatile name an op writes is written to the keyspace when the whole
/// DAG commits (all or nothing); a read-only DAG may not write one.
pub(super) fn arrow(
    ctx: &mut Ctx,
    args: &mut Args,
    variant: Variant,
    control: Option<Arc<AsyncDag>>,
) -> CmdResult<Outcome> {
    let rest = args.rest();
    let mut defined: HashSet<Bytes> = HashSet::new();
    let mut ops = Vec::new();
    let mut writes: Vec<Bytes> = Vec::new();
    for chunk in rest
        .split(|a| a.as_ref() == b"=>")
        .filter(|c| !c.is_empty())
    {
        let op = parse_op(ctx, chunk, variant, &defined, true)?;
        let outputs: Vec<Bytes> = match &op {
            Op::Model { outputs, .. } | Op::Script { outputs, .. } => outputs.clone(),
            Op::Set { name, .. } => vec![name.clone()],
            Op::Get { .. } => vec![],
        };
        for out in outputs {
            if !volatile(&out) {
                if variant.read_only() {
                    return Err(CmdError::err(format!(
                        "read-only DAG cannot write key '{}'",
                        String::from_utf8_lossy(&out)
                    )));
                }
                if !writes.contains(&out) {
                    writes.push(out.clone());
                }
            }
            defined.insert(out);
        }
        ops.push(op);
    }
    if ops.is_empty() {
        return Err(CmdError::err("DAG is empty"));
    }
    let shared = ctx.shared.arc();
    Ok(Outcome::later(move |done| {
        let pool = shared.clone();
        pool.pool.submit(
            "CPU",
            Job::Task(Box::new(move |cache| {
                let ctl = control.as_deref();
                done(run(&shared, cache, ops, HashMap::new(), writes, true, ctl))
            })),
        );
    }))
}

/// A tensor by name: from the arena, or (with `keyspace`, for a non-volatile name nothing in the DAG wrote
/// yet) from the keyspace, read now.
fn fetch(
    shared: &Shared,
    arena: &HashMap<Bytes, Arc<Tensor>>,
    name: &Bytes,
    keyspace: bool,
) -> Result<Option<Arc<Tensor>>, String> {
    if let Some(t) = arena.get(name) {
        return Ok(Some(t.clone()));
    }
    if !keyspace || volatile(name) {
        return Ok(None);
    }
    let now = crate::util::now_ms();
    match shared.engine.lock().db.get(name, now).map(|e| &e.value) {
        Some(Value::Tensor(t)) => Ok(Some(t.clone())),
        Some(_) => Err(CmdError::WrongType.line()),
        None => Err("ERR tensor key is empty or in a different shard".into()),
    }
}

/// Every input of an op, or the first that cannot be found.
fn inputs_of(
    shared: &Shared,
    arena: &HashMap<Bytes, Arc<Tensor>>,
    names: &[Bytes],
    keyspace: bool,
) -> Result<Vec<Arc<Tensor>>, String> {
    names
        .iter()
        .map(|n| {
            fetch(shared, arena, n, keyspace)?
                .ok_or_else(|| "ERR INPUT key cannot be found in DAG".to_string())
        })
        .collect()
}

/// Stores the outputs of an op in the arena.
fn keep(
    arena: &mut HashMap<Bytes, Arc<Tensor>>,
    names: Vec<Bytes>,
    tensors: Vec<Tensor>,
) -> Result<Reply, String> {
    if tensors.len() != names.len() {
        return Err(format!(
            "{} outputs were produced but OUTPUTS names {}",
            tensors.len(),
            names.len()
        ));
    }
    for (k, t) in names.into_iter().zip(tensors) {
        arena.insert(k, Arc::new(t));
    }
    Ok(Reply::OK)
}

/// Runs the ops in order over the arena; replies one entry per op (`NA` after an error), then writes the
/// `persist` names to the keyspace together, only if every op succeeded.
pub(super) fn run(
    shared: &Shared,
    cache: &mut WorkerCache,
    ops: Vec<Op>,
    mut arena: HashMap<Bytes, Arc<Tensor>>,
    persist: Vec<Bytes>,
    keyspace: bool,
    control: Option<&AsyncDag>,
) -> Reply {
    if control.is_some_and(|c| !c.start()) {
        return Reply::Simple("CANCELLED");
    }
    let mut replies = Vec::with_capacity(ops.len());
    let mut failed = false;
    let limit = Duration::from_millis(shared.pool.exec_timeout_ms);
    let script_limit = Duration::from_millis(shared.config.read().settings.script_time_limit);
    for op in ops {
        if failed || control.is_some_and(AsyncDag::cancelled) {
            replies.push(Reply::Simple("NA"));
            continue;
        }
        let result: Result<Reply, String> = match op {
            Op::Set { name, tensor } => {
                arena.insert(name, tensor);
                Ok(Reply::OK)
            }
            Op::Get { name, format } => fetch(shared, &arena, &name, keyspace).map(|t| match t {
                Some(t) => tensor_reply(&t, format),
                None => Reply::Simple("NA"),
            }),
            Op::Model {
                model,
                inputs,
                outputs,
            } => inputs_of(shared, &arena, &inputs, keyspace).and_then(|held| {
                let tensors: Vec<&Tensor> = held.iter().map(|t| t.as_ref()).collect();
                let start = Instant::now();
                let out = model.onnx.check_inputs(&tensors).and_then(|()| {
                    let limit = (!limit.is_zero()).then_some(limit);
                    model.onnx.run(model.id, &mut cache.onnx, &tensors, limit)
                });
                let samples = out
                    .as_ref()
                    .ok()
                    .and_then(|o| o.first())
                    .and_then(|t| t.shape.first().copied())
                    .unwrap_or(0) as u64;
                model
                    .stats
                    .record(start.elapsed().as_micros() as u64, samples, out.is_err());
                keep(&mut arena, outputs, out?)
            }),
            Op::Script {
                script,
                func,
                keys,
                args,
                inputs,
                outputs,
            } => inputs_of(shared, &arena, &inputs, keyspace).and_then(|held| {
                let tensors: Vec<&Tensor> = held.iter().map(|t| t.as_ref()).collect();
                let start = Instant::now();
                let out = script.call(&func, &tensors, &keys, &args, script_limit);
                script
                    .stats
                    .record(start.elapsed().as_micros() as u64, 0, out.is_err());
                keep(&mut arena, outputs, out?)
            }),
        };
        match result {
            Ok(r) => replies.push(r),
            Err(e) => {
                failed = true;
                replies.push(Reply::Error(super::error_of(e)));
            }
        }
    }
    if control.is_some_and(|c| !c.begin_commit()) {
        return Reply::Simple("CANCELLED");
    }
    if !failed && !persist.is_empty() {
        if let Err(e) = persist_all(shared, &arena, &persist) {
            replies.push(Reply::Error(e));
        }
    }
    Reply::Array(replies)
}

/// Writes the persisted tensors together (none if any key holds another type), with their effects.
fn persist_all(
    shared: &Shared,
    arena: &HashMap<Bytes, Arc<Tensor>>,
    persist: &[Bytes],
) -> CmdResult<()> {
    crate::commands::dispatch::commit(shared, |db, now| {
        if persist.iter().any(|k| {
            db.get(k, now)
                .is_some_and(|e| !matches!(e.value, Value::Tensor(_)))
        }) {
            return (Err(CmdError::WrongType), Effects::new(), Events::new());
        }
        let (mut effects, mut events) = (Effects::new(), Events::new());
        for key in persist {
            if let Some(t) = arena.get(key) {
                effects.push(super::tensorset::tensorset_effect(key.clone(), t));
                db.set(key.clone(), Value::Tensor(t.clone()), None);
                events.push(Event {
                    class: notify::MODULE,
                    name: "ai.tensorset",
                    key: key.clone(),
                });
            }
        }
        (Ok(()), effects, events)
    })
}
