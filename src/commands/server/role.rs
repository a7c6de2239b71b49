//! ROLE: Returns the replication role.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

/// `master`, the replication offset, and the connected replicas (none until replication exists: a
/// standalone server is a primary with no replicas).
pub fn role(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    args.finish()?;
    let offset = ctx.engine().effects.offset();
    Ok(Reply::Array(vec![
        Reply::lit("master"),
        Reply::Int(offset as i64),
        Reply::Array(Vec::new()),
    ])
    .into())
}
