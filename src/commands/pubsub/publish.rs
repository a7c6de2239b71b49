//! PUBLISH: Posts a message to a channel.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn publish(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let (channel, msg) = (args.bytes()?, args.bytes()?);
    Ok(Reply::Int(ctx.shared.pubsub.publish(&channel, &msg) as i64).into())
}
