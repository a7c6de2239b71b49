//! EXPIRE: Sets a key's time to live in seconds.

use super::expire_generic;
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;

pub fn expire(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    expire_generic(ctx, args, 1000, true, "expire")
}
