//! RESET: Resets the connection.

use crate::args::Args;
use crate::commands::{pubsub, Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;
use crate::resp::Protocol;

pub fn reset(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    ctx.clear_transaction();
    pubsub::unsubscribe_all(ctx);
    if ctx.session.monitor {
        let id = ctx.session.id();
        ctx.shared.monitors.lock().retain(|(m, _)| *m != id);
        ctx.shared
            .hot
            .monitors
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        ctx.session.monitor = false;
    }
    ctx.session.protocol = Protocol::Resp2;
    ctx.session.authenticated = ctx.shared.config.read().settings.requirepass.is_empty();
    ctx.session.client.info.lock().name = None;
    ctx.session.sync_info();
    Ok(Reply::Simple("RESET").into())
}
