//! Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET, CLIENT, COMMAND.

mod auth;
mod client;
mod command;
mod echo;
mod hello;
mod ping;
mod quit;
mod reset;
mod select;

pub use auth::auth;
pub use client::client;
pub use command::command;
pub use echo::echo;
pub use hello::hello;
pub use ping::ping;
pub use quit::quit;
pub use reset::reset;
pub use select::select;

use crate::commands::Ctx;
use crate::error::{CmdError, CmdResult};

pub(crate) fn check_password(ctx: &Ctx, user: &[u8], pass: &[u8]) -> CmdResult<()> {
    let required = ctx.shared.config.read().settings.requirepass.clone();
    // Without requirepass the default user is `nopass` in Redis: any password is accepted for it.
    if user != b"default" || (!required.is_empty() && required.as_bytes() != pass) {
        return Err(CmdError::WrongPass);
    }
    Ok(())
}
