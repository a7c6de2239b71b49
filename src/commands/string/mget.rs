//! MGET: Returns the values of several keys.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::keyspace::Value;
use crate::reply::Reply;

pub fn mget(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let now = ctx.now;
    let keys = args.rest();
    let db = ctx.db();
    let out = keys
        .iter()
        .map(|k| match db.get(k, now).map(|e| &e.value) {
            Some(Value::Str(s)) => Reply::Bulk(s.clone()),
            _ => Reply::Nil,
        })
        .collect();
    Ok(Reply::Array(out).into())
}
