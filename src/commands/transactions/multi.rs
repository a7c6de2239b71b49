//! MULTI: Starts a transaction.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;

pub fn multi(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    if ctx.session.multi.is_some() {
        return Err(CmdError::err("MULTI calls can not be nested"));
    }
    ctx.session.multi = Some(Vec::new());
    ctx.session.multi_failed = false;
    ctx.session.sync_info();
    Ok(Reply::OK.into())
}
