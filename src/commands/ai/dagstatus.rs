//! AI.DAGSTATUS: Reports an asynchronous DAG's status.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

/// `queued`, `running`, `done`, `failed`, `cancelled` or `timedout`; `ERR no such DAG run` otherwise.
pub fn dagstatus(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let run = super::dagresult::lookup(ctx, &args.text()?)?;
    Ok(Reply::lit(run.status()).into())
}
