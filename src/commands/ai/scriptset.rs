//! AI.SCRIPTSET: Stores a script without entry points (deprecated RedisAI syntax).

use super::store_script;
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::own;

/// `AI.SCRIPTSET key device [TAG t] SOURCE source`: exactly 5 or 7 arguments. Its functions can then be called
/// with SCRIPTEXECUTE like any other.
pub fn scriptset(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let argc = args.argv().len();
    if argc != 5 && argc != 7 {
        return Err(CmdError::Arity(args.name()));
    }
    let key = own(args.bytes()?);
    let device = own(args.bytes()?);
    let tag = if args.eat("TAG") {
        own(args.bytes()?)
    } else {
        Default::default()
    };
    if !args.eat("SOURCE") {
        return Err(CmdError::err(
            "Insufficient arguments, missing script SOURCE",
        ));
    }
    let source = own(args.bytes()?);
    store_script(
        ctx,
        crate::script::Parts {
            key,
            device,
            tag,
            language: crate::runner::Language::Python,
            runners: 1,
            entry_points: Vec::new(),
            source,
        },
    )
}
