//! Malformed input: Redis's protocol errors close only the offending connection; inline commands work.

use crate::common::{q, Server};

#[test]
fn inline_commands_like_telnet() {
    let s = Server::start();
    let mut raw = s.raw();
    raw.expect(b"PING\r\n", b"+PONG\r\n");
    raw.expect(b"PING\n", b"+PONG\r\n");
    raw.expect(
        b"SET greeting \"hello world\\n\"\r\nGET greeting\r\n",
        b"+OK\r\n$12\r\nhello world\n\r\n",
    );
    raw.expect(
        b"\r\n\r\nECHO 'it''s'\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    raw.expect_closed();
}

fn expect_protocol_error(s: &Server, input: &[u8], msg: &str) {
    let mut raw = s.raw();
    raw.expect(input, format!("-ERR Protocol error: {msg}\r\n").as_bytes());
    raw.expect_closed();
}

#[test]
fn malformed_frames_get_redis_errors_and_close_only_that_connection() {
    let s = Server::start();
    let mut bystander = s.con();
    q::<String>(&mut bystander, "SET k v").unwrap();
    expect_protocol_error(&s, b"*1\r\n+PING\r\n", "expected '$', got '+'");
    expect_protocol_error(&s, b"*2\r\n$4\r\nECHO\r\n:1\r\n", "expected '$', got ':'");
    expect_protocol_error(&s, b"*-5x\r\n", "invalid multibulk length");
    expect_protocol_error(&s, b"*99999999999\r\n", "invalid multibulk length");
    expect_protocol_error(&s, b"*1\r\n$-3\r\n", "invalid bulk length");
    expect_protocol_error(&s, b"*1\r\n$9999999999999\r\n", "invalid bulk length");
    expect_protocol_error(&s, b"*1\r\n$abc\r\n", "invalid bulk length");
    // Deep nesting is refused at the first nested header, with nothing allocated for it.
    expect_protocol_error(&s, &b"*1\r\n".repeat(100_000), "expected '$', got '*'");
    // An endless header or inline line is bounded.
    let mut long_inline = vec![b'a'; 70_000];
    long_inline.push(b' ');
    expect_protocol_error(&s, &long_inline, "too big inline request");
    let mut long_count = b"*".to_vec();
    long_count.extend(vec![b'1'; 70_000]);
    expect_protocol_error(&s, &long_count, "too big mbulk count string");
    // The other client never noticed.
    assert_eq!(q::<String>(&mut bystander, "GET k").unwrap(), "v");
}

#[test]
fn truncated_frame_waits_then_completes() {
    let s = Server::start();
    let mut raw = s.raw();
    raw.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhel");
    std::thread::sleep(std::time::Duration::from_millis(100));
    raw.expect(b"lo\r\n", b"+OK\r\n");
    // A client that disconnects mid-frame leaves nothing behind.
    let mut raw2 = s.raw();
    raw2.send(b"*3\r\n$3\r\nSET\r\n$1\r\nz\r\n$100\r\nabc");
    drop(raw2);
    let mut c = s.con();
    assert_eq!(q::<i64>(&mut c, "EXISTS z").unwrap(), 0);
    assert_eq!(q::<String>(&mut c, "GET k").unwrap(), "hello");
}

#[test]
fn large_bulk_arguments_arrive_in_pieces() {
    let s = Server::start();
    let mut c = s.con();
    let big: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query::<()>(&mut c)
        .unwrap();
    assert_eq!(
        redis::cmd("GET")
            .arg("big")
            .query::<Vec<u8>>(&mut c)
            .unwrap(),
        big
    );
    assert_eq!(q::<i64>(&mut c, "STRLEN big").unwrap(), 5_000_000);
}

#[test]
fn proto_max_bulk_len_bounds_arguments() {
    let s = Server::with_args(&["--proto-max-bulk-len", "1mb"]);
    expect_protocol_error(
        &s,
        b"*2\r\n$3\r\nGET\r\n$2000000\r\n",
        "invalid bulk length",
    );
}

#[test]
fn unauthenticated_clients_get_tight_limits() {
    let s = Server::with_args(&["--requirepass", "pw"]);
    expect_protocol_error(&s, b"*100\r\n", "invalid multibulk length");
    expect_protocol_error(&s, b"*1\r\n$20000\r\n", "invalid bulk length");
}
