//! AI.MODELRUN: Runs a model (deprecated RedisAI syntax without counts).

use super::{input_tensor, model_at, parse_timeout, run_model};
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::own;
use crate::util::eq_ic;

/// `AI.MODELRUN key [TIMEOUT ms] INPUTS in... OUTPUTS out...`: everything between INPUTS and OUTPUTS is
/// an input, everything after OUTPUTS an output; otherwise as AI.MODELEXECUTE.
pub fn modelrun(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    ctx.refuse_in_exec()?;
    let model = model_at(ctx, &args.bytes()?)?;
    let timeout = if args.eat("TIMEOUT") {
        Some(parse_timeout(args.next())?)
    } else {
        None
    };
    if !args.eat("INPUTS") {
        return Err(CmdError::err("INPUTS not specified"));
    }
    let mut inputs = Vec::new();
    while let Some(a) = args.next() {
        if eq_ic(&a, "OUTPUTS") {
            break;
        }
        inputs.push(own(a));
    }
    let outputs: Vec<_> = args.rest().into_iter().map(own).collect();
    if inputs.len() != model.onnx.inputs.len() {
        return Err(CmdError::Raw(
            "Number of keys given as INPUTS here does not match model definition".into(),
        ));
    }
    if outputs.is_empty() {
        return Err(CmdError::err("OUTPUTS not specified"));
    }
    if outputs.len() != model.onnx.outputs.len() {
        return Err(CmdError::Raw(
            "Number of keys given as OUTPUTS here does not match model definition".into(),
        ));
    }
    let tensors = inputs
        .iter()
        .map(|k| input_tensor(ctx, k))
        .collect::<CmdResult<Vec<_>>>()?;
    run_model(ctx, model, tensors, outputs, timeout)
}
