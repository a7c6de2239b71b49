//! EXPIREAT: Sets a key's expiry as a Unix time in seconds.

use super::expire_generic;
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;

pub fn expireat(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    expire_generic(ctx, args, 1000, false, "expireat")
}
