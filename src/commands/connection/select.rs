//! SELECT: Changes the selected database (only 0 exists).

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;

pub fn select(_ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    match args.int()? {
        0 => Ok(Reply::OK.into()),
        _ => Err(CmdError::err("DB index is out of range")),
    }
}
