//! AI.SCRIPTRUN: Runs a script function (deprecated RedisAI syntax).

use super::{input_tensor, parse_timeout, run_script, script_at, ScriptCall};
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::own;
use crate::util::eq_ic;

/// `AI.SCRIPTRUN key fn [TIMEOUT ms] INPUTS in... [$ in...] OUTPUTS out...`: the inputs (with any `$`
/// variadic list appended) are the function's tensors; keys and args are empty.
pub fn scriptrun(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    ctx.refuse_in_exec()?;
    let key = own(args.bytes()?);
    let script = script_at(ctx, &key)?;
    let func = String::from_utf8_lossy(&args.bytes()?).into_owned();
    let (mut inputs, mut outputs, mut timeout) = (None::<Vec<_>>, None::<Vec<_>>, None);
    let mut variadic = false;
    let mut section = "";
    while let Some(tok) = args.next() {
        if eq_ic(&tok, "INPUTS") {
            if inputs.is_some() {
                return Err(CmdError::err(
                    "Already encountered an INPUTS section in SCRIPTRUN",
                ));
            }
            inputs = Some(Vec::new());
            section = "INPUTS";
        } else if eq_ic(&tok, "OUTPUTS") {
            if outputs.is_some() {
                return Err(CmdError::err(
                    "Already encountered an OUTPUTS keyword in SCRIPTRUN",
                ));
            }
            outputs = Some(Vec::new());
            section = "OUTPUTS";
        } else if eq_ic(&tok, "TIMEOUT") && section != "INPUTS" && section != "OUTPUTS" {
            if timeout.is_some() {
                return Err(CmdError::err(
                    "Already encountered an TIMEOUT section in SCRIPTRUN",
                ));
            }
            timeout = Some(parse_timeout(args.next())?);
        } else if tok.as_ref() == b"$" {
            if section != "INPUTS" {
                return Err(CmdError::err(
                    "Encountered a variable size list of tensors outside of input section",
                ));
            }
            if variadic {
                return Err(CmdError::err(
                    "Already encountered a variable size list of tensors",
                ));
            }
            variadic = true;
        } else if section == "INPUTS" {
            inputs.get_or_insert_with(Vec::new).push(own(tok));
        } else if section == "OUTPUTS" {
            outputs.get_or_insert_with(Vec::new).push(own(tok));
        } else {
            return Err(CmdError::err("Unrecongnized parameter to SCRIPTRUN"));
        }
    }
    let tensors = inputs
        .unwrap_or_default()
        .iter()
        .map(|k| input_tensor(ctx, k))
        .collect::<CmdResult<Vec<_>>>()?;
    run_script(
        ctx,
        ScriptCall {
            key,
            script,
            func,
            tensors,
            keys: Vec::new(),
            args: Vec::new(),
            outputs: outputs.unwrap_or_default(),
            timeout,
            user: ctx.session.user.clone(),
        },
    )
}
