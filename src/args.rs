//! The argument cursor every command parses with.
//!
//! Running out of arguments is its own case (`None` from [`Args::next`]) so optional trailing arguments read
//! naturally; [`Args::finish`] rejects leftovers. Commands never do index arithmetic on argv.

use bytes::Bytes;

use crate::error::{CmdError, CmdResult};
use crate::util::{eq_ic, lossy, parse_f64, parse_i64};

/// A command's arguments: argv[0] is the command name as the client typed it.
#[derive(Debug, Clone)]
pub struct Args {
    argv: Vec<Bytes>,
    pos: usize,
}

impl Args {
    /// Wraps a full argv (name first); the cursor starts at the first argument after the name.
    pub fn new(argv: Vec<Bytes>) -> Self {
        Args { argv, pos: 1 }
    }

    /// The command name exactly as the client sent it (arity errors quote it verbatim).
    pub fn name(&self) -> String {
        self.argv.first().map(|b| lossy(b)).unwrap_or_default()
    }

    /// Every argument, name included.
    pub fn argv(&self) -> &[Bytes] {
        &self.argv
    }

    /// Gives the argv back, name included.
    pub fn into_argv(self) -> Vec<Bytes> {
        self.argv
    }

    /// Arguments not consumed yet.
    pub fn remaining(&self) -> usize {
        self.argv.len().saturating_sub(self.pos)
    }

    /// The next argument without consuming it.
    pub fn peek(&self) -> Option<&Bytes> {
        self.argv.get(self.pos)
    }

    /// Consumes the next argument, if any.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Bytes> {
        let b = self.argv.get(self.pos).cloned();
        if b.is_some() {
            self.pos += 1;
        }
        b
    }

    /// Consumes the next argument; a missing one is a syntax error.
    pub fn bytes(&mut self) -> CmdResult<Bytes> {
        self.next().ok_or(CmdError::Syntax)
    }

    /// Consumes the next argument as UTF-8 text (lossy).
    pub fn text(&mut self) -> CmdResult<String> {
        self.bytes().map(|b| lossy(&b))
    }

    /// Consumes the next argument as an integer (`ERR value is not an integer or out of range`).
    pub fn int(&mut self) -> CmdResult<i64> {
        let b = self.bytes()?;
        parse_i64(&b).ok_or(CmdError::NotInteger)
    }

    /// Consumes the next argument as a double (`ERR value is not a valid float`).
    pub fn float(&mut self) -> CmdResult<f64> {
        let b = self.bytes()?;
        parse_f64(&b).ok_or(CmdError::NotFloat)
    }

    /// Consumes the next argument if it equals `kw`, case-insensitively.
    pub fn eat(&mut self, kw: &str) -> bool {
        match self.peek() {
            Some(b) if eq_ic(b, kw) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    /// Consumes and returns all remaining arguments.
    pub fn rest(&mut self) -> Vec<Bytes> {
        let out = self.argv[self.pos.min(self.argv.len())..].to_vec();
        self.pos = self.argv.len();
        out
    }

    /// The remaining arguments, without consuming them.
    pub fn rest_ref(&self) -> &[Bytes] {
        &self.argv[self.pos.min(self.argv.len())..]
    }

    /// Fails with a syntax error if any argument is left over.
    pub fn finish(&self) -> CmdResult<()> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(CmdError::Syntax)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Args {
        Args::new(
            v.iter()
                .map(|s| Bytes::copy_from_slice(s.as_bytes()))
                .collect(),
        )
    }

    #[test]
    fn cursor_reads_keywords_and_numbers() {
        let mut a = args(&["SET", "k", "v", "ex", "10"]);
        assert_eq!(a.name(), "SET");
        assert_eq!(a.bytes().unwrap(), "k");
        assert_eq!(a.bytes().unwrap(), "v");
        assert!(!a.eat("PX"));
        assert!(a.eat("EX"));
        assert_eq!(a.int().unwrap(), 10);
        assert!(a.next().is_none());
        a.finish().unwrap();
    }

    #[test]
    fn leftovers_and_missing_are_errors() {
        let mut a = args(&["X", "1", "junk"]);
        assert_eq!(a.int().unwrap(), 1);
        assert_eq!(a.finish(), Err(CmdError::Syntax));
        let mut b = args(&["X"]);
        assert_eq!(b.bytes(), Err(CmdError::Syntax));
        let mut c = args(&["X", "abc"]);
        assert_eq!(c.int(), Err(CmdError::NotInteger));
    }
}
