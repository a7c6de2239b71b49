//! KEYS: Returns all keys matching a pattern.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::glob;
use crate::reply::Reply;

pub fn keys(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let pattern = args.bytes()?;
    let now = ctx.now;
    let all = pattern.as_ref() == b"*";
    let out = ctx
        .db()
        .iter(now)
        .filter(|(k, _)| all || glob::matches(&pattern, k, false))
        .map(|(k, _)| Reply::Bulk(k.clone()))
        .collect();
    Ok(Reply::Array(out).into())
}
