//! BGREWRITEAOF: Rewrites the append-only file in the background.

use super::save::persist_error;
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

/// A new base snapshot is written from a capture while new writes go to a new increment; the manifest
/// switches to them when the base is complete.
pub fn bgrewriteaof(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    args.finish()?;
    if ctx.in_exec && crate::persist::of(ctx.shared).aof().is_some() {
        // Inside a transaction the switch to a new increment would split its MULTI ... EXEC across two
        // files: the timer starts the rewrite after EXEC.
        crate::persist::of(ctx.shared)
            .rewrite_scheduled
            .store(true, std::sync::atomic::Ordering::SeqCst);
        return Ok(Reply::Status("Background append only file rewriting scheduled".into()).into());
    }
    let status = crate::persist::bgrewriteaof(ctx.shared, ctx.engine()).map_err(persist_error)?;
    Ok(Reply::Status(status.to_string()).into())
}
