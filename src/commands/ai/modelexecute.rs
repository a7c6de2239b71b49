//! AI.MODELEXECUTE: Runs a model on tensors and stores its outputs.

use super::{input_tensor, model_at, parse_timeout, run_model};
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::own;

/// `AI.MODELEXECUTE key INPUTS n in... OUTPUTS m out... [TIMEOUT ms]`, checked in RedisAI's order: model,
/// INPUTS, counts (against the model), OUTPUTS, TIMEOUT, then the input tensors (read now, under the lock).
pub fn modelexecute(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    ctx.refuse_in_exec()?;
    let model = model_at(ctx, &args.bytes()?)?;
    if !args.eat("INPUTS") {
        return Err(CmdError::err("INPUTS not specified"));
    }
    let inputs = keys(args, "input", model.onnx.inputs.len(), "INPUTS")?;
    if !args.eat("OUTPUTS") {
        return Err(CmdError::err("OUTPUTS not specified"));
    }
    let outputs = keys(args, "output", model.onnx.outputs.len(), "OUTPUTS")?;
    let mut timeout = None;
    while let Some(a) = args.next() {
        if a.eq_ignore_ascii_case(b"TIMEOUT") && timeout.is_none() {
            timeout = Some(parse_timeout(args.next())?);
        } else {
            return Err(CmdError::Raw(format!(
                "Invalid argument: {}",
                String::from_utf8_lossy(&a)
            )));
        }
    }
    let tensors = inputs
        .iter()
        .map(|k| input_tensor(ctx, k))
        .collect::<CmdResult<Vec<_>>>()?;
    run_model(ctx, model, tensors, outputs, timeout)
}

/// A counted key list (`<count> key...`) with RedisAI's errors, checked against the model's own count.
fn keys(args: &mut Args, what: &str, expected: usize, kw: &str) -> CmdResult<Vec<bytes::Bytes>> {
    let n = args
        .next()
        .as_deref()
        .and_then(crate::util::parse_i64)
        .ok_or_else(|| CmdError::err(format!("Invalid argument for {what}_count")))?;
    if n <= 0 {
        let cap = if what == "input" { "Input" } else { "Output" };
        return Err(CmdError::err(format!(
            "{cap} count must be a positive integer"
        )));
    }
    if n as usize != expected {
        return Err(CmdError::Raw(format!(
            "Number of keys given as {kw} here does not match model definition"
        )));
    }
    if args.remaining() < n as usize {
        return Err(CmdError::err(format!(
            "number of {what} keys to AI.MODELEXECUTE command does not match the number of given arguments"
        )));
    }
    Ok((0..n).filter_map(|_| args.next()).map(own).collect())
}
