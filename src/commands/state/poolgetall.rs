//! AI.POOLGETALL: Returns every field and value of a pool.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;
use crate::state::text;

/// A flat array `field, json, ...` in insertion order (empty for a missing pool), built without the lock.
pub fn poolgetall(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let pool = super::pool_at(ctx, &key)?;
    ctx.unlock();
    let mut out = Vec::new();
    for p in pool.iter() {
        for (k, v) in &p.fields {
            out.push(Reply::Bulk(k.clone()));
            out.push(Reply::Bulk(text(v)));
        }
    }
    Ok(Reply::Array(out).into())
}
