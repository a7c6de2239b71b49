//! SHUTDOWN: Stops the server.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::shared::ShutdownMode;
use crate::util::eq_ic;

pub fn shutdown(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let mut mode = ShutdownMode::Default;
    while let Some(opt) = args.next() {
        if eq_ic(&opt, "NOSAVE") {
            mode = ShutdownMode::NoSave;
        } else if eq_ic(&opt, "SAVE") {
            mode = ShutdownMode::Save;
        } else if eq_ic(&opt, "NOW") || eq_ic(&opt, "FORCE") {
            // Nothing to wait for: there are no replicas yet. (FORCE would ignore a failed save; a failed
            // save is reported instead, so no data is dropped silently.)
        } else if eq_ic(&opt, "ABORT") {
            return Err(CmdError::err("No shutdown in progress."));
        } else {
            return Err(CmdError::Syntax);
        }
    }
    // Saving first, so a failed save keeps the server up and says so (Redis's prepareForShutdown); the
    // front end saves again after the last connection closed if anything was written meanwhile.
    crate::persist::prepare_shutdown(ctx.shared, mode)
        .map_err(|_| CmdError::err("Errors trying to SHUTDOWN. Check logs."))?;
    if !ctx.shared.request_shutdown(mode) {
        return Err(CmdError::err("Errors trying to SHUTDOWN. Check logs."));
    }
    // Redis closes the connection without a reply when shutdown goes ahead.
    ctx.session.suppress_reply = true;
    ctx.session.close_after_reply = true;
    Ok(Outcome::default())
}
