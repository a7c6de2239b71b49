//! AI._MODELSCAN: Lists every model with its tag (experimental in RedisAI).

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::keyspace::{Store, Value};
use crate::reply::Reply;

/// `[[key, tag], ...]` for every model, in keyspace order.
pub fn modelscan(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    crate::warning!("AI._MODELSCAN is experimental and might be removed in future versions");
    let mut pairs = Vec::new();
    ctx.store().for_each(&mut |k, v| {
        if let Value::Model(m) = v {
            pairs.push(Reply::Array(vec![
                Reply::Bulk(k.clone()),
                Reply::Bulk(m.tag.clone()),
            ]));
        }
    });
    Ok(Reply::Array(pairs).into())
}
