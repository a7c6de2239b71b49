//! INCRBY: Increments an integer value.

use bytes::Bytes;

use super::incr_by;
use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::error::CmdResult;

pub fn incrby(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let n = args.int()?;
    incr_by(
        ctx,
        key.clone(),
        n,
        vec![word("INCRBY"), key, Bytes::from(n.to_string())],
    )
}
