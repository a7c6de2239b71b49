//! AI.POOLKEYS: Lists a pool's fields.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

/// The fields in insertion order (an empty array for a missing pool).
pub fn poolkeys(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let pool = super::pool_at(ctx, &key)?;
    ctx.unlock();
    Ok(Reply::Array(
        pool.iter()
            .flat_map(|p| p.fields.keys())
            .map(|k| Reply::Bulk(k.clone()))
            .collect(),
    )
    .into())
}
