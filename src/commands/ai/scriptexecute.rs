//! AI.SCRIPTEXECUTE: Runs a function of a stored Python script and stores its outputs.

use bytes::Bytes;

use super::{input_tensor, parse_timeout, run_script, script_at, ScriptCall};
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::own;
use crate::util::eq_ic;

/// `AI.SCRIPTEXECUTE key fn [KEYS n k...] [INPUTS n t...] [ARGS n a...] [OUTPUTS n o...] [TIMEOUT ms]` with
/// RedisAI's parsing rules and messages: KEYS or INPUTS first, each scope at most once, TIMEOUT last.
pub fn scriptexecute(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    ctx.refuse_in_exec()?;
    let key = own(args.bytes()?);
    let script = script_at(ctx, &key)?;
    let func = String::from_utf8_lossy(&args.bytes()?).into_owned();
    if !args
        .peek()
        .is_some_and(|a| eq_ic(a, "KEYS") || eq_ic(a, "INPUTS"))
    {
        return Err(CmdError::err(
            "KEYS or INPUTS scope must be provided first for AI.SCRIPTEXECUTE command",
        ));
    }
    let (mut keys, mut inputs, mut argv, mut outputs) = (None, None, None, None);
    let mut timeout = None;
    while let Some(tok) = args.next() {
        let scope = if eq_ic(&tok, "KEYS") {
            &mut keys
        } else if eq_ic(&tok, "INPUTS") {
            &mut inputs
        } else if eq_ic(&tok, "ARGS") {
            &mut argv
        } else if eq_ic(&tok, "OUTPUTS") {
            &mut outputs
        } else if eq_ic(&tok, "TIMEOUT") {
            let v = args.next().ok_or_else(|| {
                CmdError::err("No value provided for TIMEOUT in AI.SCRIPTEXECUTE")
            })?;
            timeout = Some(parse_timeout(Some(v))?);
            if args.remaining() > 0 {
                return Err(CmdError::err(
                    "Encountered problem parsing AI.SCRIPTEXECUTE",
                ));
            }
            break;
        } else {
            return Err(CmdError::err(format!(
                "Invalid AI.SCRIPTEXECUTE command. Unexpected argument: {}",
                String::from_utf8_lossy(&tok)
            )));
        };
        let name = String::from_utf8_lossy(&tok).to_ascii_uppercase();
        if scope.is_some() {
            return Err(CmdError::err(format!(
                "Already Encountered {name} scope in AI.SCRIPTEXECUTE command"
            )));
        }
        *scope = Some(counted(args, &name)?);
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
            keys: keys.unwrap_or_default(),
            args: argv.unwrap_or_default(),
            outputs: outputs.unwrap_or_default(),
            timeout,
            user: ctx.session.user.clone(),
        },
    )
}

/// `<count> item...` after a scope keyword, with RedisAI's messages (its ARGS count error says "keys").
fn counted(args: &mut Args, scope: &str) -> CmdResult<Vec<Bytes>> {
    let Some(n) = args.next() else {
        return Err(match scope {
            "KEYS" => CmdError::err("Missing arguments after KEYS keyword"),
            _ => CmdError::err("Invalid arguments provided to AI.SCRIPTEXECUTE"),
        });
    };
    let what = match scope {
        "INPUTS" => "inputs",
        "OUTPUTS" => "outputs",
        "ARGS" => "args",
        _ => "keys",
    };
    let n = match crate::util::parse_i64(&n) {
        Some(n) if n > 0 => n as usize,
        _ if scope == "KEYS" => {
            return Err(CmdError::err(
                "Invalid or negative value found in number of KEYS",
            ))
        }
        _ => {
            let label = if scope == "ARGS" { "keys" } else { what };
            return Err(CmdError::err(format!(
                "Invalid argument for {label} count in AI.SCRIPTEXECUTE"
            )));
        }
    };
    if args.remaining() < n {
        return Err(if scope == "KEYS" {
            CmdError::err(
                "Number of pre declared KEYS to be used in the command does not match the number of given arguments",
            )
        } else {
            CmdError::err(format!(
                "number of {what} to AI.SCRIPTEXECUTE command does not match the number of given arguments"
            ))
        });
    }
    Ok((0..n).filter_map(|_| args.next()).map(own).collect())
}
