//! MONITOR: Streams every command the server processes.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;

pub fn monitor(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    // Inside EXEC the client expects one reply per command, so it cannot turn into a monitor (Redis's text).
    if ctx.in_exec {
        return Err(CmdError::err(
            "MONITOR isn't allowed for DENY BLOCKING client",
        ));
    }
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
