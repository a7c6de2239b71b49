//! AI._SCRIPTSCAN: Lists every script with its tag.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::keyspace::{Store, Value};
use crate::reply::Reply;

/// `[[key, tag], ...]` for every script, in keyspace order.
pub fn scriptscan(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    crate::warning!("AI._SCRIPTSCAN is experimental and might be removed in future versions");
    let mut pairs = Vec::new();
    ctx.store().for_each(&mut |k, v| {
        if let Value::Script(s) = v {
            pairs.push(Reply::Array(vec![
                Reply::Bulk(k.clone()),
                Reply::Bulk(s.tag.clone()),
            ]));
        }
    });
    Ok(Reply::Array(pairs).into())
}
