//! DEL / UNLINK: Deletes keys.

use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::config::notify;
use crate::error::CmdResult;
use crate::reply::Reply;

/// DEL and UNLINK.
pub fn del(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let now = ctx.now;
    let mut out = Outcome::default();
    let mut removed = Vec::new();
    let mut deleted = vec![word("DEL")];
    for k in args.rest() {
        if ctx.db().exists(&k, now) {
            if let Some(e) = ctx.db().remove(&k) {
                removed.push(e);
            }
            deleted.push(k.clone());
            out = out.event(notify::GENERIC, "del", k);
        }
    }
    drop(removed);
    out.reply = Some(Reply::Int(deleted.len() as i64 - 1));
    if deleted.len() > 1 {
        out.effects.push(deleted);
    }
    Ok(out)
}
