//! RENAME: Renames a key.

use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;

pub fn rename(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let (src, dst) = (args.bytes()?, args.bytes()?);
    let now = ctx.now;
    let Some(entry) = ctx.db().get(&src, now).cloned() else {
        return Err(CmdError::NoSuchKey);
    };
    // Renaming a key to itself changes nothing, so Redis neither propagates nor notifies it.
    if src == dst {
        return Ok(Reply::OK.into());
    }
    let db = ctx.db();
    db.remove(&src);
    db.set(dst.clone(), entry.value, entry.expire_at);
    Ok(Outcome::new(Reply::OK)
        .effect(vec![word("RENAME"), src.clone(), dst.clone()])
        .event(notify::GENERIC, "rename_from", src)
        .event(notify::GENERIC, "rename_to", dst))
}
