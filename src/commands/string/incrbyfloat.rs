//! INCRBYFLOAT: Increments a floating point value.

use bytes::Bytes;

use super::get_str;
use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Value;
use crate::reply::Reply;
use crate::util::parse_f64;

pub fn incrbyfloat(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    // Redis's order: the key's type, then its value, then the increment.
    let cur = match get_str(ctx, &key)? {
        None => 0.0,
        Some(v) => parse_f64(&v).ok_or(CmdError::NotFloat)?,
    };
    let delta = args.float()?;
    let new = cur + delta;
    if !new.is_finite() {
        return Err(CmdError::err("increment would produce NaN or Infinity"));
    }
    // Fixed point, never an exponent, as Redis's `%.17Lf` with trailing zeros trimmed. Redis computes in
    // long double; 64-bit doubles can differ in the 17th significant digit (docs/commands.md).
    let text = Bytes::from(format!("{new}"));
    let now = ctx.now;
    ctx.db()
        .set_keep_ttl(key.clone(), Value::Str(text.clone()), now);
    // Floating point is propagated as the resulting value so replicas and AOF replay agree bit for bit.
    Ok(Outcome::new(Reply::Bulk(text.clone()))
        .effect(vec![word("SET"), key.clone(), text, word("KEEPTTL")])
        .event(notify::STRING, "incrbyfloat", key))
}
