//! String commands, one per file, and what they share (typed lookups, counters, expiry arguments).

mod append;
mod decr;
mod decrby;
mod get;
mod getdel;
mod incr;
mod incrby;
mod incrbyfloat;
mod mget;
mod mset;
mod set;
mod setnx;
mod strlen;

pub use append::append;
pub use decr::decr;
pub use decrby::decrby;
pub use get::get;
pub use getdel::getdel;
pub use incr::incr;
pub use incrby::incrby;
pub use incrbyfloat::incrbyfloat;
pub use mget::mget;
pub use mset::mset;
pub use set::set;
pub use setnx::setnx;
pub use strlen::strlen;

use crate::commands::{Ctx, Outcome};
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Value;
use crate::reply::Reply;
use crate::util::parse_i64;
use bytes::Bytes;

/// The string at `key`: `Ok(None)` if absent, WRONGTYPE if it holds another type.
pub(crate) fn get_str(ctx: &mut Ctx, key: &[u8]) -> CmdResult<Option<Bytes>> {
    let now = ctx.now;
    match ctx.db().get(key, now).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(_) => Err(CmdError::WrongType),
    }
}

pub(crate) fn incr_by(
    ctx: &mut Ctx,
    key: Bytes,
    delta: i64,
    argv: Vec<Bytes>,
) -> CmdResult<Outcome> {
    let cur = match get_str(ctx, &key)? {
        None => 0,
        Some(v) => parse_i64(&v).ok_or(CmdError::NotInteger)?,
    };
    let new = cur.checked_add(delta).ok_or(CmdError::Overflow)?;
    let now = ctx.now;
    ctx.db()
        .set_keep_ttl(key.clone(), Value::Str(Bytes::from(new.to_string())), now);
    Ok(Outcome::new(Reply::Int(new))
        .effect(argv)
        .event(notify::STRING, "incrby", key))
}
