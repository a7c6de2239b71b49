//! Key commands: DEL UNLINK EXISTS TYPE KEYS SCAN RENAME EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL PERSIST
//! RANDOMKEY.

use bytes::Bytes;

use super::{Ctx, Outcome};
use crate::args::Args;
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::glob;
use crate::keyspace::ValueKind;
use crate::reply::Reply;
use crate::util::{eq_ic, lossy};

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

/// DEL and UNLINK.
pub fn del(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let now = ctx.now;
    let mut out = Outcome::default();
    let mut removed = Vec::new();
    let mut deleted = vec![b("DEL")];
    for k in args.rest() {
        if ctx.db().exists(&k, now) {
            if let Some(e) = ctx.db().remove(&k) {
                removed.push(e);
            }
            deleted.push(k.clone());
            out = out.event(notify::GENERIC, "del", k);
        }
    }
    drop(removed);
    out.reply = Some(Reply::Int(deleted.len() as i64 - 1));
    if deleted.len() > 1 {
        out.effects.push(deleted);
    }
    Ok(out)
}

pub fn exists(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let now = ctx.now;
    let keys = args.rest();
    let db = ctx.db();
    Ok(Reply::Int(keys.iter().filter(|k| db.exists(k, now)).count() as i64).into())
}

pub fn type_(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let now = ctx.now;
    let name = ctx
        .db()
        .get(&key, now)
        .map_or("none", |e| e.value.kind().type_name());
    Ok(Reply::Simple(name).into())
}

pub fn keys(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let pattern = args.bytes()?;
    let now = ctx.now;
    let all = pattern.as_ref() == b"*";
    let out = ctx
        .db()
        .iter(now)
        .filter(|(k, _)| all || glob::matches(&pattern, k, false))
        .map(|(k, _)| Reply::Bulk(k.clone()))
        .collect();
    Ok(Reply::Array(out).into())
}

pub fn scan(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let cursor_arg = args.bytes()?;
    let cursor = std::str::from_utf8(&cursor_arg)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| CmdError::err("invalid cursor"))?;
    let (mut pattern, mut count, mut kind) = (None, 10usize, None);
    while let Some(opt) = args.next() {
        if eq_ic(&opt, "MATCH") {
            pattern = Some(args.bytes()?);
        } else if eq_ic(&opt, "COUNT") {
            let n = args.int()?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            count = n as usize;
        } else if eq_ic(&opt, "TYPE") {
            let t = args.bytes()?;
            // An unknown type name matches nothing, as in Redis 7.0.
            kind = Some(
                ValueKind::ALL
                    .into_iter()
                    .find(|k| eq_ic(&t, k.type_name())),
            );
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let now = ctx.now;
    let (next, keys) = ctx.db().scan(cursor, count, now, |k, e| {
        pattern.as_ref().is_none_or(|p| glob::matches(p, k, false))
            && kind.is_none_or(|want| want == Some(e.value.kind()))
    });
    Ok(Reply::Array(vec![Reply::text(next.to_string()), Reply::bulks(keys)]).into())
}

pub fn rename(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let (src, dst) = (args.bytes()?, args.bytes()?);
    let now = ctx.now;
    let Some(entry) = ctx.db().get(&src, now).cloned() else {
        return Err(CmdError::NoSuchKey);
    };
    if src != dst {
        let db = ctx.db();
        db.remove(&src);
        db.set(dst.clone(), entry.value, entry.expire_at);
    }
    Ok(Outcome::new(Reply::OK)
        .effect(vec![b("RENAME"), src.clone(), dst.clone()])
        .event(notify::GENERIC, "rename_from", src)
        .event(notify::GENERIC, "rename_to", dst))
}

/// Shared body of EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX | XX | GT | LT.
fn expire_generic(
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
            .effect(vec![b("DEL"), key.clone()])
            .event(notify::GENERIC, "del", key));
    }
    ctx.db().set_expiry(&key, Some(at as u64), now as u64);
    Ok(Outcome::new(Reply::Int(1))
        .effect(vec![
            b("PEXPIREAT"),
            key.clone(),
            Bytes::from(at.to_string()),
        ])
        .event(notify::GENERIC, "expire", key))
}

pub fn expire(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    expire_generic(ctx, args, 1000, true, "expire")
}

pub fn pexpire(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    expire_generic(ctx, args, 1, true, "pexpire")
}

pub fn expireat(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    expire_generic(ctx, args, 1000, false, "expireat")
}

pub fn pexpireat(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    expire_generic(ctx, args, 1, false, "pexpireat")
}

fn ttl_generic(ctx: &mut Ctx, args: &mut Args, div: u64) -> CmdResult<Outcome> {
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

pub fn ttl(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    ttl_generic(ctx, args, 1000)
}

pub fn pttl(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    ttl_generic(ctx, args, 1)
}

pub fn persist(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let now = ctx.now;
    let has_ttl = ctx
        .db()
        .get(&key, now)
        .is_some_and(|e| e.expire_at.is_some());
    if !has_ttl {
        return Ok(Reply::Int(0).into());
    }
    ctx.db().set_expiry(&key, None, now);
    Ok(Outcome::new(Reply::Int(1))
        .effect(vec![b("PERSIST"), key.clone()])
        .event(notify::GENERIC, "persist", key))
}

pub fn randomkey(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    let now = ctx.now;
    Ok(ctx
        .db()
        .random_key(now)
        .map_or(Reply::Nil, Reply::Bulk)
        .into())
}
