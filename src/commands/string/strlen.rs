//! STRLEN: Returns the length of a string value.

use super::get_str;
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn strlen(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    Ok(Reply::Int(get_str(ctx, &key)?.map_or(0, |v| v.len() as i64)).into())
}
