//! TTL: Returns a key's time to live in seconds.

use super::ttl_generic;
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;

pub fn ttl(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    ttl_generic(ctx, args, 1000)
}
