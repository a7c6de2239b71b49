//! String commands: GET SET SETNX MGET MSET GETDEL APPEND STRLEN INCR INCRBY DECR DECRBY INCRBYFLOAT.

use bytes::{Bytes, BytesMut};

use super::{Ctx, Outcome};
use crate::args::Args;
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::keyspace::{own, Value};
use crate::reply::Reply;
use crate::stats::Stats;
use crate::util::{fmt_f64, parse_f64, parse_i64};

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

/// The string at `key`: `Ok(None)` if absent, WRONGTYPE if it holds another type.
fn get_str(ctx: &mut Ctx, key: &[u8]) -> CmdResult<Option<Bytes>> {
    let now = ctx.now;
    match ctx.db().get(key, now).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(_) => Err(CmdError::WrongType),
    }
}

fn count_hit(ctx: &Ctx, hit: bool) {
    let s = &ctx.shared.stats;
    Stats::add(
        if hit {
            &s.keyspace_hits
        } else {
            &s.keyspace_misses
        },
        1,
    );
}

pub fn get(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let v = get_str(ctx, &key)?;
    count_hit(ctx, v.is_some());
    Ok(v.map_or(Reply::Nil, Reply::Bulk).into())
}

#[derive(PartialEq)]
enum Cond {
    Always,
    Nx,
    Xx,
}

pub fn set(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let value = args.bytes()?;
    let (mut cond, mut get, mut keepttl, mut expire_at) = (Cond::Always, false, false, None);
    while let Some(opt) = args.next() {
        let o = opt.to_ascii_uppercase();
        match o.as_slice() {
            b"NX" if cond == Cond::Always => cond = Cond::Nx,
            b"XX" if cond == Cond::Always => cond = Cond::Xx,
            b"GET" if !get => get = true,
            b"KEEPTTL" if !keepttl && expire_at.is_none() => keepttl = true,
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if !keepttl && expire_at.is_none() => {
                let n = args.int()?;
                expire_at = Some(absolute_expiry(ctx.now, &o, n, "set")?);
            }
            _ => return Err(CmdError::Syntax),
        }
    }
    let old = if get { get_str(ctx, &key)? } else { None };
    let now = ctx.now;
    let blocked = match cond {
        Cond::Always => false,
        Cond::Nx => ctx.db().exists(&key, now),
        Cond::Xx => !ctx.db().exists(&key, now),
    };
    if blocked {
        return Ok(if get {
            old.map_or(Reply::Nil, Reply::Bulk)
        } else {
            Reply::Nil
        }
        .into());
    }
    let value = own(value);
    let db = ctx.db();
    if keepttl {
        db.set_keep_ttl(key.clone(), Value::Str(value.clone()), now);
    } else {
        db.set(key.clone(), Value::Str(value.clone()), expire_at);
    }
    let mut effect = vec![b("SET"), key.clone(), value];
    if let Some(t) = expire_at {
        effect.extend([b("PXAT"), Bytes::from(t.to_string())]);
    } else if keepttl {
        effect.push(b("KEEPTTL"));
    }
    let mut out = Outcome::new(if get {
        old.map_or(Reply::Nil, Reply::Bulk)
    } else {
        Reply::OK
    })
    .effect(effect)
    .event(notify::STRING, "set", key.clone());
    if expire_at.is_some() {
        out = out.event(notify::GENERIC, "expire", key);
    }
    Ok(out)
}

/// Turns EX/PX/EXAT/PXAT arguments into an absolute Unix time in milliseconds, with Redis's checks.
pub fn absolute_expiry(now: u64, unit: &[u8], n: i64, cmd: &str) -> CmdResult<u64> {
    let invalid = || CmdError::InvalidExpire(cmd.to_string());
    if n <= 0 {
        return Err(invalid());
    }
    let ms = match unit {
        b"EX" => n.checked_mul(1000).and_then(|v| v.checked_add(now as i64)),
        b"PX" => n.checked_add(now as i64),
        b"EXAT" => n.checked_mul(1000),
        _ => Some(n),
    };
    ms.map(|v| v as u64).ok_or_else(invalid)
}

pub fn setnx(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let (key, value) = (args.bytes()?, args.bytes()?);
    let now = ctx.now;
    if ctx.db().exists(&key, now) {
        return Ok(Reply::Int(0).into());
    }
    let value = own(value);
    ctx.db().set(key.clone(), Value::Str(value.clone()), None);
    Ok(Outcome::new(Reply::Int(1))
        .effect(vec![b("SET"), key.clone(), value])
        .event(notify::STRING, "set", key))
}

pub fn mget(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let now = ctx.now;
    let keys = args.rest();
    let db = ctx.db();
    let out = keys
        .iter()
        .map(|k| match db.get(k, now).map(|e| &e.value) {
            Some(Value::Str(s)) => Reply::Bulk(s.clone()),
            _ => Reply::Nil,
        })
        .collect();
    Ok(Reply::Array(out).into())
}

pub fn mset(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let pairs = args.rest();
    if pairs.len() % 2 != 0 {
        return Err(CmdError::Arity("mset".into()));
    }
    let mut effect = vec![b("MSET")];
    let mut out = Outcome::new(Reply::OK);
    for kv in pairs.chunks(2) {
        let (k, v) = (kv[0].clone(), own(kv[1].clone()));
        ctx.db().set(k.clone(), Value::Str(v.clone()), None);
        effect.extend([k.clone(), v]);
        out = out.event(notify::STRING, "set", k);
    }
    Ok(out.effect(effect))
}

pub fn getdel(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let Some(v) = get_str(ctx, &key)? else {
        return Ok(Reply::Nil.into());
    };
    ctx.db().remove(&key);
    Ok(Outcome::new(Reply::Bulk(v))
        .effect(vec![b("DEL"), key.clone()])
        .event(notify::GENERIC, "del", key))
}

pub fn append(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let (key, tail) = (args.bytes()?, args.bytes()?);
    let old = get_str(ctx, &key)?.unwrap_or_default();
    let max = ctx.shared.config.read().settings.proto_max_bulk_len;
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
        .effect(vec![b("APPEND"), key.clone(), tail])
        .event(notify::STRING, "append", key))
}

pub fn strlen(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    Ok(Reply::Int(get_str(ctx, &key)?.map_or(0, |v| v.len() as i64)).into())
}

fn incr_by(ctx: &mut Ctx, key: Bytes, delta: i64, argv: Vec<Bytes>) -> CmdResult<Outcome> {
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

pub fn incr(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    incr_by(ctx, key.clone(), 1, vec![b("INCRBY"), key, b("1")])
}

pub fn decr(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    incr_by(ctx, key.clone(), -1, vec![b("DECRBY"), key, b("1")])
}

pub fn incrby(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let n = args.int()?;
    incr_by(
        ctx,
        key.clone(),
        n,
        vec![b("INCRBY"), key, Bytes::from(n.to_string())],
    )
}

pub fn decrby(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let n = args.int()?;
    let neg = n
        .checked_neg()
        .ok_or_else(|| CmdError::err("decrement would overflow"))?;
    incr_by(
        ctx,
        key.clone(),
        neg,
        vec![b("DECRBY"), key, Bytes::from(n.to_string())],
    )
}

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
        .effect(vec![b("SET"), key.clone(), text, b("KEEPTTL")])
        .event(notify::STRING, "incrbyfloat", key))
}
