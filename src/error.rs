//! Typed command errors and the one function that maps them to RESP error lines.
//!
//! Command bodies return `CmdError`; only [`CmdError::line`] knows how each becomes a `-PREFIX text` line, so
//! the wording Redis clients match on (`WRONGTYPE`, `NOAUTH`, `OOM`, RedisAI's un-prefixed messages) lives in
//! one place.

use thiserror::Error;

/// Which persistence failure refuses writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misconf {
    /// The last background save failed (`stop-writes-on-bgsave-error yes`, save points set).
    Snapshot,
    /// Writing to the AOF fails.
    Aof,
}

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
    /// A known subcommand with arguments its handler cannot take (Redis's addReplySubcommandSyntaxError).
    #[error("unknown subcommand or wrong number of arguments")]
    SubcommandSyntax { sub: String, cmd: String },
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
    /// Writes refused because the last persistence attempt failed (Redis's MISCONF).
    #[error("persistence is failing")]
    Misconf(Misconf),
    #[error("authentication required")]
    NoAuth,
    #[error("invalid password")]
    WrongPass,
    #[error("out of memory")]
    Oom,
    #[error("EXECABORT")]
    ExecAbort,
    /// EXEC itself was refused inside MULTI (arity): the transaction ends, naming why.
    #[error("EXECABORT {0}")]
    ExecAbortBecause(Box<CmdError>),
    #[error("invalid expire time in '{0}' command")]
    InvalidExpire(String),
    /// A write on a read-only replica.
    #[error("read-only replica")]
    ReadOnly,
    /// A replica whose link is down, with `replica-serve-stale-data no`.
    #[error("master link down")]
    MasterDown,
    /// Fewer good replicas than `min-replicas-to-write`.
    #[error("not enough good replicas")]
    NoReplicas,
    /// PSYNC to a replica that is not itself in sync.
    #[error("no master link")]
    NoMasterLink,
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
                // Redis prints each argument as a C string (`%.*s`: up to a NUL) and stops once the list
                // reaches 128 characters.
                let c_str = |a: &str| a.split('\0').next().unwrap_or("").to_string();
                let mut shown = String::new();
                for a in args {
                    let used = shown.chars().count();
                    if used >= 128 {
                        break;
                    }
                    shown.push_str(&format!("'{}' ", truncate(&c_str(a), 128 - used)));
                }
                format!(
                    "ERR unknown command '{}', with args beginning with: {}",
                    truncate(&c_str(name), 128),
                    shown
                )
            }
            CmdError::SubcommandSyntax { sub, cmd } => format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
                truncate(sub, 128),
                cmd.to_uppercase()
            ),
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
            CmdError::ReadOnly => "READONLY You can't write against a read only replica.".into(),
            CmdError::MasterDown => "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set \
                to 'no'."
                .into(),
            CmdError::NoReplicas => "NOREPLICAS Not enough good replicas to write.".into(),
            CmdError::NoMasterLink => "NOMASTERLINK Can't SYNC while not connected with my master".into(),
            CmdError::Misconf(Misconf::Snapshot) => "MISCONF tensorcell is configured to save snapshots, but it's \
                currently unable to persist to disk. Commands that may modify the data set are disabled, because \
                this instance is configured to report errors during writes if snapshotting fails \
                (stop-writes-on-bgsave-error option). Please check the logs for details about the error."
                .into(),
            CmdError::Misconf(Misconf::Aof) => {
                "MISCONF Errors writing to the AOF file: check the logs (writes resume once the AOF is writable)"
                    .into()
            }
            CmdError::ExecAbort => {
                "EXECABORT Transaction discarded because of previous errors.".into()
            }
            CmdError::ExecAbortBecause(why) => {
                let why = why.line();
                let why = why.strip_prefix("ERR ").unwrap_or(&why);
                format!("EXECABORT Transaction discarded because of: {why}")
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
        // C strings: a NUL ends an argument; the list stops at 128 characters.
        let e = CmdError::UnknownCommand {
            name: "f\0oo".into(),
            args: vec!["x\0y".into(), "z".repeat(200), "never".into()],
        };
        let line = e.line();
        assert!(line.starts_with("ERR unknown command 'f', with args beginning with: 'x' 'zzz"));
        assert!(!line.contains("never"), "{line}");
    }
}
