//! AI.DAGRESULT: Returns an asynchronous DAG's reply, optionally waiting for it.

use std::sync::Arc;
use std::time::Duration;

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::exec::asyncdag::AsyncDag;
use crate::reply::Reply;

/// A run by id (`ERR no such DAG run` when unknown or expired).
pub(super) fn lookup(ctx: &Ctx, id: &str) -> CmdResult<Arc<AsyncDag>> {
    let ttl = Duration::from_secs(ctx.shared.config.read().settings.dag_result_ttl);
    ctx.shared
        .async_dags
        .get(id, ttl)
        .ok_or_else(|| CmdError::err("no such DAG run"))
}

/// `AI.DAGRESULT id [BLOCK ms]`: the reply AI.DAGRUN would have given, or nil if it has not finished; with
/// BLOCK, waits up to that long (without holding up the server) and answers as soon as it finishes.
pub fn dagresult(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let run = lookup(ctx, &args.text()?)?;
    let block = if args.eat("BLOCK") {
        let ms = args.int()?;
        if ms < 0 {
            return Err(CmdError::err("BLOCK must not be negative"));
        }
        Some(Duration::from_millis(ms as u64))
    } else {
        None
    };
    args.finish()?;
    if let Some(r) = run.result() {
        return Ok(r.into());
    }
    match block {
        None => Ok(Reply::Nil.into()),
        Some(d) => {
            ctx.refuse_in_exec()?;
            Ok(Outcome::later(move |done| run.wait(d, done)))
        }
    }
}
