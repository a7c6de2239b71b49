//! AI.CELLGET: Returns a cell's JSON value.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;
use crate::state::text;

/// The cell's JSON text, or nil when the key does not exist.
pub fn cellget(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    Ok(match super::cell_at(ctx, &key)? {
        Some(c) => Reply::Bulk(text(&c.value)),
        None => Reply::Nil,
    }
    .into())
}
