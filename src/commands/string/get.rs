//! GET: Returns the string value of a key.

use super::get_str;
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;
use crate::stats::Stats;

pub fn get(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let v = get_str(ctx, &key)?;
    count_hit(ctx, v.is_some());
    Ok(v.map_or(Reply::Nil, Reply::Bulk).into())
}

fn count_hit(ctx: &Ctx, hit: bool) {
    let s = &ctx.shared.stats;
    Stats::add(
        if hit {
            &s.keyspace_hits
        } else {
            &s.keyspace_misses
        },
        1,
    );
}
