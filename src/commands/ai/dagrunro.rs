//! AI.DAGRUNRO: The original name of AI.DAGRUN_RO (commands.md section 3), the same command.

use super::dag::{dag, Variant};
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;

pub fn dagrunro(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    dag(ctx, args, Variant::RunRo)
}
