//! SUBSCRIBE: Listens to channels.

use super::confirm;
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn subscribe(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let mut out = Vec::new();
    for ch in args.rest() {
        ctx.shared
            .pubsub
            .subscribe(ch.clone(), ctx.session.id(), ctx.session.sink.clone());
        ctx.session.channels.insert(ch.clone());
        confirm(ctx, &mut out, "subscribe", Some(ch));
    }
    ctx.session.sync_info();
    Ok(Reply::Many(out).into())
}
