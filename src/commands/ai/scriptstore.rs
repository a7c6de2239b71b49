//! AI.SCRIPTSTORE: Stores a Python script, compiling it on a worker.

use super::store_script;
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::own;

/// `AI.SCRIPTSTORE key device [TAG t] ENTRY_POINTS n fn... SOURCE source`, with RedisAI's checks in its order.
/// The device is not validated (as RedisAI); the source is Python.
pub fn scriptstore(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = own(args.bytes()?);
    let device = own(args.bytes()?);
    let tag = if args.eat("TAG") {
        own(args.next().unwrap_or_default())
    } else {
        Default::default()
    };
    let missing_eps = || CmdError::err("Insufficient arguments, missing script entry points");
    if !args.eat("ENTRY_POINTS") {
        return Err(missing_eps());
    }
    let n = args
        .next()
        .as_deref()
        .and_then(crate::util::parse_i64)
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            CmdError::err("Non numeric entry points number provided to AI.SCRIPTSTORE command")
        })?;
    let mut entry_points = Vec::new();
    for _ in 0..n {
        match args.next() {
            Some(ep) if !ep.eq_ignore_ascii_case(b"SOURCE") => {
                entry_points.push(String::from_utf8_lossy(&ep).into_owned())
            }
            _ => return Err(missing_eps()),
        }
    }
    if !args.eat("SOURCE") {
        return Err(CmdError::err(
            "Insufficient arguments, missing script SOURCE",
        ));
    }
    let source = match args.next() {
        Some(s) if !s.is_empty() => own(s),
        _ => {
            return Err(CmdError::err(
                "Insufficient arguments, missing script SOURCE",
            ))
        }
    };
    store_script(ctx, key, device, tag, entry_points, source)
}
