//! Key commands (Redis's "generic" group), one per file, and the EXPIRE/TTL families' shared bodies.

mod del;
mod exists;
mod expire;
mod expireat;
mod keys;
mod persist;
mod pexpire;
mod pexpireat;
mod pttl;
mod randomkey;
mod rename;
mod scan;
mod ttl;
mod type_;

pub use del::del;
pub use exists::exists;
pub use expire::expire;
pub use expireat::expireat;
pub use keys::keys;
pub use persist::persist;
pub use pexpire::pexpire;
pub use pexpireat::pexpireat;
pub use pttl::pttl;
pub use randomkey::randomkey;
pub use rename::rename;
pub use scan::scan;
pub use ttl::ttl;
pub use type_::type_;

use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;
use crate::util::lossy;
use bytes::Bytes;

/// Shared body of EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX | XX | GT | LT.
pub(crate) fn expire_generic(
    ctx: &mut Ctx,
    args: &mut Args,
    unit_ms: i64,
    relative: bool,
    name: &str,
) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let n = args.int()?;
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    while let Some(opt) = args.next() {
        match opt.to_ascii_uppercase().as_slice() {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"GT" => gt = true,
            b"LT" => lt = true,
            _ => return Err(CmdError::err(format!("Unsupported option {}", lossy(&opt)))),
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::err(
            "NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(CmdError::err(
            "GT and LT options at the same time are not compatible",
        ));
    }
    let now = ctx.now as i64;
    let invalid = || CmdError::InvalidExpire(name.to_string());
    let at = n.checked_mul(unit_ms).ok_or_else(invalid)?;
    let at = if relative {
        at.checked_add(now).ok_or_else(invalid)?
    } else {
        at
    };
    let Some(current) = ctx.db().get(&key, now as u64).map(|e| e.expire_at) else {
        return Ok(Reply::Int(0).into());
    };
    // No TTL counts as infinite for GT/LT, as in Redis.
    let blocked = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|c| at <= c as i64))
        || (lt && current.is_some_and(|c| at >= c as i64));
    if blocked {
        return Ok(Reply::Int(0).into());
    }
    if at <= now {
        ctx.db().remove(&key);
        return Ok(Outcome::new(Reply::Int(1))
            .effect(vec![word("DEL"), key.clone()])
            .event(notify::GENERIC, "del", key));
    }
    ctx.db().set_expiry(&key, Some(at as u64), now as u64);
    Ok(Outcome::new(Reply::Int(1))
        .effect(vec![
            word("PEXPIREAT"),
            key.clone(),
            Bytes::from(at.to_string()),
        ])
        .event(notify::GENERIC, "expire", key))
}

pub(crate) fn ttl_generic(ctx: &mut Ctx, args: &mut Args, div: u64) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let now = ctx.now;
    let r = match ctx.db().get(&key, now) {
        None => -2,
        Some(e) => match e.expire_at {
            None => -1,
            Some(t) => {
                let left = t.saturating_sub(now);
                ((left + div / 2) / div) as i64
            }
        },
    };
    Ok(Reply::Int(r).into())
}
