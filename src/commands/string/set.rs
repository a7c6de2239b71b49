//! SET: Sets the string value of a key, with optional expiry and conditions.

use bytes::Bytes;

use super::get_str;
use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::keyspace::{own, Value};
use crate::reply::Reply;

pub fn set(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let value = args.bytes()?;
    // As Redis: a flag may repeat (the last expiry wins), conflicting flags are a syntax error, and the
    // expiry number is read only after every flag parsed.
    let (mut cond, mut get, mut keepttl) = (Cond::Always, false, false);
    let mut expiry: Option<(Vec<u8>, Bytes)> = None;
    while let Some(opt) = args.next() {
        let o = opt.to_ascii_uppercase();
        let unit_ok = |u: &[u8]| !keepttl && expiry.as_ref().is_none_or(|(e, _)| e == u);
        match o.as_slice() {
            b"NX" if cond != Cond::Xx => cond = Cond::Nx,
            b"XX" if cond != Cond::Nx => cond = Cond::Xx,
            b"GET" => get = true,
            b"KEEPTTL" if expiry.is_none() => keepttl = true,
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if unit_ok(&o) && args.remaining() > 0 => {
                expiry = Some((o, args.bytes()?));
            }
            _ => return Err(CmdError::Syntax),
        }
    }
    let expire_at = match expiry {
        Some((unit, n)) => {
            let n = crate::util::parse_i64(&n).ok_or(CmdError::NotInteger)?;
            Some(absolute_expiry(ctx.now, &unit, n, "set")?)
        }
        None => None,
    };
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
    let mut effect = vec![word("SET"), key.clone(), value];
    if let Some(t) = expire_at {
        effect.extend([word("PXAT"), Bytes::from(t.to_string())]);
    } else if keepttl {
        effect.push(word("KEEPTTL"));
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

#[derive(PartialEq)]
enum Cond {
    Always,
    Nx,
    Xx,
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
