//! SAVE: Synchronously saves the keyspace to the snapshot file.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;

/// Blocks this client until the file is written (other clients are served meanwhile; the keyspace lock is
/// held only while the capture is taken).
pub fn save(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    args.finish()?;
    crate::persist::save(ctx.shared).map_err(persist_error)?;
    Ok(Reply::OK.into())
}

/// A persistence layer message (`ERR ...`) as a command error.
pub fn persist_error(e: String) -> CmdError {
    CmdError::err(e.strip_prefix("ERR ").unwrap_or(&e))
}
