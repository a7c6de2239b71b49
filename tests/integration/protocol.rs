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

#[test]
fn random_garbage_never_takes_the_server_down() {
    let s = Server::start();
    // A deterministic xorshift stream: printable and binary junk, RESP-looking prefixes, huge lengths.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let prefixes: [&[u8]; 6] = [
        b"*",
        b"$",
        b"*3\r\n$3\r\nSET\r\n",
        b"AI.TENSORSET k FLOAT ",
        b"\"",
        b"*1\r\n$",
    ];
    for _ in 0..200 {
        let mut raw = s.raw();
        let mut junk = prefixes[(next() % 6) as usize].to_vec();
        let len = (next() % 300) as usize;
        junk.extend((0..len).map(|_| next() as u8));
        // The server may close the connection before all of it is written: that is an answer too.
        let _ = std::io::Write::write_all(&mut raw.s, &junk);
        // Half the connections vanish mid-request, the others wait for whatever the server answers.
        if next() % 2 == 0 {
            raw.s
                .set_read_timeout(Some(std::time::Duration::from_millis(20)))
                .unwrap();
            let mut buf = [0u8; 1024];
            let _ = std::io::Read::read(&mut raw.s, &mut buf);
        }
    }
    let mut c = s.con();
    assert_eq!(q::<String>(&mut c, "PING").unwrap(), "PONG");
    assert_eq!(q::<String>(&mut c, "SET after junk").unwrap(), "OK");
}

/// Virtual memory size of a process, in kB (counts reservations that were never touched, unlike RSS).
fn vm_size_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn huge_bulk_header_allocates_only_what_arrives() {
    let s = Server::start();
    let mut c = s.con();
    assert_eq!(q::<String>(&mut c, "PING").unwrap(), "PONG");
    let before = vm_size_kb(s.pid());
    let mut raw = s.raw();
    // Promise 500 MB and send 1 KB: the server must not reserve the 500 MB up front.
    raw.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$500000000\r\n");
    raw.send(&[b'x'; 1024]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let grown = vm_size_kb(s.pid()).saturating_sub(before);
    assert!(
        grown < 100_000,
        "virtual memory grew {grown} kB after a 500 MB promise"
    );
    assert_eq!(q::<String>(&mut c, "PING").unwrap(), "PONG");
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let s = Server::with_args(&["--timeout", "1"]);
    let mut raw = s.raw();
    raw.expect(b"PING\r\n", b"+PONG\r\n");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    raw.expect_closed();
}
