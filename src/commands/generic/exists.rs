//! EXISTS: Counts how many of the keys exist.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn exists(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let now = ctx.now;
    let keys = args.rest();
    let db = ctx.db();
    Ok(Reply::Int(keys.iter().filter(|k| db.exists(k, now)).count() as i64).into())
}
