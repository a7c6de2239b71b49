//! RedisAI's DAG commands in their `|>` form (AI.DAGEXECUTE, AI.DAGEXECUTE_RO, AI.DAGRUN, AI.DAGRUN_RO): the
//! whole pipeline is parsed and checked first (LOADed tensors, models and scripts read now, TENSORSET ops run
//! now, every input resolvable), then its ops run in order on one worker over a per-call arena of tensors
//! that no other client can see; the PERSIST keys are written together at the end, only if every op
//! succeeded, and propagated as `AI.TENSORSET ... BLOB` effects.
//!
//! The ops run as their data dependencies allow, independent ones in parallel (`dag_exec.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{dag_exec, dag_run};
use super::{input_tensor, model_at, parse_timeout, script_at};
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::exec::asyncdag::AsyncDag;
use crate::keyspace::own;
use crate::model::Model;
use crate::script::Script;
use crate::tensor::{parse_tensorset, Tensor, TensorFormat, TensorSetArgs};
use crate::util::eq_ic;

/// Which DAG command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Execute,
    ExecuteRo,
    Run,
    RunRo,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Execute => "AI.DAGEXECUTE",
            Variant::ExecuteRo => "AI.DAGEXECUTE_RO",
            Variant::Run => "AI.DAGRUN",
            Variant::RunRo => "AI.DAGRUN_RO",
        }
    }

    pub(super) fn read_only(self) -> bool {
        matches!(self, Variant::ExecuteRo | Variant::RunRo)
    }

    fn deprecated(self) -> bool {
        matches!(self, Variant::Run | Variant::RunRo)
    }
}

/// Whether the arguments of a deprecated DAG command (after its name) are the original `=>` form
/// (commands.md section 3): no top-level `|>` and no header keyword first.
pub(super) fn arrow_form(rest: &[Bytes]) -> bool {
    let header = ["LOAD", "PERSIST", "ROUTING", "TIMEOUT"];
    !rest.iter().any(|a| a.as_ref() == b"|>")
        && rest
            .first()
            .is_some_and(|f| !header.iter().any(|h| eq_ic(f, h)))
}

/// One parsed op.
pub(super) enum Op {
    /// Parsed (and checked) now, applied in order when the DAG runs; replies OK.
    Set {
        name: Bytes,
        tensor: Arc<Tensor>,
    },
    Get {
        name: Bytes,
        format: TensorFormat,
    },
    Model {
        model: Arc<Model>,
        inputs: Vec<Bytes>,
        outputs: Vec<Bytes>,
    },
    Script {
        script: Arc<Script>,
        func: String,
        keys: Vec<Bytes>,
        args: Vec<Bytes>,
        inputs: Vec<Bytes>,
        outputs: Vec<Bytes>,
    },
}

/// A counted list `<n> item...` after a DAG header keyword, with RedisAI's messages for `kw`.
fn header_list(args: &mut Args, kw: &str, what: &str) -> CmdResult<Vec<Bytes>> {
    let Some(n) = args.next() else {
        return Err(CmdError::err(format!(
            "missing arguments after {kw} keyword in DAG command"
        )));
    };
    let n = crate::util::parse_i64(&n)
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            CmdError::err(format!(
                "invalid or negative value found in number of keys to {kw}"
            ))
        })? as usize;
    if args.rest_ref().len() < n || args.rest_ref()[..n].iter().any(|a| a.as_ref() == b"|>") {
        return Err(CmdError::err(format!(
            "number of keys to {kw} {what} does not match the number of given arguments"
        )));
    }
    Ok((0..n).filter_map(|_| args.next()).map(own).collect())
}

/// Parses and runs a DAG command.
pub fn dag(ctx: &mut Ctx, args: &mut Args, variant: Variant) -> CmdResult<Outcome> {
    dag_with(ctx, args, variant, None)
}

/// Parses a DAG and returns the work that runs it; `control` makes it an asynchronous run (AI.DAGRUNASYNC):
/// it reports its progress there and stops if cancelled before it commits.
pub fn dag_with(
    ctx: &mut Ctx,
    args: &mut Args,
    variant: Variant,
    control: Option<Arc<AsyncDag>>,
) -> CmdResult<Outcome> {
    ctx.refuse_in_exec()?;
    if variant.deprecated() && arrow_form(args.rest_ref()) {
        return dag_run::arrow(ctx, args, variant, control);
    }
    let argc = args.argv().len();
    if variant.deprecated() && argc < 4 {
        return Err(CmdError::err(format!(
            "wrong number of arguments for '{}' command",
            variant.name()
        )));
    }
    if !variant.deprecated() && argc < 6 {
        return Err(CmdError::err(format!(
            "missing arguments for '{}' command",
            variant.name()
        )));
    }
    let (mut load, mut persist, mut routing, mut timeout) = (None, None, None, None);
    loop {
        let Some(tok) = args.next() else { break };
        if tok.as_ref() == b"|>" {
            break;
        }
        let dup = |seen: bool| {
            if seen {
                Err(CmdError::err(format!(
                    "Invalid DAG command. Unexpected argument:  {}",
                    String::from_utf8_lossy(&tok)
                )))
            } else {
                Ok(())
            }
        };
        if eq_ic(&tok, "LOAD") {
            dup(load.is_some())?;
            load = Some(header_list(args, "LOAD", "into DAG")?);
        } else if eq_ic(&tok, "PERSIST") {
            dup(persist.is_some())?;
            if variant.read_only() {
                return Err(CmdError::err(
                    "PERSIST cannot be specified in a read-only DAG",
                ));
            }
            let keys = header_list(args, "PERSIST", "after DAG execution")?;
            if keys.iter().collect::<HashSet<_>>().len() != keys.len() {
                return Err(CmdError::err("PERSIST keys must be unique"));
            }
            persist = Some(keys);
        } else if eq_ic(&tok, "ROUTING") && !variant.deprecated() {
            dup(routing.is_some())?;
            routing = Some(
                args.next()
                    .ok_or_else(|| CmdError::err("Missing ROUTING value"))?,
            );
        } else if eq_ic(&tok, "TIMEOUT") {
            dup(timeout.is_some())?;
            timeout = Some(parse_timeout(args.next())?);
        } else {
            dup(true)?;
        }
    }
    if !variant.deprecated() && load.is_none() && persist.is_none() && routing.is_none() {
        return Err(CmdError::err(
            "AI.DAGEXECUTE and AI.DAGEXECUTE_RO commands must contain at least one out of ROUTING, LOAD, PERSIST keywords",
        ));
    }
    // The arena starts with the LOADed tensors; ops add to it as they run.
    let mut arena: HashMap<Bytes, Arc<Tensor>> = HashMap::new();
    for key in load.iter().flatten() {
        arena.insert(key.clone(), input_tensor(ctx, key)?);
    }
    let mut defined: HashSet<Bytes> = arena.keys().cloned().collect();
    let rest = args.rest();
    let mut ops = Vec::new();
    for chunk in split_ops(&rest) {
        let op = parse_op(ctx, chunk, variant, &defined, false)?;
        match &op {
            Op::Model { outputs, .. } | Op::Script { outputs, .. } => {
                defined.extend(outputs.iter().cloned())
            }
            Op::Set { name, .. } => {
                defined.insert(name.clone());
            }
            Op::Get { .. } => {}
        }
        ops.push(op);
    }
    if ops.is_empty() {
        return Err(CmdError::err("DAG is empty"));
    }
    let persist = persist.unwrap_or_default();
    if persist.iter().any(|k| !defined.contains(k)) {
        return Err(CmdError::err("PERSIST key cannot be found in DAG"));
    }
    let shared = ctx.shared.arc();
    let timeout = timeout.map(|t: Duration| (Instant::now(), t));
    let user = ctx.session.user.clone();
    Ok(Outcome::later(move |done| {
        let job = dag_exec::DagJob {
            shared,
            ops,
            arena,
            persist,
            keyspace: false,
            control,
            timeout,
            user,
        };
        dag_exec::start(job, done);
    }))
}

/// Splits the ops on `|>` (the first `|>` is already consumed).
fn split_ops(rest: &[Bytes]) -> Vec<&[Bytes]> {
    rest.split(|a| a.as_ref() == b"|>")
        .filter(|c| !c.is_empty())
        .collect()
}

/// Parses one op. `arrow`: the `=>` form, where ops may omit `AI.`, both op generations are accepted, and
/// only `~volatile~` inputs must come from earlier ops (other names are keyspace keys).
pub(super) fn parse_op(
    ctx: &mut Ctx,
    chunk: &[Bytes],
    variant: Variant,
    defined: &HashSet<Bytes>,
    arrow: bool,
) -> CmdResult<Op> {
    let mut name = chunk[0].to_ascii_uppercase();
    if arrow && !name.starts_with(b"AI.") {
        name = [b"AI.".as_slice(), &name].concat();
    }
    // The cursor starts after the op's name, as for a command.
    let mut args = Args::new(chunk.to_vec());
    let arity = |n: usize| {
        if chunk.len() < n {
            Err(CmdError::Raw(format!(
                "wrong number of arguments for '{}' command",
                String::from_utf8_lossy(&chunk[0])
            )))
        } else {
            Ok(())
        }
    };
    let need = |names: &[Bytes]| {
        if names
            .iter()
            .all(|n| defined.contains(n) || (arrow && !dag_run::volatile(n)))
        {
            Ok(())
        } else {
            Err(CmdError::err("INPUT key cannot be found in DAG"))
        }
    };
    match name.as_slice() {
        b"AI.TENSORSET" => {
            arity(4)?;
            let key = own(args.bytes()?);
            let max_bytes = ctx
                .shared
                .hot
                .proto_max_bulk_len
                .load(std::sync::atomic::Ordering::Relaxed);
            let t = parse_tensorset(&mut args, TensorSetArgs { max_bytes })?;
            Ok(Op::Set {
                name: key,
                tensor: Arc::new(t),
            })
        }
        b"AI.TENSORGET" => {
            arity(2)?;
            let key = own(args.bytes()?);
            let format = TensorFormat::parse(&args.rest())?;
            need(std::slice::from_ref(&key))?;
            Ok(Op::Get { name: key, format })
        }
        b"AI.MODELEXECUTE" | b"AI.MODELRUN" => {
            let modern = name.as_slice() == b"AI.MODELEXECUTE";
            op_generation("MODEL", modern, variant, arrow, chunk)?;
            arity(if modern { 8 } else { 6 })?;
            let model = model_at(ctx, &args.bytes()?)?;
            let (inputs, outputs) = if modern {
                counted_io(&mut args)?
            } else {
                listed_io(&mut args)?
            };
            if inputs.len() != model.onnx.inputs.len() {
                return Err(CmdError::Raw(
                    "Number of keys given as INPUTS here does not match model definition".into(),
                ));
            }
            if outputs.len() != model.onnx.outputs.len() {
                return Err(CmdError::Raw(
                    "Number of keys given as OUTPUTS here does not match model definition".into(),
                ));
            }
            need(&inputs)?;
            Ok(Op::Model {
                model,
                inputs,
                outputs,
            })
        }
        b"AI.SCRIPTEXECUTE" | b"AI.SCRIPTRUN" => {
            let modern = name.as_slice() == b"AI.SCRIPTEXECUTE";
            // Before the generation checks, which it cannot overlap (DAGEXECUTE_RO is not deprecated), so
            // that it still comes before the TIMEOUT check.
            if modern && variant == Variant::ExecuteRo {
                return Err(CmdError::err(
                    "AI.SCRIPTEXECUTE command cannot be specified in a read-only DAG",
                ));
            }
            op_generation("SCRIPT", modern, variant, arrow, chunk)?;
            arity(3)?;
            let script = script_at(ctx, &args.bytes()?)?;
            let func = String::from_utf8_lossy(&args.bytes()?).into_owned();
            let (mut keys, mut argv, mut inputs, mut outputs) = (vec![], vec![], vec![], vec![]);
            if modern {
                while let Some(tok) = args.next() {
                    let list = if eq_ic(&tok, "KEYS") {
                        &mut keys
                    } else if eq_ic(&tok, "ARGS") {
                        &mut argv
                    } else if eq_ic(&tok, "INPUTS") {
                        &mut inputs
                    } else if eq_ic(&tok, "OUTPUTS") {
                        &mut outputs
                    } else {
                        return Err(CmdError::err(format!(
                            "Invalid AI.SCRIPTEXECUTE command. Unexpected argument: {}",
                            String::from_utf8_lossy(&tok)
                        )));
                    };
                    let n = args
                        .next()
                        .as_deref()
                        .and_then(crate::util::parse_i64)
                        .filter(|n| *n > 0)
                        .ok_or_else(|| {
                            CmdError::err("Invalid arguments provided to AI.SCRIPTEXECUTE")
                        })? as usize;
                    if args.remaining() < n {
                        return Err(CmdError::err(
                            "Invalid arguments provided to AI.SCRIPTEXECUTE",
                        ));
                    }
                    list.extend((0..n).filter_map(|_| args.next()).map(own));
                }
            } else {
                (inputs, outputs) = listed_io(&mut args)?;
                inputs.retain(|a| a.as_ref() != b"$");
            }
            need(&inputs)?;
            Ok(Op::Script {
                script,
                func,
                keys,
                args: argv,
                inputs,
                outputs,
            })
        }
        _ => Err(CmdError::Raw("Unsupported command within DAG".into())),
    }
}

/// RedisAI's rules on which generation of a model or script op (`kind` MODEL or SCRIPT) a DAG command takes:
/// AI.DAGEXECUTE the new ops, AI.DAGRUN the deprecated ones (the `=>` form both), and no TIMEOUT inside an op.
fn op_generation(
    kind: &str,
    modern: bool,
    variant: Variant,
    arrow: bool,
    chunk: &[Bytes],
) -> CmdResult<()> {
    if modern && variant.deprecated() && !arrow {
        return Err(CmdError::Raw(format!(
            "AI.{kind}EXECUTE cannot be used in a deprecated AI.DAGRUN command"
        )));
    }
    if !modern && !variant.deprecated() {
        return Err(CmdError::Raw(format!(
            "Deprecated AI.{kind}RUN cannot be used in AI.DAGEXECUTE command"
        )));
    }
    if chunk.iter().any(|a| eq_ic(a, "TIMEOUT")) {
        return Err(CmdError::err("TIMEOUT not allowed within a DAG command"));
    }
    Ok(())
}

/// `INPUTS n in... OUTPUTS m out...` (MODELEXECUTE inside a DAG).
fn counted_io(args: &mut Args) -> CmdResult<(Vec<Bytes>, Vec<Bytes>)> {
    let mut list = |kw: &str| -> CmdResult<Vec<Bytes>> {
        if !args.eat(kw) {
            return Err(CmdError::err(format!("{kw} not specified")));
        }
        let n = args
            .next()
            .as_deref()
            .and_then(crate::util::parse_i64)
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                CmdError::err(format!(
                    "Invalid argument for {}_count",
                    kw.to_ascii_lowercase().trim_end_matches('s')
                ))
            })? as usize;
        if args.remaining() < n {
            return Err(CmdError::err(format!(
                "number of {} keys to AI.MODELEXECUTE command does not match the number of given arguments",
                kw.to_ascii_lowercase().trim_end_matches('s')
            )));
        }
        Ok((0..n).filter_map(|_| args.next()).map(own).collect())
    };
    let inputs = list("INPUTS")?;
    let outputs = list("OUTPUTS")?;
    Ok((inputs, outputs))
}

/// `INPUTS in... OUTPUTS out...` without counts (the deprecated ops).
fn listed_io(args: &mut Args) -> CmdResult<(Vec<Bytes>, Vec<Bytes>)> {
    if !args.eat("INPUTS") {
        return Err(CmdError::err("INPUTS not specified"));
    }
    let mut inputs = Vec::new();
    while let Some(a) = args.next() {
        if eq_ic(&a, "OUTPUTS") {
            return Ok((inputs, args.rest().into_iter().map(own).collect()));
        }
        inputs.push(own(a));
    }
    Err(CmdError::err("OUTPUTS not specified"))
}
