//! PING: Returns the server's liveliness response.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;
use crate::resp::Protocol;

pub fn ping(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    if args.remaining() > 1 {
        return Err(CmdError::Arity("ping".into()));
    }
    let msg = args.next();
    // A RESP2 client in subscribed mode gets the pub/sub shape, as Redis does.
    if ctx.session.protocol == Protocol::Resp2 && ctx.session.subscriptions() > 0 {
        let m = msg.unwrap_or_default();
        return Ok(Reply::Array(vec![Reply::lit("pong"), Reply::Bulk(m)]).into());
    }
    Ok(match msg {
        Some(m) => Reply::Bulk(m),
        None => Reply::Simple("PONG"),
    }
    .into())
}
