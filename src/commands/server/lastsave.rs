//! LASTSAVE: Returns the Unix time of the last successful save.

use std::sync::atomic::Ordering::SeqCst;

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn lastsave(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    args.finish()?;
    Ok(Reply::Int(crate::persist::of(ctx.shared).last_save.load(SeqCst) as i64).into())
}
