//! AI.DAGCANCEL: Cancels an asynchronous DAG that has not committed yet.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

/// 1 if the run is stopped before it committed (nothing of it is written), else 0.
pub fn dagcancel(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let run = super::dagresult::lookup(ctx, &args.text()?)?;
    Ok(Reply::Int(i64::from(run.cancel())).into())
}
