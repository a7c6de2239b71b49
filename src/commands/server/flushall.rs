//! FLUSHALL / FLUSHDB: Removes all keys.

use bytes::Bytes;

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;
use crate::util::eq_ic;

/// FLUSHALL and FLUSHDB [SYNC|ASYNC]: there is one database, so both empty it. Values are freed after the
/// lock is released either way, so ASYNC and SYNC differ only in name.
pub fn flushall(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    if let Some(mode) = args.next() {
        if !(eq_ic(&mode, "SYNC") || eq_ic(&mode, "ASYNC")) {
            return Err(CmdError::Syntax);
        }
    }
    args.finish()?;
    ctx.db().clear();
    Ok(Outcome::new(Reply::OK)
        .effect(vec![Bytes::from_static(b"FLUSHALL")])
        .event(notify::GENERIC, "flushdb", Bytes::new()))
}
