//! DECRBY: Decrements an integer value.

use bytes::Bytes;

use super::incr_by;
use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::error::{CmdError, CmdResult};

pub fn decrby(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let n = args.int()?;
    let neg = n
        .checked_neg()
        .ok_or_else(|| CmdError::err("decrement would overflow"))?;
    incr_by(
        ctx,
        key.clone(),
        neg,
        vec![word("DECRBY"), key, Bytes::from(n.to_string())],
    )
}
