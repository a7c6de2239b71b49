//! TYPE: Returns the type of a key's value.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn type_(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let now = ctx.now;
    let name = ctx
        .db()
        .get(&key, now)
        .map_or("none", |e| e.value.kind().type_name());
    Ok(Reply::Simple(name).into())
}
