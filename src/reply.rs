//! The reply value every command returns. It knows nothing of sockets: the server encodes it as RESP2 or
//! RESP3 ([`crate::resp::encode`]), the Redis module will turn it into `ctx.reply_*` calls.

use bytes::Bytes;

use crate::error::CmdError;

/// A protocol-independent reply. RESP3-only shapes (maps, doubles, booleans, pushes) degrade to their RESP2
/// forms when the client speaks RESP2, exactly as Redis does.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+text`
    Simple(&'static str),
    /// `+text` built at run time (e.g. MONITOR lines, CLIENT INFO is a bulk though).
    Status(String),
    /// `-PREFIX text`
    Error(CmdError),
    Int(i64),
    Bulk(Bytes),
    /// Null bulk string: RESP2 `$-1`, RESP3 `_`.
    Nil,
    /// Null array: RESP2 `*-1`, RESP3 `_`.
    NilArray,
    Array(Vec<Reply>),
    /// RESP3 map; a flat array of key, value, ... in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 set; an array in RESP2.
    Set(Vec<Reply>),
    /// RESP3 double; a bulk string in RESP2.
    Double(f64),
    /// RESP3 boolean; integer 1/0 in RESP2.
    Bool(bool),
    /// RESP3 verbatim string (`txt`); a bulk string in RESP2.
    Verbatim(String),
    /// RESP3 push (pub/sub messages); an array in RESP2.
    Push(Vec<Reply>),
    /// Several frames answering one command (one SUBSCRIBE confirmation per channel). Top level only.
    Many(Vec<Reply>),
}

impl Reply {
    pub const OK: Reply = Reply::Simple("OK");

    /// A bulk string from anything byte-like.
    pub fn bulk(b: impl Into<Bytes>) -> Reply {
        Reply::Bulk(b.into())
    }

    /// A bulk string copied from text.
    pub fn text(s: impl AsRef<str>) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_ref().as_bytes()))
    }

    /// A bulk string from a static literal, without copying.
    pub fn lit(s: &'static str) -> Reply {
        Reply::Bulk(Bytes::from_static(s.as_bytes()))
    }

    /// An array of bulk strings.
    pub fn bulks<I, B>(items: I) -> Reply
    where
        I: IntoIterator<Item = B>,
        B: Into<Bytes>,
    {
        Reply::Array(items.into_iter().map(|b| Reply::Bulk(b.into())).collect())
    }

    /// A HELP reply: one status line per entry, as Redis sends them.
    pub fn help(lines: &[&str]) -> Reply {
        Reply::Array(
            lines
                .iter()
                .map(|s| Reply::Status((*s).to_string()))
                .collect(),
        )
    }

    /// Whether this reply is an error (for error statistics and EXECABORT bookkeeping).
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

impl From<CmdError> for Reply {
    fn from(e: CmdError) -> Self {
        Reply::Error(e)
    }
}
