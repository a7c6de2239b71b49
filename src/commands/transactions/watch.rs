//! WATCH: Watches keys for optimistic locking.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;

pub fn watch(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    // WATCH runs (is not queued) inside MULTI, and its refusal there does not abort the transaction.
    if ctx.session.multi.is_some() {
        return Err(CmdError::err("WATCH inside MULTI is not allowed"));
    }
    let now = ctx.now;
    for key in args.rest() {
        if ctx.session.watches.iter().any(|w| w.key == key) {
            continue;
        }
        let mark = ctx.db().watch(key, now);
        ctx.session.watches.push(mark);
    }
    Ok(Reply::OK.into())
}
