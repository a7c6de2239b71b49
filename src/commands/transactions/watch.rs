//! WATCH: Watches keys for optimistic locking.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn watch(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
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
