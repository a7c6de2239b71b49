//! AI.SCRIPTGET: Returns a script's metadata and source.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;
use crate::util::eq_ic;

/// `AI.SCRIPTGET key [META] [SOURCE]`: SOURCE alone gives the source; META alone `device, d, tag, t,
/// Entry Points, [fn...]`; neither or both add `source, src` (RedisAI's order and key names).
pub fn scriptget(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    if args.argv().len() > 4 {
        return Err(CmdError::Arity(args.name()));
    }
    let key = args.bytes()?;
    let script = super::script_at(ctx, &key)?;
    ctx.unlock();
    let (mut meta, mut source) = (false, false);
    for a in args.rest() {
        meta |= eq_ic(&a, "META");
        source |= eq_ic(&a, "SOURCE");
    }
    if source && !meta {
        return Ok(Reply::Bulk(script.source.clone()).into());
    }
    let mut out = vec![
        Reply::lit("device"),
        Reply::Bulk(script.device.clone()),
        Reply::lit("tag"),
        Reply::Bulk(script.tag.clone()),
        Reply::lit("Entry Points"),
        Reply::Array(script.entry_points.iter().map(Reply::text).collect()),
    ];
    if meta == source {
        out.push(Reply::lit("source"));
        out.push(Reply::Bulk(script.source.clone()));
    }
    Ok(Reply::Array(out).into())
}
