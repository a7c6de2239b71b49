//! MONITOR: Streams every command the server processes.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn monitor(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    if !ctx.session.monitor {
        ctx.session.monitor = true;
        ctx.shared
            .monitors
            .lock()
            .push((ctx.session.id(), ctx.session.sink.clone()));
        ctx.shared
            .hot
            .monitors
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ctx.session.sync_info();
    }
    Ok(Reply::OK.into())
}
