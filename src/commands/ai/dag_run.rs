//! The original `=>` form of AI.DAGRUN (commands.md section 3), whose `~volatile~` names live in the call's
//! arena while other names are keyspace keys, and the commit of a DAG's PERSIST keys.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;

use super::dag::{parse_op, Op, Variant};
use crate::args::Args;
use crate::commands::{Ctx, Effects, Event, Events, Outcome};
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::exec::asyncdag::AsyncDag;
use crate::keyspace::Value;
use crate::shared::Shared;
use crate::tensor::Tensor;

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
    let user = ctx.session.user.clone();
    Ok(Outcome::later(move |done| {
        let job = super::dag_exec::DagJob {
            shared,
            ops,
            arena: HashMap::new(),
            persist: writes,
            keyspace: true,
            control,
            timeout: None,
            user,
        };
        super::dag_exec::start(job, done);
    }))
}

/// Writes the persisted tensors together (none if any key holds another type), with their effects.
pub(super) fn persist_all(
    shared: &Shared,
    arena: &HashMap<Bytes, Arc<Tensor>>,
    persist: &[Bytes],
) -> CmdResult<()> {
    crate::commands::dispatch::commit(shared, Some(Err(CmdError::ReadOnly)), |db| {
        if persist
            .iter()
            .any(|k| db.get(k).is_some_and(|v| !matches!(v, Value::Tensor(_))))
        {
            return (Err(CmdError::WrongType), Effects::new(), Events::new());
        }
        let (mut effects, mut events) = (Effects::new(), Events::new());
        for key in persist {
            if let Some(t) = arena.get(key) {
                effects.push(super::tensorset::tensorset_effect(key.clone(), t));
                db.set(key.clone(), Value::Tensor(t.clone()));
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
