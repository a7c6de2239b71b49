//! ROLE: Returns the replication role.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;

/// `master` with its offset and online replicas, or `slave` with its primary and link state.
pub fn role(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    args.finish()?;
    let shared = ctx.shared;
    Ok(crate::repl::role(shared, ctx.engine()).into())
}
