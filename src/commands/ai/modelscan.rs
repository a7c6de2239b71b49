//! AI._MODELSCAN: Lists every model with its tag (experimental in RedisAI).

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::keyspace::{Store, Value};
use crate::reply::Reply;

/// `[[key, tag], ...]` for every model, in key order.
pub fn modelscan(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    crate::warning!("AI._MODELSCAN is experimental and might be removed in future versions");
    let mut pairs = Vec::new();
    ctx.store().for_each(&mut |k, v| {
        if let Value::Model(m) = v {
            pairs.push((k.clone(), m.tag.clone()));
        }
    });
    // In key order: the same in every front end (a Redis keyspace has no order of its own).
    pairs.sort();
    let rows = pairs
        .into_iter()
        .map(|(k, tag)| Reply::Array(vec![Reply::Bulk(k), Reply::Bulk(tag)]))
        .collect();
    Ok(Reply::Array(rows).into())
}
