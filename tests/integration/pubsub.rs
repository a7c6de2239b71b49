//! Pub/sub and keyspace notifications.

use std::time::Duration;

use crate::common::{q, qerr, Server};

#[test]
fn subscribe_publish_and_patterns_resp2() {
    let s = Server::start();
    let mut raw = s.raw();
    raw.expect(
        b"SUBSCRIBE news sports\r\n",
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$6\r\nsports\r\n:2\r\n",
    );
    raw.expect(b"GET k\r\n", b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n");
    raw.expect(b"PING\r\n", b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    raw.expect(
        b"PSUBSCRIBE n*\r\n",
        b"*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:3\r\n",
    );
    let mut c = s.con();
    assert_eq!(
        q::<i64>(&mut c, "PUBLISH news hello").unwrap(),
        2,
        "one channel and one pattern subscriber"
    );
    let m1 = b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n".to_vec();
    let m2 = b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n".to_vec();
    let got = raw.read_n(m1.len() + m2.len());
    assert_eq!(got, [m1, m2].concat());
    assert_eq!(q::<i64>(&mut c, "PUBSUB NUMPAT").unwrap(), 1);
    assert_eq!(
        q::<Vec<(String, i64)>>(&mut c, "PUBSUB NUMSUB news nobody").unwrap(),
        vec![("news".into(), 1), ("nobody".into(), 0)]
    );
    let mut chans: Vec<String> = q(&mut c, "PUBSUB CHANNELS").unwrap();
    chans.sort();
    assert_eq!(chans, vec!["news", "sports"]);
    raw.expect(b"CLIENT ID\r\n", b"-ERR Can't execute 'client|id': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n");
    // Without arguments: every channel, in subscription order.
    raw.expect(
        b"UNSUBSCRIBE\r\n",
        b"*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:2\r\n*3\r\n$11\r\nunsubscribe\r\n$6\r\nsports\r\n:1\r\n",
    );
    assert_eq!(
        qerr(&mut c, "PUBSUB NUMPAT x"),
        "ERR wrong number of arguments for 'pubsub|numpat' command"
    );
    raw.expect(
        b"PUNSUBSCRIBE\r\nPING\r\n",
        b"*3\r\n$12\r\npunsubscribe\r\n$2\r\nn*\r\n:0\r\n+PONG\r\n",
    );
}

#[test]
fn resp3_pushes_interleave_with_replies() {
    let s = Server::start();
    let mut raw = s.raw();
    raw.hello3();
    raw.expect(
        b"SUBSCRIBE ch\r\n",
        b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n",
    );
    raw.expect(b"SET k v\r\n", b"+OK\r\n");
    // A message the client's own command caused arrives before that command's reply.
    raw.expect(
        b"PUBLISH ch self\r\n",
        b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\nself\r\n:1\r\n",
    );
    let mut c = s.con();
    assert_eq!(q::<i64>(&mut c, "PUBLISH ch hi").unwrap(), 1);
    assert_eq!(
        raw.read_n(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n".len()),
        b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
    );
}

#[test]
fn redis_crate_pubsub() {
    let s = Server::start();
    let mut sub_con = s.con();
    let mut ps = sub_con.as_pubsub();
    ps.subscribe("events").unwrap();
    ps.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut c = s.con();
    q::<i64>(&mut c, "PUBLISH events payload").unwrap();
    let msg = ps.get_message().unwrap();
    assert_eq!(msg.get_channel_name(), "events");
    assert_eq!(msg.get_payload::<String>().unwrap(), "payload");
}

#[test]
fn keyspace_notifications() {
    let s = Server::start();
    let mut c = s.con();
    q::<String>(&mut c, "CONFIG SET notify-keyspace-events KEA").unwrap();
    let mut raw = s.raw();
    raw.send(b"PSUBSCRIBE __key*__:*\r\n");
    raw.read_n(b"*3\r\n$10\r\npsubscribe\r\n$10\r\n__key*__:*\r\n:1\r\n".len());
    q::<String>(&mut c, "SET foo bar").unwrap();
    let space =
        b"*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$18\r\n__keyspace@0__:foo\r\n$3\r\nset\r\n"
            .to_vec();
    let event =
        b"*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$18\r\n__keyevent@0__:set\r\n$3\r\nfoo\r\n"
            .to_vec();
    assert_eq!(
        raw.read_n(space.len() + event.len()),
        [space, event].concat()
    );
    // AI writes raise their own events (module class).
    q::<String>(&mut c, "AI.TENSORSET t FLOAT 1").unwrap();
    let ai = b"*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$16\r\n__keyspace@0__:t\r\n$12\r\nai.tensorset\r\n".to_vec();
    assert_eq!(raw.read_n(ai.len()), ai);
    let _ = raw.read_n(b"*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$27\r\n__keyevent@0__:ai.tensorset\r\n$1\r\nt\r\n".len());
    // Expiry raises `expired`.
    q::<String>(&mut c, "CONFIG SET notify-keyspace-events Ex").unwrap();
    q::<String>(&mut c, "SET gone v PX 20").unwrap();
    let exp = b"*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$22\r\n__keyevent@0__:expired\r\n$4\r\ngone\r\n".to_vec();
    assert_eq!(
        raw.read_n(exp.len()),
        exp,
        "the active expiry cycle raised `expired`"
    );
}
