//! Cells and pools over TCP: JSON values, types, errors, TTL and WATCH interplay, effects, RESP3.

use redis::Value;

use crate::common::{q, qerr, Server};
use crate::strings::{effects, tap};

#[test]
fn cells_hold_json() {
    let s = Server::start();
    let mut c = s.con();
    tap(&mut c);
    assert_eq!(q::<String>(&mut c, "AI.CELLSET total 0").unwrap(), "OK");
    assert_eq!(q::<String>(&mut c, "AI.CELLGET total").unwrap(), "0");
    let doc = r#"{ "b": [1, 2.5, "x", null, true], "a": {"z": 1} }"#;
    redis::cmd("AI.CELLSET")
        .arg("doc")
        .arg(doc)
        .query::<()>(&mut c)
        .unwrap();
    // Canonical text: compact, keys in the order given.
    assert_eq!(
        q::<String>(&mut c, "AI.CELLGET doc").unwrap(),
        r#"{"b":[1,2.5,"x",null,true],"a":{"z":1}}"#
    );
    assert_eq!(
        effects(&mut c, 1)[0],
        vec![
            "AI.CELLSET",
            "doc",
            r#"{"b":[1,2.5,"x",null,true],"a":{"z":1}}"#
        ]
    );
    assert_eq!(
        q::<Option<String>>(&mut c, "AI.CELLGET nocell").unwrap(),
        None
    );
    assert_eq!(q::<String>(&mut c, "TYPE total").unwrap(), "AI___CELL");
    assert_eq!(
        qerr(&mut c, "AI.CELLSET total {nope"),
        "ERR invalid JSON value"
    );
    assert_eq!(
        q::<String>(&mut c, "AI.CELLGET total").unwrap(),
        "0",
        "a refused set changes nothing"
    );
    q::<()>(&mut c, "SET str x").unwrap();
    assert_eq!(
        qerr(&mut c, "AI.CELLSET str 1"),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        qerr(&mut c, "AI.CELLGET str"),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        qerr(&mut c, "AI.CELLSET total"),
        "ERR wrong number of arguments for 'AI.CELLSET' command"
    );
    // Generic key commands work on them.
    assert_eq!(q::<i64>(&mut c, "EXISTS total doc").unwrap(), 2);
    let (_, keys): (String, Vec<String>) = q(&mut c, "SCAN 0 TYPE AI___CELL COUNT 100").unwrap();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, vec!["doc", "total"]);
    assert_eq!(q::<i64>(&mut c, "DEL total").unwrap(), 1);
    let info: String = q(&mut c, "INFO keyspace").unwrap();
    assert!(info.contains("keys=2"), "{info}");
}

#[test]
fn pools_hold_fields() {
    let s = Server::start();
    let mut c = s.con();
    tap(&mut c);
    assert_eq!(
        q::<i64>(&mut c, r#"AI.POOLSET counts a 1 b "two""#).unwrap(),
        2
    );
    assert_eq!(
        q::<i64>(&mut c, "AI.POOLSET counts a 5 c [1,2]").unwrap(),
        1,
        "fields added, as HSET"
    );
    assert_eq!(
        effects(&mut c, 1)[0],
        vec!["AI.POOLSET", "counts", "a", "5", "c", "[1,2]"]
    );
    assert_eq!(q::<String>(&mut c, "AI.POOLGET counts a").unwrap(), "5");
    assert_eq!(
        q::<String>(&mut c, "AI.POOLGET counts b").unwrap(),
        r#""two""#
    );
    assert_eq!(
        q::<Option<String>>(&mut c, "AI.POOLGET counts zz").unwrap(),
        None
    );
    assert_eq!(
        q::<Option<String>>(&mut c, "AI.POOLGET nopool a").unwrap(),
        None
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, "AI.POOLKEYS counts").unwrap(),
        vec!["a", "b", "c"]
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, "AI.POOLGETALL counts").unwrap(),
        vec!["a", "5", "b", r#""two""#, "c", "[1,2]"]
    );
    assert_eq!(q::<i64>(&mut c, "AI.POOLLEN counts").unwrap(), 3);
    assert_eq!(q::<i64>(&mut c, "AI.POOLLEN nopool").unwrap(), 0);
    assert_eq!(
        q::<Vec<String>>(&mut c, "AI.POOLKEYS nopool").unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(q::<String>(&mut c, "TYPE counts").unwrap(), "AI___POOL");
    // All or nothing: one bad value refuses the whole command.
    assert_eq!(
        qerr(&mut c, "AI.POOLSET counts a 9 d {bad"),
        "ERR invalid JSON value"
    );
    assert_eq!(q::<String>(&mut c, "AI.POOLGET counts a").unwrap(), "5");
    assert_eq!(
        qerr(&mut c, "AI.POOLSET counts a"),
        "ERR wrong number of arguments for 'AI.POOLSET' command"
    );
    assert_eq!(
        qerr(&mut c, "AI.POOLSET counts a 1 b"),
        "ERR wrong number of arguments for 'AI.POOLSET' command"
    );
    q::<()>(&mut c, "AI.CELLSET cell 1").unwrap();
    assert_eq!(
        qerr(&mut c, "AI.POOLGET cell a"),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        qerr(&mut c, "AI.POOLSET cell a 1"),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    // Deleting fields; the last one takes the pool with it.
    assert_eq!(q::<i64>(&mut c, "AI.POOLDEL counts a zz").unwrap(), 1);
    assert_eq!(effects(&mut c, 1)[0], vec!["AI.POOLDEL", "counts", "a"]);
    assert_eq!(
        q::<Vec<String>>(&mut c, "AI.POOLKEYS counts").unwrap(),
        vec!["b", "c"],
        "order kept"
    );
    assert_eq!(q::<i64>(&mut c, "AI.POOLDEL counts zz").unwrap(), 0);
    assert_eq!(q::<i64>(&mut c, "AI.POOLDEL counts b c").unwrap(), 2);
    assert_eq!(q::<i64>(&mut c, "EXISTS counts").unwrap(), 0);
}

#[test]
fn pools_keep_ttl_and_wake_watchers() {
    let s = Server::start();
    let mut c = s.con();
    q::<i64>(&mut c, "AI.POOLSET p a 1").unwrap();
    q::<i64>(&mut c, "EXPIRE p 100").unwrap();
    q::<i64>(&mut c, "AI.POOLSET p b 2").unwrap();
    assert!(
        q::<i64>(&mut c, "TTL p").unwrap() > 90,
        "a pool keeps its TTL across writes"
    );
    let mut raw = s.raw();
    raw.expect(b"WATCH p\r\n", b"+OK\r\n");
    q::<i64>(&mut c, "AI.POOLSET p a 3").unwrap();
    raw.expect(
        b"MULTI\r\nAI.POOLGET p a\r\nEXEC\r\n",
        b"+OK\r\n+QUEUED\r\n*-1\r\n",
    );
    raw.expect(
        b"MULTI\r\nAI.POOLGET p a\r\nAI.CELLSET c true\r\nEXEC\r\n",
        b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n$1\r\n3\r\n+OK\r\n",
    );
    // RESP3 clients see the same replies (JSON text is a bulk string in both protocols).
    let mut c3 = s.con3();
    let all: Value = q(&mut c3, "AI.POOLGETALL p").unwrap();
    assert_eq!(
        format!("{all:?}"),
        r#"array([bulk-string('"a"'), bulk-string('"3"'), bulk-string('"b"'), bulk-string('"2"')])"#
    );
    assert_eq!(q::<String>(&mut c3, "AI.CELLGET c").unwrap(), "true");
}
