//! AI.POOLGET: Returns one field of a pool.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;
use crate::state::text;

/// The field's JSON text, or nil when the pool or the field does not exist.
pub fn poolget(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let field = args.bytes()?;
    let pool = super::pool_at(ctx, &key)?;
    Ok(pool
        .as_ref()
        .and_then(|p| p.fields.get(&field[..]))
        .map_or(Reply::Nil, |v| Reply::Bulk(text(v)))
        .into())
}
