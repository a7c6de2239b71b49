//! RANDOMKEY: Returns a random key.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn randomkey(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    let now = ctx.now;
    Ok(ctx
        .db()
        .random_key(now)
        .map_or(Reply::Nil, Reply::Bulk)
        .into())
}
