//! AI.DAGEXECUTE: Runs a DAG of tensor, model and script ops in one round trip.

use super::dag::{dag, Variant};
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;

pub fn dagexecute(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    dag(ctx, args, Variant::Execute)
}
