//! TIME: Returns the server time.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn time(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    let _ = ctx;
    let us = crate::util::now_us();
    Ok(Reply::Array(vec![
        Reply::text((us / 1_000_000).to_string()),
        Reply::text((us % 1_000_000).to_string()),
    ])
    .into())
}
