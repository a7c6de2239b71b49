//! Encodes [`Reply`] values as RESP2 or RESP3 with the `redis-protocol` crate's frame types and encoders.
//!
//! Bulk payloads are `Bytes` moved into the frames, so a tensor blob goes from the keyspace to the socket
//! buffer with one copy (the encoder's write into the output buffer).

use bytes::{Bytes, BytesMut};
use redis_protocol::resp2::types::BytesFrame as F2;
use redis_protocol::resp3::types::{BytesFrame as F3, FrameMap, VerbatimStringFormat};
use redis_protocol::{resp2, resp3};

use super::Protocol;
use crate::reply::Reply;
use crate::util::fmt_f64;

/// Appends `reply` to `out` in the client's protocol.
pub fn encode(out: &mut BytesMut, reply: Reply, proto: Protocol) {
    if let Reply::Many(frames) = reply {
        for f in frames {
            encode(out, f, proto);
        }
        return;
    }
    // Encoding a frame we built ourselves cannot fail: every length and kind is valid by construction.
    if matches!((&reply, proto), (Reply::NilArray, Protocol::Resp2)) {
        // redis-protocol's RESP2 Null is `$-1`; a null array (EXEC aborted by WATCH) is `*-1` in Redis.
        out.extend_from_slice(b"*-1\r\n");
        return;
    }
    let result = match proto {
        Protocol::Resp2 => resp2::encode::extend_encode(out, &to_resp2(reply), false).map(drop),
        Protocol::Resp3 => {
            resp3::encode::complete::extend_encode(out, &to_resp3(reply), false).map(drop)
        }
    };
    debug_assert!(result.is_ok(), "reply encoding failed: {result:?}");
}

fn error_text(e: &crate::error::CmdError) -> String {
    e.line()
}

fn to_resp2(r: Reply) -> F2 {
    match r {
        Reply::Simple(s) => F2::SimpleString(Bytes::from_static(s.as_bytes())),
        Reply::Status(s) => F2::SimpleString(Bytes::from(s.replace(['\r', '\n'], " "))),
        Reply::Error(e) => F2::Error(error_text(&e).into()),
        Reply::Int(i) => F2::Integer(i),
        Reply::Bulk(b) => F2::BulkString(b),
        Reply::Nil => F2::Null,
        // Only a top-level null array gets `*-1` (see `encode`); nested ones never occur in our replies.
        Reply::NilArray => F2::Null,
        Reply::Array(v) | Reply::Set(v) | Reply::Push(v) | Reply::Many(v) => {
            F2::Array(v.into_iter().map(to_resp2).collect())
        }
        Reply::Map(kv) => {
            let mut out = Vec::with_capacity(kv.len() * 2);
            for (k, v) in kv {
                out.push(to_resp2(k));
                out.push(to_resp2(v));
            }
            F2::Array(out)
        }
        Reply::Double(d) => F2::BulkString(Bytes::from(fmt_f64(d))),
        Reply::Bool(b) => F2::Integer(i64::from(b)),
        Reply::Verbatim(s) => F2::BulkString(Bytes::from(s)),
    }
}

fn to_resp3(r: Reply) -> F3 {
    match r {
        Reply::Simple(s) => F3::SimpleString {
            data: Bytes::from_static(s.as_bytes()),
            attributes: None,
        },
        Reply::Status(s) => F3::SimpleString {
            data: Bytes::from(s.replace(['\r', '\n'], " ")),
            attributes: None,
        },
        Reply::Error(e) => F3::SimpleError {
            data: error_text(&e).into(),
            attributes: None,
        },
        Reply::Int(i) => F3::Number {
            data: i,
            attributes: None,
        },
        Reply::Bulk(b) => F3::BlobString {
            data: b,
            attributes: None,
        },
        Reply::Nil | Reply::NilArray => F3::Null,
        Reply::Array(v) | Reply::Many(v) => F3::Array {
            data: v.into_iter().map(to_resp3).collect(),
            attributes: None,
        },
        Reply::Set(v) => F3::Set {
            data: v.into_iter().map(to_resp3).collect(),
            attributes: None,
        },
        Reply::Push(v) => F3::Push {
            data: v.into_iter().map(to_resp3).collect(),
            attributes: None,
        },
        Reply::Map(kv) => {
            let mut m = FrameMap::with_capacity(kv.len());
            for (k, v) in kv {
                m.insert(to_resp3(k), to_resp3(v));
            }
            F3::Map {
                data: m,
                attributes: None,
            }
        }
        Reply::Double(d) => F3::Double {
            data: d,
            attributes: None,
        },
        Reply::Bool(b) => F3::Boolean {
            data: b,
            attributes: None,
        },
        Reply::Verbatim(s) => F3::VerbatimString {
            data: Bytes::from(s),
            format: VerbatimStringFormat::Text,
            attributes: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CmdError;

    fn enc(r: Reply, p: Protocol) -> String {
        let mut b = BytesMut::new();
        encode(&mut b, r, p);
        String::from_utf8_lossy(&b).into_owned()
    }

    #[test]
    fn resp2_shapes() {
        assert_eq!(enc(Reply::OK, Protocol::Resp2), "+OK\r\n");
        assert_eq!(enc(Reply::Int(-3), Protocol::Resp2), ":-3\r\n");
        assert_eq!(enc(Reply::Nil, Protocol::Resp2), "$-1\r\n");
        assert_eq!(enc(Reply::Double(1.5), Protocol::Resp2), "$3\r\n1.5\r\n");
        assert_eq!(
            enc(Reply::Error(CmdError::Syntax), Protocol::Resp2),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            enc(
                Reply::Map(vec![(Reply::lit("a"), Reply::Int(1))]),
                Protocol::Resp2
            ),
            "*2\r\n$1\r\na\r\n:1\r\n"
        );
    }

    #[test]
    fn resp3_shapes() {
        assert_eq!(enc(Reply::Nil, Protocol::Resp3), "_\r\n");
        assert_eq!(enc(Reply::Double(1.5), Protocol::Resp3), ",1.5\r\n");
        assert_eq!(enc(Reply::Bool(true), Protocol::Resp3), "#t\r\n");
        assert_eq!(
            enc(
                Reply::Map(vec![
                    (Reply::lit("a"), Reply::Int(1)),
                    (Reply::lit("b"), Reply::Int(2))
                ]),
                Protocol::Resp3
            ),
            "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:2\r\n"
        );
        assert_eq!(
            enc(Reply::Push(vec![Reply::lit("message")]), Protocol::Resp3),
            ">1\r\n$7\r\nmessage\r\n"
        );
    }
}
