//! AI._MODELSCAN: Lists every model with its tag (experimental in RedisAI).

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::keyspace::Value;

/// `[[key, tag], ...]` for every model, in key order.
pub fn modelscan(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    crate::warning!("AI._MODELSCAN is experimental and might be removed in future versions");
    Ok(super::tagged(ctx, |v| match v {
        Value::Model(m) => Some(&m.tag),
        _ => None,
    })
    .into())
}
