//! PSYNC replid offset: a replica asks for the stream after `offset - 1`. The reply is `+CONTINUE <id>`
//! (the backlog has it) or `+FULLRESYNC <id> <offset>` (a snapshot comes first); either way the connection
//! then stops taking commands and becomes the replica's feed (see `crate::repl::feed`).

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn psync(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let replid = args.text()?;
    let offset = args.int()?;
    args.finish()?;
    let addr = &ctx.session.client.addr;
    // `ip:port` or `[v6]:port`: the replica's address without its outgoing port.
    let ip = addr
        .rsplit_once(':')
        .map_or(addr.as_str(), |(ip, _)| ip)
        .trim_matches(['[', ']'])
        .to_string();
    let port = ctx.session.replica_port;
    let shared = ctx.shared;
    let (line, handoff) = crate::repl::psync(shared, ctx.engine(), &replid, offset, ip, port)?;
    ctx.session.takeover = Some(Box::new(handoff));
    Ok(Reply::Status(line).into())
}
