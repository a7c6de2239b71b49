//! DECR: Decrements an integer value by one.

use super::incr_by;
use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::error::CmdResult;

pub fn decr(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    incr_by(ctx, key.clone(), -1, vec![word("DECRBY"), key, word("1")])
}
