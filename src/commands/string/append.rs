//! APPEND: Appends to a string value.

use bytes::BytesMut;

use super::get_str;
use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Value;
use crate::reply::Reply;

pub fn append(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let (key, tail) = (args.bytes()?, args.bytes()?);
    let old = get_str(ctx, &key)?.unwrap_or_default();
    let max = ctx
        .shared
        .hot
        .proto_max_bulk_len
        .load(std::sync::atomic::Ordering::Relaxed);
    if old.len() + tail.len() > max {
        return Err(CmdError::err(
            "string exceeds maximum allowed size (proto-max-bulk-len)",
        ));
    }
    let mut v = BytesMut::with_capacity(old.len() + tail.len());
    v.extend_from_slice(&old);
    v.extend_from_slice(&tail);
    let len = v.len();
    let now = ctx.now;
    ctx.db()
        .set_keep_ttl(key.clone(), Value::Str(v.freeze()), now);
    Ok(Outcome::new(Reply::Int(len as i64))
        .effect(vec![word("APPEND"), key.clone(), tail])
        .event(notify::STRING, "append", key))
}
