//! DISCARD: Discards the queued commands.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;

pub fn discard(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    if ctx.session.multi.is_none() {
        return Err(CmdError::err("DISCARD without MULTI"));
    }
    ctx.clear_transaction();
    Ok(Reply::OK.into())
}
