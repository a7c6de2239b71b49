//! Cells and pools (commands.md section 5): AI.CELLSET/CELLGET and AI.POOL*. Values are JSON; replies and
//! effects carry their canonical text.

mod cellget;
mod cellset;
mod pooldel;
mod poolget;
mod poolgetall;
mod poolkeys;
mod poollen;
mod poolset;

pub use cellget::cellget;
pub use cellset::cellset;
pub use pooldel::pooldel;
pub use poolget::poolget;
pub use poolgetall::poolgetall;
pub use poolkeys::poolkeys;
pub use poollen::poollen;
pub use poolset::poolset;

use std::sync::Arc;

use crate::commands::Ctx;
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Store;
use crate::keyspace::Value;
use crate::state::{Cell, Pool};

/// A JSON argument, or `ERR invalid JSON value`.
fn json_arg(b: &[u8]) -> CmdResult<serde_json::Value> {
    crate::state::parse(b).ok_or_else(|| CmdError::err("invalid JSON value"))
}

/// The cell at `key`, if any (WRONGTYPE for another kind of value).
fn cell_at(ctx: &mut Ctx, key: &[u8]) -> CmdResult<Option<Arc<Cell>>> {
    match ctx.store().get(key) {
        None => Ok(None),
        Some(Value::Cell(c)) => Ok(Some(c.clone())),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The pool at `key`, if any (WRONGTYPE for another kind of value).
fn pool_at(ctx: &mut Ctx, key: &[u8]) -> CmdResult<Option<Arc<Pool>>> {
    match ctx.store().get(key) {
        None => Ok(None),
        Some(Value::Pool(p)) => Ok(Some(p.clone())),
        Some(_) => Err(CmdError::WrongType),
    }
}
