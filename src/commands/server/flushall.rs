//! FLUSHALL / FLUSHDB: Removes all keys.

use bytes::Bytes;

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;
use crate::util::eq_ic;

/// FLUSHALL and FLUSHDB [SYNC|ASYNC]: there is one database, so both empty it. The keyspace is emptied at
/// once; a large one's values (tensors can be gigabytes) are freed on a background thread, so neither mode
/// holds the engine lock while memory is returned. Redis raises no keyspace event for a flush. With save
/// points set, the (empty) snapshot file is written at once, as Redis does.
pub fn flushall(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    if let Some(mode) = args.next() {
        if !(eq_ic(&mode, "SYNC") || eq_ic(&mode, "ASYNC")) {
            return Err(CmdError::Syntax);
        }
    }
    args.finish()?;
    let bytes = ctx.db().used_memory();
    let old = ctx.db().clear();
    if old.len() > 1024 || bytes > 64 << 20 {
        std::thread::spawn(move || drop(old));
    } else {
        drop(old);
    }
    // Not while replaying the AOF: the flush is already on disk there.
    if !ctx.session.replaying && !ctx.shared.settings().save.is_empty() {
        // Redis saves the empty dataset at once when save points are set, so a restart cannot bring the
        // flushed keys back from an older snapshot file. The capture is empty: no need to leave the lock.
        let shared = ctx.shared;
        crate::persist::save_after_flush(shared, ctx.engine());
    }
    Ok(Outcome::new(Reply::OK).effect(vec![Bytes::from_static(b"FLUSHALL")]))
}
