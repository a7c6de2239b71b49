//! Encodes [`Reply`] values as RESP2 or RESP3, straight into the connection's write buffer.
//!
//! Hand-written rather than through `redis-protocol`'s frame types for two reasons found in testing: its
//! RESP3 doubles are printed in plain decimal (5e-324 becomes a 326-character line that hiredis refuses,
//! where Redis sends `,5e-324`), and building a frame tree per reply cost an allocation per aggregate on the
//! hottest path. The tests decode every shape with `redis-protocol`'s parser, an independent implementation.
//! Bulk payloads are copied once, from the value's `Bytes` into the write buffer.

use bytes::{BufMut, BytesMut};

use super::Protocol;
use crate::reply::Reply;
use crate::util::fmt_f64;

/// Appends `reply` to `out` in the client's protocol.
pub fn encode(out: &mut BytesMut, reply: Reply, proto: Protocol) {
    let resp3 = proto == Protocol::Resp3;
    match reply {
        Reply::Many(frames) => {
            for f in frames {
                encode(out, f, proto);
            }
        }
        other => put(out, &other, resp3),
    }
}

fn line(out: &mut BytesMut, prefix: u8, text: &[u8]) {
    out.put_u8(prefix);
    // A status or error line cannot carry CR or LF.
    if text.iter().any(|&c| c == b'\r' || c == b'\n') {
        out.extend(
            text.iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
    } else {
        out.put_slice(text);
    }
    out.put_slice(b"\r\n");
}

fn int_line(out: &mut BytesMut, prefix: u8, n: i64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.put_u8(prefix);
    if n < 0 {
        out.put_u8(b'-');
    }
    out.put_slice(&digits[i..]);
    out.put_slice(b"\r\n");
}

/// Appends a command (an array of bulk strings) as a RESP multibulk: what the effect stream, the AOF and
/// replicas carry.
pub fn encode_command(argv: &[bytes::Bytes], out: &mut BytesMut) {
    int_line(out, b'*', argv.len() as i64);
    for a in argv {
        bulk(out, a);
    }
}

fn bulk(out: &mut BytesMut, data: &[u8]) {
    int_line(out, b'$', data.len() as i64);
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

fn aggregate(out: &mut BytesMut, prefix: u8, items: &[Reply], resp3: bool) {
    int_line(out, prefix, items.len() as i64);
    for i in items {
        put(out, i, resp3);
    }
}

fn put(out: &mut BytesMut, r: &Reply, resp3: bool) {
    match r {
        Reply::Simple(s) => line(out, b'+', s.as_bytes()),
        Reply::Status(s) => line(out, b'+', s.as_bytes()),
        Reply::Error(e) => line(out, b'-', e.line().as_bytes()),
        Reply::Int(i) => int_line(out, b':', *i),
        Reply::Bulk(b) => bulk(out, b),
        Reply::Nil if resp3 => out.put_slice(b"_\r\n"),
        Reply::Nil => out.put_slice(b"$-1\r\n"),
        Reply::NilArray if resp3 => out.put_slice(b"_\r\n"),
        Reply::NilArray => out.put_slice(b"*-1\r\n"),
        Reply::Array(v) => aggregate(out, b'*', v, resp3),
        // Several frames for one command (SUBSCRIBE a b) inside EXEC's array: written one after another,
        // as Redis does; its EXEC header counts commands, not frames.
        Reply::Many(v) => v.iter().for_each(|f| put(out, f, resp3)),
        Reply::Set(v) => aggregate(out, if resp3 { b'~' } else { b'*' }, v, resp3),
        Reply::Push(v) => aggregate(out, if resp3 { b'>' } else { b'*' }, v, resp3),
        Reply::Map(kv) => {
            if resp3 {
                int_line(out, b'%', kv.len() as i64);
            } else {
                int_line(out, b'*', 2 * kv.len() as i64);
            }
            for (k, v) in kv {
                put(out, k, resp3);
                put(out, v, resp3);
            }
        }
        Reply::Double(d) if resp3 => line(out, b',', fmt_f64(*d).as_bytes()),
        Reply::Double(d) => bulk(out, fmt_f64(*d).as_bytes()),
        Reply::Bool(b) if resp3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
        Reply::Bool(b) => int_line(out, b':', i64::from(*b)),
        Reply::Verbatim(s) if resp3 => {
            int_line(out, b'=', s.len() as i64 + 4);
            out.put_slice(b"txt:");
            out.put_slice(s.as_bytes());
            out.put_slice(b"\r\n");
        }
        Reply::Verbatim(s) => bulk(out, s.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use redis_protocol::resp2::decode::decode as decode2;
    use redis_protocol::resp2::types::OwnedFrame as F2;
    use redis_protocol::resp3::decode::complete::decode as decode3;
    use redis_protocol::resp3::types::OwnedFrame as F3;

    use super::*;
    use crate::error::CmdError;

    fn enc(r: Reply, p: Protocol) -> Vec<u8> {
        let mut b = BytesMut::new();
        encode(&mut b, r, p);
        b.to_vec()
    }

    fn sample() -> Reply {
        Reply::Array(vec![
            Reply::OK,
            Reply::Status("a\r\nb".into()),
            Reply::Error(CmdError::Syntax),
            Reply::Int(-42),
            Reply::Bulk(Bytes::from_static(b"bin\r\n\0")),
            Reply::Nil,
            Reply::Map(vec![(Reply::lit("k"), Reply::Double(1.5))]),
            Reply::Set(vec![Reply::Int(1)]),
            Reply::Bool(true),
            Reply::Verbatim("text".into()),
            Reply::Double(5e-324),
            Reply::Double(f64::MAX),
            Reply::Double(f64::NEG_INFINITY),
        ])
    }

    #[test]
    fn resp2_bytes_and_independent_decode() {
        assert_eq!(enc(Reply::OK, Protocol::Resp2), b"+OK\r\n");
        assert_eq!(enc(Reply::NilArray, Protocol::Resp2), b"*-1\r\n");
        assert_eq!(enc(Reply::Double(1.5), Protocol::Resp2), b"$3\r\n1.5\r\n");
        assert_eq!(
            enc(Reply::Int(i64::MIN), Protocol::Resp2),
            b":-9223372036854775808\r\n"
        );
        let bytes = enc(sample(), Protocol::Resp2);
        let (frame, used) = decode2(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        let F2::Array(items) = frame else {
            panic!("{frame:?}")
        };
        assert_eq!(items.len(), 13);
        assert_eq!(items[1], F2::SimpleString(b"a  b".to_vec()));
        assert_eq!(items[2], F2::Error("ERR syntax error".into()));
        assert_eq!(
            items[6],
            F2::Array(vec![
                F2::BulkString(b"k".to_vec()),
                F2::BulkString(b"1.5".to_vec())
            ])
        );
        assert_eq!(items[10], F2::BulkString(b"5e-324".to_vec()));
        assert_eq!(
            items[11],
            F2::BulkString(b"1.7976931348623157e+308".to_vec())
        );
    }

    #[test]
    fn resp3_bytes_and_independent_decode() {
        assert_eq!(enc(Reply::Nil, Protocol::Resp3), b"_\r\n");
        assert_eq!(enc(Reply::Double(5e-324), Protocol::Resp3), b",5e-324\r\n");
        assert_eq!(
            enc(Reply::Push(vec![Reply::lit("message")]), Protocol::Resp3),
            b">1\r\n$7\r\nmessage\r\n"
        );
        let bytes = enc(sample(), Protocol::Resp3);
        let (frame, used) = decode3(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        let F3::Array { data: items, .. } = frame else {
            panic!("{frame:?}")
        };
        assert_eq!(items.len(), 13);
        assert!(matches!(&items[6], F3::Map { data, .. } if data.len() == 1));
        assert!(matches!(&items[7], F3::Set { .. }));
        assert!(matches!(&items[8], F3::Boolean { data: true, .. }));
        assert!(matches!(&items[9], F3::VerbatimString { data, .. } if data == b"text"));
        assert!(matches!(&items[10], F3::Double { data, .. } if *data == 5e-324));
        assert!(matches!(&items[11], F3::Double { data, .. } if *data == f64::MAX));
        assert!(matches!(&items[12], F3::Double { data, .. } if *data == f64::NEG_INFINITY));
    }
}
