//! AI.POOLLEN: Counts a pool's fields.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

/// The number of fields (0 for a missing pool).
pub fn poollen(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let n = super::pool_at(ctx, &key)?.map_or(0, |p| p.fields.len());
    Ok(Reply::Int(n as i64).into())
}
