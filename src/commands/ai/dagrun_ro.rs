//! AI.DAGRUN_RO: Runs a read-only DAG (deprecated syntax).

use super::dag::{dag, Variant};
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;

pub fn dagrun_ro(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    dag(ctx, args, Variant::RunRo)
}
