//! EXEC: Executes the queued commands.

use crate::args::Args;
use crate::commands::{dispatch, Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;

pub fn exec(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    let Some(queue) = ctx.session.multi.take() else {
        return Err(CmdError::err("EXEC without MULTI"));
    };
    let failed = ctx.session.multi_failed;
    let watches = ctx.session.watches.clone();
    let now = ctx.now;
    let broken = watches.iter().any(|w| ctx.db().watch_broken(w, now));
    ctx.clear_transaction();
    if failed {
        return Err(CmdError::ExecAbort);
    }
    if broken {
        return Ok(Reply::NilArray.into());
    }
    ctx.in_exec = true;
    ctx.engine();
    let mut replies = Vec::with_capacity(queue.len());
    for (spec, args) in queue {
        replies.push(dispatch::call(ctx, spec, args).unwrap_or(Reply::Nil));
    }
    ctx.end_exec();
    Ok(Reply::Array(replies).into())
}
