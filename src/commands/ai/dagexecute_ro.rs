//! AI.DAGEXECUTE_RO: Runs a read-only DAG (no PERSIST, no scripts).

use super::dag::{dag, Variant};
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;

pub fn dagexecute_ro(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    dag(ctx, args, Variant::ExecuteRo)
}
