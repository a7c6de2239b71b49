//! ECHO: Returns the given string.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn echo(_ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    Ok(Reply::Bulk(args.bytes()?).into())
}
