//! REPLCONF option value ...: what a replica tells its primary during the handshake (listening-port,
//! capabilities). Acknowledgements (`REPLCONF ACK`) arrive on a feed's connection and are read there; one
//! sent on an ordinary connection is ignored without a reply, as Redis does.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;
use crate::util::{eq_ic, lossy};

pub fn replconf(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let pairs = args.rest();
    if !pairs.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    for kv in pairs.chunks(2) {
        let (opt, value) = (&kv[0], &kv[1]);
        if eq_ic(opt, "listening-port") {
            ctx.session.replica_port = crate::util::parse_i64(value)
                .and_then(|p| u16::try_from(p).ok())
                .ok_or(CmdError::NotInteger)?;
        } else if eq_ic(opt, "ack") || eq_ic(opt, "getack") {
            ctx.session.suppress_reply = true;
            return Ok(Reply::OK.into());
        } else if !["capa", "ip-address", "rdb-only", "rdb-filter-only"]
            .iter()
            .any(|o| eq_ic(opt, o))
        {
            return Err(CmdError::err(format!(
                "Unrecognized REPLCONF option: {}",
                lossy(opt)
            )));
        }
    }
    Ok(Reply::OK.into())
}
