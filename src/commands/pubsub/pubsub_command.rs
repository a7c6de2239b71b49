//! PUBSUB: Inspects pub/sub state (CHANNELS, NUMSUB, NUMPAT).

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;
use crate::util::{eq_ic, lossy};

pub fn pubsub(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let sub = args.bytes()?;
    let reply = if eq_ic(&sub, "CHANNELS") {
        let pattern = args.next();
        Reply::bulks(ctx.shared.pubsub.channel_names(pattern.as_deref()))
    } else if eq_ic(&sub, "NUMSUB") {
        let mut out = Vec::new();
        for ch in args.rest() {
            let n = ctx.shared.pubsub.numsub(&ch);
            out.push(Reply::Bulk(ch));
            out.push(Reply::Int(n as i64));
        }
        Reply::Array(out)
    } else if eq_ic(&sub, "NUMPAT") {
        Reply::Int(ctx.shared.pubsub.numpat() as i64)
    } else if eq_ic(&sub, "HELP") {
        Reply::help(&[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
        ])
    } else {
        return Err(CmdError::UnknownSubcommand {
            sub: lossy(&sub),
            cmd: "PUBSUB".into(),
        });
    };
    Ok(reply.into())
}
