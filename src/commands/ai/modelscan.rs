//! AI._MODELSCAN: Lists every model with its tag (experimental in RedisAI).

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::keyspace::Value;
use crate::reply::Reply;

/// `[[key, tag], ...]` for every model, in keyspace order.
pub fn modelscan(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    crate::warning!("AI._MODELSCAN is experimental and might be removed in future versions");
    let now = ctx.now;
    let pairs = ctx
        .db()
        .iter(now)
        .filter_map(|(k, e)| match &e.value {
            Value::Model(m) => Some(Reply::Array(vec![
                Reply::Bulk(k.clone()),
                Reply::Bulk(m.tag.clone()),
            ])),
            _ => None,
        })
        .collect();
    Ok(Reply::Array(pairs).into())
}
