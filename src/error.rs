//! Typed command errors and the one function that maps them to RESP error lines.
//!
//! Command bodies return `CmdError`; only [`CmdError::line`] knows how each becomes a `-PREFIX text` line, so
//! the wording Redis clients match on (`WRONGTYPE`, `NOAUTH`, `OOM`, RedisAI's un-prefixed messages) lives in
//! one place.

use thiserror::Error;

/// Everything a command can answer with instead of a normal reply.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CmdError {
    /// A plain `ERR <text>` reply.
    #[error("{0}")]
    Err(String),
    /// An error line sent verbatim, prefix included (RedisAI has messages without `ERR`).
    #[error("{0}")]
    Raw(String),
    #[error("syntax error")]
    Syntax,
    #[error("wrong number of arguments for '{0}' command")]
    Arity(String),
    #[error("unknown command")]
    UnknownCommand { name: String, args: Vec<String> },
    #[error("unknown subcommand")]
    UnknownSubcommand { sub: String, cmd: String },
    #[error("wrong type")]
    WrongType,
    #[error("value is not an integer or out of range")]
    NotInteger,
    #[error("value is not a valid float")]
    NotFloat,
    #[error("increment or decrement would overflow")]
    Overflow,
    #[error("no such key")]
    NoSuchKey,
    #[error("authentication required")]
    NoAuth,
    #[error("invalid password")]
    WrongPass,
    #[error("out of memory")]
    Oom,
    #[error("EXECABORT")]
    ExecAbort,
    #[error("invalid expire time in '{0}' command")]
    InvalidExpire(String),
}

impl CmdError {
    /// Shorthand for `ERR <text>`.
    pub fn err(text: impl Into<String>) -> Self {
        CmdError::Err(text.into())
    }

    /// The RESP error line, without the leading `-` and trailing CRLF.
    pub fn line(&self) -> String {
        let line = match self {
            CmdError::Err(t) => format!("ERR {t}"),
            CmdError::Raw(t) => t.clone(),
            CmdError::Syntax => "ERR syntax error".into(),
            CmdError::Arity(name) => format!("ERR wrong number of arguments for '{name}' command"),
            CmdError::UnknownCommand { name, args } => {
                let shown: String = args
                    .iter()
                    .take(128)
                    .map(|a| format!("'{}' ", truncate(a, 128)))
                    .collect();
                format!(
                    "ERR unknown command '{}', with args beginning with: {}",
                    truncate(name, 128),
                    shown
                )
            }
            CmdError::UnknownSubcommand { sub, cmd } => format!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                truncate(sub, 128),
                cmd.to_uppercase()
            ),
            CmdError::WrongType => {
                "WRONGTYPE Operation against a key holding the wrong kind of value".into()
            }
            CmdError::NotInteger => "ERR value is not an integer or out of range".into(),
            CmdError::NotFloat => "ERR value is not a valid float".into(),
            CmdError::Overflow => "ERR increment or decrement would overflow".into(),
            CmdError::NoSuchKey => "ERR no such key".into(),
            CmdError::NoAuth => "NOAUTH Authentication required.".into(),
            CmdError::WrongPass => {
                "WRONGPASS invalid username-password pair or user is disabled.".into()
            }
            CmdError::Oom => "OOM command not allowed when used memory > 'maxmemory'.".into(),
            CmdError::ExecAbort => {
                "EXECABORT Transaction discarded because of previous errors.".into()
            }
            CmdError::InvalidExpire(cmd) => format!("ERR invalid expire time in '{cmd}' command"),
        };
        // An error line cannot carry CR or LF; RedisAI replaces them with spaces (RAI_Chomp), as does Redis.
        if line.contains(['\r', '\n']) {
            line.replace(['\r', '\n'], " ")
        } else {
            line
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

pub type CmdResult<T> = Result<T, CmdError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_redis_prefixes() {
        assert_eq!(
            CmdError::WrongType.line(),
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        assert_eq!(
            CmdError::Arity("AI.TENSORSET".into()).line(),
            "ERR wrong number of arguments for 'AI.TENSORSET' command"
        );
        assert_eq!(
            CmdError::Raw("Invalid argument: x".into()).line(),
            "Invalid argument: x"
        );
        assert_eq!(CmdError::err("a\r\nb").line(), "ERR a  b");
    }

    #[test]
    fn unknown_command_lists_args() {
        let e = CmdError::UnknownCommand {
            name: "foo".into(),
            args: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            e.line(),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
    }
}
