//! SLOWLOG: Reads or resets the slow log (GET, LEN, RESET).

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;
use crate::util::{eq_ic, lossy};

pub fn slowlog(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let sub = args.bytes()?;
    let reply = if eq_ic(&sub, "GET") {
        if args.remaining() > 1 {
            return Err(CmdError::SubcommandSyntax {
                sub: lossy(&sub),
                cmd: "SLOWLOG".into(),
            });
        }
        let count = match args.next() {
            None => 10,
            Some(n) => match crate::util::parse_i64(&n) {
                Some(-1) => usize::MAX,
                Some(n) if n >= 0 => n as usize,
                _ => return Err(CmdError::err("count should be greater than or equal to -1")),
            },
        };
        ctx.shared.slowlog.lock().reply(count)
    } else if eq_ic(&sub, "LEN") {
        Reply::Int(ctx.shared.slowlog.lock().len() as i64)
    } else if eq_ic(&sub, "RESET") {
        ctx.shared.slowlog.lock().reset();
        Reply::OK
    } else if eq_ic(&sub, "HELP") {
        Reply::help(&["SLOWLOG GET [<count>]", "SLOWLOG LEN", "SLOWLOG RESET"])
    } else {
        return Err(CmdError::UnknownSubcommand {
            sub: lossy(&sub),
            cmd: "SLOWLOG".into(),
        });
    };
    Ok(reply.into())
}
