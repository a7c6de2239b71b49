//! BGSAVE: Saves the keyspace to the snapshot file in the background.

use super::save::persist_error;
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;
use crate::util::eq_ic;

/// `BGSAVE [SCHEDULE]`: SCHEDULE waits for a running AOF rewrite instead of failing.
pub fn bgsave(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let schedule = match args.next() {
        None => false,
        Some(a) if eq_ic(&a, "SCHEDULE") => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    args.finish()?;
    if ctx.in_exec {
        // Inside a transaction the capture would hold half of it: the timer starts it after EXEC.
        crate::persist::of(ctx.shared)
            .save_scheduled
            .store(true, std::sync::atomic::Ordering::SeqCst);
        return Ok(Reply::Status("Background saving scheduled".into()).into());
    }
    let status =
        crate::persist::bgsave(ctx.shared, ctx.engine(), schedule).map_err(persist_error)?;
    Ok(Reply::Status(status.to_string()).into())
}
