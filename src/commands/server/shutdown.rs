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
            // Nothing to wait for or to fail on: there are no replicas or persistence yet.
        } else if eq_ic(&opt, "ABORT") {
            return Err(CmdError::err("No shutdown in progress."));
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if mode == ShutdownMode::Save {
        // Persistence arrives with its own issue; refusing is honest, pretending to save is not.
        return Err(CmdError::err("Errors trying to SHUTDOWN. Check logs."));
    }
    if !ctx.shared.request_shutdown(mode) {
        return Err(CmdError::err("Errors trying to SHUTDOWN. Check logs."));
    }
    // Redis closes the connection without a reply when shutdown goes ahead.
    ctx.session.suppress_reply = true;
    ctx.session.close_after_reply = true;
    Ok(Outcome::default())
}
