//! AI._SCRIPTSCAN: Lists every script with its tag.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::keyspace::Value;

/// `[[key, tag], ...]` for every script, in key order.
pub fn scriptscan(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    crate::warning!("AI._SCRIPTSCAN is experimental and might be removed in future versions");
    Ok(super::tagged(ctx, |v| match v {
        Value::Script(s) => Some(&s.tag),
        _ => None,
    })
    .into())
}
