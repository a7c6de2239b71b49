//! REPLICAOF host port | NO ONE (and its old name SLAVEOF): follows a primary, or stops following.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;
use crate::util::{eq_ic, lossy};

pub fn replicaof(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let host = args.bytes()?;
    let port = args.bytes()?;
    args.finish()?;
    let shared = ctx.shared;
    if eq_ic(&host, "NO") && eq_ic(&port, "ONE") {
        if crate::repl::of(shared).is_replica() {
            crate::notice!(
                "MASTER MODE enabled (user request from '{}')",
                ctx.session.client.addr
            );
        }
        crate::repl::promote(shared, ctx.engine());
        return Ok(Reply::OK.into());
    }
    let port = crate::util::parse_i64(&port)
        .filter(|p| (0..=65535).contains(p))
        .ok_or_else(|| CmdError::err("Invalid master port"))?;
    let host = lossy(&host);
    let line = crate::repl::replicaof(shared, ctx.engine(), &host, port as u16);
    Ok(Reply::Status(line.into()).into())
}
