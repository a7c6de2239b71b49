//! AI.CELLSET: Sets a cell's JSON value.

use std::sync::Arc;

use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::config::notify;
use crate::error::CmdResult;
use crate::keyspace::Store;
use crate::keyspace::Value;
use crate::reply::Reply;
use crate::state::{text, Cell};

/// `AI.CELLSET cell json`: replaces the value (a cell keeps no TTL across sets, as SET); propagates the
/// canonical text.
pub fn cellset(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let value = super::json_arg(&args.bytes()?)?;
    super::cell_at(ctx, &key)?;
    let canonical = text(&value);
    ctx.store()
        .set(key.clone(), Value::Cell(Arc::new(Cell { value })));
    Ok(Outcome::new(Reply::OK)
        .effect(vec![word("AI.CELLSET"), key.clone(), canonical])
        .event(notify::MODULE, "ai.cellset", key))
}
