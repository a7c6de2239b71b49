//! The request parser: RESP multibulk (`*N\r\n$L\r\n...`) and inline commands (`PING\r\n`), incremental and
//! zero-copy, with Redis's limits and its exact `Protocol error: ...` texts.
//!
//! Why not `redis-protocol`'s decoder for requests: a request is only ever an array of bulk strings (Redis
//! refuses anything else with `expected '$', got 'x'`), the generic decoder re-parses a partial frame from its
//! start on every read (quadratic for a large VALUES list arriving in pieces) and recurses on nested arrays.
//! This parser keeps its place between reads, never recurses, and bounds every length before allocating.

use bytes::{Buf, Bytes, BytesMut};

/// Longest inline command or `*`/`$` header line Redis accepts (PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;
/// Bulk arguments at least this long are read into their own allocation (PROTO_MBULK_BIG_ARG), so the
/// keyspace can keep them without copying and without pinning a shared read buffer.
pub const BIG_ARG: usize = 32 * 1024;

/// A malformed request: the text after `-ERR `; the connection is closed after it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(what: impl Into<String>) -> Self {
        ProtocolError(format!("Protocol error: {}", what.into()))
    }
}

#[derive(Debug, Default)]
enum State {
    #[default]
    Idle,
    /// Inside a multibulk: arguments still expected, those read so far, and the pending bulk's length
    /// once its `$` header has been read.
    Multibulk {
        remaining: usize,
        args: Vec<Bytes>,
        bulk: Option<usize>,
        bytes: usize,
    },
}

/// Incremental request parser; one per connection.
#[derive(Debug)]
pub struct RequestParser {
    state: State,
    /// `proto-max-bulk-len`.
    pub max_bulk: usize,
    /// `client-query-buffer-limit`: the most one request's arguments may add up to.
    pub max_request: usize,
    /// Unauthenticated clients get Redis's tight limits (10 arguments, 16 KiB each) so a stranger cannot make
    /// the server allocate before AUTH.
    pub unauthenticated: bool,
}

impl RequestParser {
    pub fn new(max_bulk: usize, max_request: usize) -> Self {
        RequestParser {
            state: State::Idle,
            max_bulk,
            max_request,
            unauthenticated: false,
        }
    }

    /// The length of a big bulk argument being read, and how many of its bytes (plus CRLF) are still missing
    /// from `buf`; the connection uses it to read the argument into a buffer of its own.
    pub fn pending_big_arg(&self, buf: &BytesMut) -> Option<usize> {
        match &self.state {
            State::Multibulk {
                bulk: Some(len), ..
            } if *len >= BIG_ARG && buf.len() < len + 2 => Some(len + 2),
            _ => None,
        }
    }

    /// Whether a request has been started but not finished (for idle accounting and tests).
    pub fn in_request(&self) -> bool {
        matches!(self.state, State::Multibulk { .. })
    }

    /// Takes the next complete command out of `buf`. `Ok(None)`: more bytes are needed. Empty commands (`*0`,
    /// blank inline lines) are skipped as Redis does.
    pub fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            if matches!(self.state, State::Idle) {
                if buf.is_empty() {
                    return Ok(None);
                }
                if buf[0] != b'*' {
                    match self.inline(buf)? {
                        None => return Ok(None),
                        Some(argv) if argv.is_empty() => continue,
                        Some(argv) => return Ok(Some(argv)),
                    }
                }
                let Some(count) = self.header(buf, "mbulk count", |n, p| {
                    let limit = if p.unauthenticated {
                        10
                    } else {
                        i32::MAX as i64
                    };
                    if n > limit {
                        Err(ProtocolError::new("invalid multibulk length"))
                    } else {
                        Ok(n)
                    }
                })?
                else {
                    return Ok(None);
                };
                if count <= 0 {
                    continue;
                }
                let count = count as usize;
                self.state = State::Multibulk {
                    remaining: count,
                    args: Vec::with_capacity(count.min(1024)),
                    bulk: None,
                    bytes: 0,
                };
            }
            return self.multibulk(buf);
        }
    }

    /// Reads the rest of a multibulk request.
    fn multibulk(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            let (remaining, bulk) = match &self.state {
                State::Multibulk {
                    remaining, bulk, ..
                } => (*remaining, *bulk),
                State::Idle => unreachable!("multibulk() is only called inside a request"),
            };
            if remaining == 0 {
                let State::Multibulk { args, .. } = std::mem::take(&mut self.state) else {
                    unreachable!()
                };
                return Ok(Some(args));
            }
            match bulk {
                None => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    if buf[0] != b'$' {
                        let got = buf[0] as char;
                        return Err(ProtocolError::new(format!("expected '$', got '{got}'")));
                    }
                    let max_bulk = if self.unauthenticated {
                        16384
                    } else {
                        self.max_bulk.min(i64::MAX as usize) as i64
                    };
                    let Some(len) = self.header(buf, "bulk count", |n, _| {
                        if n < 0 || n > max_bulk {
                            Err(ProtocolError::new("invalid bulk length"))
                        } else {
                            Ok(n)
                        }
                    })?
                    else {
                        return Ok(None);
                    };
                    let len = len as usize;
                    if let State::Multibulk { bulk, bytes, .. } = &mut self.state {
                        *bytes += len;
                        if *bytes > self.max_request {
                            return Err(ProtocolError::new(
                                "request exceeds client-query-buffer-limit",
                            ));
                        }
                        *bulk = Some(len);
                    }
                }
                Some(len) => {
                    if buf.len() < len + 2 {
                        return Ok(None);
                    }
                    let arg = buf.split_to(len).freeze();
                    buf.advance(2);
                    if let State::Multibulk {
                        remaining,
                        args,
                        bulk,
                        ..
                    } = &mut self.state
                    {
                        args.push(arg);
                        *remaining -= 1;
                        *bulk = None;
                    }
                }
            }
        }
    }

    /// Parses a `*N\r\n` or `$N\r\n` header line, consuming it when complete.
    fn header(
        &self,
        buf: &mut BytesMut,
        what: &str,
        check: impl Fn(i64, &Self) -> Result<i64, ProtocolError>,
    ) -> Result<Option<i64>, ProtocolError> {
        let Some(cr) = memchr(b'\r', &buf[..buf.len().min(INLINE_MAX + 1)]) else {
            if buf.len() > INLINE_MAX {
                return Err(ProtocolError::new(format!("too big {what} string")));
            }
            return Ok(None);
        };
        if buf.len() < cr + 2 {
            return Ok(None);
        }
        let n = crate::util::parse_i64(&buf[1..cr]);
        let n = match (n, what) {
            (Some(n), _) => check(n, self)?,
            (None, "bulk count") => return Err(ProtocolError::new("invalid bulk length")),
            (None, _) => return Err(ProtocolError::new("invalid multibulk length")),
        };
        buf.advance(cr + 2);
        Ok(Some(n))
    }

    /// Parses one inline command line.
    fn inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        // As Redis: a complete line is taken whatever its length; only a line still without its newline
        // after INLINE_MAX bytes is refused.
        let Some(nl) = memchr(b'\n', buf) else {
            if buf.len() > INLINE_MAX {
                return Err(ProtocolError::new("too big inline request"));
            }
            return Ok(None);
        };
        let line = buf.split_to(nl + 1);
        let mut text = &line[..nl];
        if text.last() == Some(&b'\r') {
            text = &text[..text.len() - 1];
        }
        split_args(text)
            .map(Some)
            .ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Splits an inline command line the way Redis's `sdssplitargs` does: whitespace separates arguments,
/// "double quotes" take C escapes (`\n`, `\xHH`, ...), 'single quotes' take only `\'`; a closing quote must
/// be followed by whitespace or the end. `None` for unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Bytes>> {
    // Redis splits a C string: a NUL ends the line. (Treating NUL as a separator that is not whitespace
    // would never advance past it.)
    let line = &line[..line.iter().position(|&b| b == 0).unwrap_or(line.len())];
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Some(out);
        }
        let mut cur = Vec::new();
        let (mut in_dq, mut in_sq) = (false, false);
        loop {
            if in_dq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && is_hex(line[i + 2])
                    && is_hex(line[i + 3])
                {
                    cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
                i += 1;
            } else if in_sq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
                i += 1;
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    c if is_space(c) => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
                i += 1;
            }
        }
        out.push(Bytes::from(cur));
    }
}

/// C's `isspace`, which `sdssplitargs` uses (it includes vertical tab and form feed).
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex(c: u8) -> u8 {
    (c as char).to_digit(16).unwrap_or(0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<String>>, ProtocolError> {
        let mut p = RequestParser::new(512 << 20, 1 << 30);
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(argv) = p.next(&mut buf)? {
            out.push(
                argv.iter()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .collect(),
            );
        }
        Ok(out)
    }

    #[test]
    fn multibulk_and_inline() {
        let got =
            parse_all(b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\r\n*0\r\n\r\nset a 'b c'\n").unwrap();
        assert_eq!(
            got,
            vec![vec!["ECHO", "hi"], vec!["PING"], vec!["set", "a", "b c"]]
        );
    }

    #[test]
    fn byte_at_a_time_is_the_same() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n";
        let mut p = RequestParser::new(512 << 20, 1 << 30);
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in input.iter() {
            buf.extend_from_slice(&[b]);
            if let Some(argv) = p.next(&mut buf).unwrap() {
                got = Some(argv);
            }
        }
        assert_eq!(got.unwrap(), vec!["SET", "k", "value"]);
    }

    #[test]
    fn redis_error_texts() {
        let e = |i: &[u8]| parse_all(i).unwrap_err().0;
        assert_eq!(e(b"*1\r\n+OK\r\n"), "Protocol error: expected '$', got '+'");
        assert_eq!(e(b"*-5x\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(
            e(b"*3000000000\r\n"),
            "Protocol error: invalid multibulk length"
        );
        assert_eq!(e(b"*1\r\n$-1\r\n"), "Protocol error: invalid bulk length");
        assert_eq!(
            e(b"*1\r\n$999999999999\r\n"),
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            e(b"SET a \"b\n"),
            "Protocol error: unbalanced quotes in request"
        );
        assert_eq!(
            e(b"*1\r\n*1\r\n*1\r\n"),
            "Protocol error: expected '$', got '*'"
        );
        assert_eq!(
            e(&vec![b'a'; INLINE_MAX + 10]),
            "Protocol error: too big inline request"
        );
        let mut long = vec![b'a'; INLINE_MAX + 10];
        long.extend(b"\r\n");
        let mut p = RequestParser::new(1 << 20, 1 << 30);
        assert_eq!(
            p.next(&mut BytesMut::from(&long[..]))
                .unwrap()
                .unwrap()
                .len(),
            1
        );
        let mut big = b"*".to_vec();
        big.extend(vec![b'1'; INLINE_MAX + 10]);
        assert_eq!(e(&big), "Protocol error: too big mbulk count string");
    }

    #[test]
    fn split_args_escapes() {
        let v = split_args(br#"a "x\x41\n" 'it\'s' """#).unwrap();
        assert_eq!(
            v,
            vec![
                Bytes::from("a"),
                Bytes::from("xA\n"),
                Bytes::from("it's"),
                Bytes::from("")
            ]
        );
        assert!(split_args(br#""abc"def"#).is_none());
        assert_eq!(
            split_args(b"SET a\0junk b").unwrap(),
            vec![Bytes::from("SET"), Bytes::from("a")]
        );
        assert_eq!(
            split_args(b"a\x0bb\x0cc").unwrap().len(),
            3,
            "isspace: vertical tab and form feed separate"
        );
        assert!(split_args(b"'abc").is_none());
    }

    fn xorshift(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn random_input_terminates_without_panicking() {
        let mut seed = 0x2545_F491_4F6C_DD1D;
        for _ in 0..2000 {
            let len = (xorshift(&mut seed) % 200) as usize;
            let prefix: &[u8] = match xorshift(&mut seed) % 4 {
                0 => b"*2\r\n$3\r\nGET\r\n",
                1 => b"*",
                2 => b"SET \"",
                _ => b"",
            };
            let mut input = prefix.to_vec();
            input.extend((0..len).map(|_| xorshift(&mut seed) as u8));
            let mut p = RequestParser::new(1 << 20, 1 << 24);
            let mut buf = BytesMut::new();
            // Feed it in random pieces; each call must return (parse, wait or fail), never loop or panic.
            for chunk in input.chunks(1 + (xorshift(&mut seed) % 17) as usize) {
                buf.extend_from_slice(chunk);
                let mut steps = 0;
                loop {
                    steps += 1;
                    assert!(steps < 10_000, "parser did not settle on {input:?}");
                    match p.next(&mut buf) {
                        Ok(Some(_)) => continue,
                        Ok(None) | Err(_) => break,
                    }
                }
            }
        }
    }

    #[test]
    fn any_split_of_valid_requests_parses_the_same() {
        let input =
            b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10\r\n0123456789\r\nINCR  n\r\n*1\r\n$4\r\nPING\r\n";
        let whole = {
            let mut p = RequestParser::new(1 << 20, 1 << 24);
            let mut buf = BytesMut::from(&input[..]);
            std::iter::from_fn(|| p.next(&mut buf).unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(whole.len(), 3);
        let mut seed = 42;
        for _ in 0..500 {
            let mut p = RequestParser::new(1 << 20, 1 << 24);
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let mut rest = &input[..];
            while !rest.is_empty() {
                let n = 1 + (xorshift(&mut seed) as usize % rest.len());
                buf.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                while let Some(argv) = p.next(&mut buf).unwrap() {
                    got.push(argv);
                }
            }
            assert_eq!(got, whole);
        }
    }
}
