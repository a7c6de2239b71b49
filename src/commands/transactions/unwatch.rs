//! UNWATCH: Forgets all watched keys.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::reply::Reply;

pub fn unwatch(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    let watches = std::mem::take(&mut ctx.session.watches);
    let db = ctx.db();
    for w in &watches {
        db.unwatch(&w.key);
    }
    Ok(Reply::OK.into())
}
