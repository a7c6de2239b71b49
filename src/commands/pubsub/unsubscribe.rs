//! UNSUBSCRIBE: Stops listening to channels.

use super::confirm;
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn unsubscribe(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let mut out = Vec::new();
    let mut names = args.rest();
    if names.is_empty() {
        names = ctx.session.channels.iter().cloned().collect();
        if names.is_empty() {
            confirm(ctx, &mut out, "unsubscribe", None);
        }
    }
    for ch in names {
        ctx.shared.pubsub.unsubscribe(&ch, ctx.session.id());
        ctx.session.channels.shift_remove(&ch);
        confirm(ctx, &mut out, "unsubscribe", Some(ch));
    }
    ctx.session.sync_info();
    Ok(Reply::Many(out).into())
}
