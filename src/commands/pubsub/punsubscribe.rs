//! PUNSUBSCRIBE: Stops listening to patterns.

use super::confirm;
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn punsubscribe(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let mut out = Vec::new();
    let mut names = args.rest();
    if names.is_empty() {
        names = ctx.session.patterns.iter().cloned().collect();
        if names.is_empty() {
            confirm(ctx, &mut out, "punsubscribe", None);
        }
    }
    for p in names {
        ctx.shared.pubsub.punsubscribe(&p, ctx.session.id());
        ctx.session.patterns.shift_remove(&p);
        confirm(ctx, &mut out, "punsubscribe", Some(p));
    }
    ctx.session.sync_info();
    Ok(Reply::Many(out).into())
}
