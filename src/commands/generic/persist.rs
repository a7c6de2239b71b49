//! PERSIST: Removes a key's expiry.

use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::config::notify;
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn persist(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let now = ctx.now;
    let has_ttl = ctx
        .db()
        .get(&key, now)
        .is_some_and(|e| e.expire_at.is_some());
    if !has_ttl {
        return Ok(Reply::Int(0).into());
    }
    ctx.db().set_expiry(&key, None, now);
    Ok(Outcome::new(Reply::Int(1))
        .effect(vec![word("PERSIST"), key.clone()])
        .event(notify::GENERIC, "persist", key))
}
