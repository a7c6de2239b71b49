//! DBSIZE: Returns the number of keys.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn dbsize(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    Ok(Reply::Int(ctx.db().len() as i64).into())
}
