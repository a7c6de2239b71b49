//! GETDEL: Returns a key's string value and deletes it.

use super::get_str;
use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::config::notify;
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn getdel(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let Some(v) = get_str(ctx, &key)? else {
        return Ok(Reply::Nil.into());
    };
    ctx.db().remove(&key);
    Ok(Outcome::new(Reply::Bulk(v))
        .effect(vec![word("DEL"), key.clone()])
        .event(notify::GENERIC, "del", key))
}
