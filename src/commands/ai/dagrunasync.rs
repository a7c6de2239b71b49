//! AI.DAGRUNASYNC: Starts a DAG in the background and returns its id at once (commands.md section 4).

use std::time::Duration;

use bytes::Bytes;

use super::dag::{dag_with, Variant};
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

/// Takes any AI.DAGRUN arguments. The run does not belong to the client: disconnecting does not cancel it.
/// When it ends, its status (`done`, `failed`, `timedout`, `cancelled`) is published on `__dag__:<id>`.
pub fn dagrunasync(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let ttl = Duration::from_secs(ctx.shared.config.read().settings.dag_result_ttl);
    let (id, run) = ctx.shared.async_dags.create(ttl);
    let outcome = match dag_with(ctx, args, Variant::Run, Some(run.clone())) {
        Ok(o) => o,
        Err(e) => {
            run.finish("failed", Reply::Error(e.clone()));
            return Err(e);
        }
    };
    let shared = ctx.shared.arc();
    let channel = Bytes::from(format!("__dag__:{id}"));
    if let Some(work) = outcome.deferred {
        work.start(Box::new(move |reply| {
            let status = match &reply {
                Reply::Simple("TIMEDOUT") => "timedout",
                Reply::Simple("CANCELLED") => "cancelled",
                Reply::Error(_) => "failed",
                Reply::Array(v) if v.iter().any(Reply::is_error) => "failed",
                _ => "done",
            };
            run.finish(status, reply);
            let status = Bytes::from_static(status.as_bytes());
            shared.node.publish(&shared, &channel, &status);
        }));
    }
    Ok(Reply::Bulk(Bytes::from(id)).into())
}
