//! AI._SCRIPTSCAN: Lists every script with its tag.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::keyspace::Value;
use crate::reply::Reply;

/// `[[key, tag], ...]` for every script, in keyspace order.
pub fn scriptscan(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    crate::warning!("AI._SCRIPTSCAN is experimental and might be removed in future versions");
    let now = ctx.now;
    let pairs = ctx
        .db()
        .iter(now)
        .filter_map(|(k, e)| match &e.value {
            Value::Script(s) => Some(Reply::Array(vec![
                Reply::Bulk(k.clone()),
                Reply::Bulk(s.tag.clone()),
            ])),
            _ => None,
        })
        .collect();
    Ok(Reply::Array(pairs).into())
}
