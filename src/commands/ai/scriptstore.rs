//! AI.SCRIPTSTORE: Stores a script, loading it in its first runner process.

use bytes::Bytes;

use super::store_script;
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::own;
use crate::runner::{Language, MAX_RUNNERS};
use crate::script::Parts;

/// `AI.SCRIPTSTORE key device [TAG t] [LANGUAGE PYTHON|R] [RUNNERS n] ENTRY_POINTS n fn... SOURCE source`,
/// with RedisAI's checks in its order. The device is not validated (as RedisAI); the source is Python unless
/// LANGUAGE says otherwise.
pub fn scriptstore(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = own(args.bytes()?);
    let device = own(args.bytes()?);
    let mut tag = Bytes::new();
    let mut language = Language::Python;
    let mut runners = 1;
    loop {
        if args.eat("TAG") {
            tag = own(args.next().unwrap_or_default());
        } else if args.eat("LANGUAGE") {
            let name = args.next().unwrap_or_default();
            language = Language::parse(&name).ok_or_else(|| {
                CmdError::err(format!(
                    "unknown script language '{}' (PYTHON or R)",
                    String::from_utf8_lossy(&name)
                ))
            })?;
        } else if args.eat("RUNNERS") {
            runners = parse_runners(args.next())?;
        } else {
            break;
        }
    }
    let missing_eps = || CmdError::err("Insufficient arguments, missing script entry points");
    if !args.eat("ENTRY_POINTS") {
        return Err(missing_eps());
    }
    let n = args
        .next()
        .as_deref()
        .and_then(crate::util::parse_i64)
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            CmdError::err("Non numeric entry points number provided to AI.SCRIPTSTORE command")
        })?;
    let mut entry_points = Vec::new();
    for _ in 0..n {
        match args.next() {
            Some(ep) if !ep.eq_ignore_ascii_case(b"SOURCE") => {
                entry_points.push(String::from_utf8_lossy(&ep).into_owned())
            }
            _ => return Err(missing_eps()),
        }
    }
    if !args.eat("SOURCE") {
        return Err(CmdError::err(
            "Insufficient arguments, missing script SOURCE",
        ));
    }
    let source = match args.next() {
        Some(s) if !s.is_empty() => own(s),
        _ => {
            return Err(CmdError::err(
                "Insufficient arguments, missing script SOURCE",
            ))
        }
    };
    store_script(
        ctx,
        Parts {
            key,
            device,
            tag,
            language,
            runners,
            entry_points,
            source,
        },
    )
}

/// A RUNNERS count: 1 to [`MAX_RUNNERS`].
pub fn parse_runners(arg: Option<Bytes>) -> CmdResult<usize> {
    arg.as_deref()
        .and_then(crate::util::parse_i64)
        .filter(|n| (1..=MAX_RUNNERS as i64).contains(n))
        .map(|n| n as usize)
        .ok_or_else(|| {
            CmdError::err(format!(
                "RUNNERS must be an integer between 1 and {MAX_RUNNERS}"
            ))
        })
}
