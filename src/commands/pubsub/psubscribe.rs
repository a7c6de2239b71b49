//! PSUBSCRIBE: Listens to channels matching patterns.

use super::confirm;
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn psubscribe(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let mut out = Vec::new();
    for p in args.rest() {
        ctx.shared
            .pubsub
            .psubscribe(p.clone(), ctx.session.id(), ctx.session.sink.clone());
        ctx.session.patterns.insert(p.clone());
        confirm(ctx, &mut out, "psubscribe", Some(p));
    }
    ctx.session.sync_info();
    Ok(Reply::Many(out).into())
}
