//! DISCARD: Discards the queued commands.

use super::clear_transaction;
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;

pub fn discard(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    if ctx.session.multi.is_none() {
        return Err(CmdError::err("DISCARD without MULTI"));
    }
    clear_transaction(ctx);
    Ok(Reply::OK.into())
}
