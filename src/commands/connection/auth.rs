//! AUTH: Authenticates the connection.

use bytes::Bytes;

use super::check_password;
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;

pub fn auth(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    if args.remaining() > 2 {
        return Err(CmdError::Syntax);
    }
    let first = args.bytes()?;
    let (user, pass) = match args.next() {
        Some(p) => (first, p),
        None => (Bytes::from_static(b"default"), first),
    };
    if ctx.shared.config.read().settings.requirepass.is_empty() && args.argv().len() == 2 {
        return Err(CmdError::err(
            "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    check_password(ctx, &user, &pass)?;
    ctx.session.authenticated = true;
    Ok(Reply::OK.into())
}
