//! QUIT: Closes the connection.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn quit(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    ctx.session.close_after_reply = true;
    Ok(Reply::OK.into())
}
