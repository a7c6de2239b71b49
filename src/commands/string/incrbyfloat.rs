//! INCRBYFLOAT: Increments a floating point value.

use bytes::Bytes;

use super::get_str;
use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Value;
use crate::reply::Reply;
use crate::util::{fmt_f64, parse_f64};

pub fn incrbyfloat(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let delta = args.float()?;
    let cur = match get_str(ctx, &key)? {
        None => 0.0,
        Some(v) => parse_f64(&v).ok_or(CmdError::NotFloat)?,
    };
    let new = cur + delta;
    if !new.is_finite() {
        return Err(CmdError::err("increment would produce NaN or Infinity"));
    }
    let text = Bytes::from(fmt_f64(new));
    let now = ctx.now;
    ctx.db()
        .set_keep_ttl(key.clone(), Value::Str(text.clone()), now);
    // Floating point is propagated as the resulting value so replicas and AOF replay agree bit for bit.
    Ok(Outcome::new(Reply::Bulk(text.clone()))
        .effect(vec![word("SET"), key.clone(), text, word("KEEPTTL")])
        .event(notify::STRING, "incrbyfloat", key))
}
