//! SCAN: Iterates over the keys.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::glob;
use crate::keyspace::ValueKind;
use crate::reply::Reply;
use crate::util::eq_ic;

pub fn scan(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let cursor_arg = args.bytes()?;
    let cursor = strtoul(&cursor_arg).ok_or_else(|| CmdError::err("invalid cursor"))?;
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

/// The cursor as C's `strtoul` reads it, which is what Redis uses: an optional sign (a negative number wraps
/// around), no leading space, no trailing bytes, no overflow.
fn strtoul(b: &[u8]) -> Option<u64> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
    Some(if neg { v.wrapping_neg() } else { v })
}

#[cfg(test)]
mod tests {
    #[test]
    fn cursor_reads_like_strtoul() {
        assert_eq!(super::strtoul(b"0"), Some(0));
        assert_eq!(super::strtoul(b"+7"), Some(7));
        assert_eq!(super::strtoul(b"-1"), Some(u64::MAX));
        assert_eq!(super::strtoul(b" 1"), None);
        assert_eq!(super::strtoul(b"18446744073709551616"), None);
    }
}
