//! Strings and their options, expiry (lazy and active), and the effects they propagate.

use std::time::Duration;

use redis::Value;

use crate::common::{q, qerr, Server};

/// Starts the effect backlog (as a replica would), so later `effects` calls can read what was propagated.
/// Against the module, a replication stream Redis sends to a replica (PSYNC) is read instead.
pub fn tap(c: &mut redis::Connection) {
    if crate::common::module_front() {
        return crate::common::ReplicaTap::start(c);
    }
    let none: Vec<redis::Value> = q(c, "DEBUG EFFECTS 0").unwrap();
    assert!(none.is_empty());
}

/// The newest `n` effects from `DEBUG EFFECTS`, as argv vectors (against the module: from the tap's
/// replication stream, without Redis's SELECT, PING and MULTI/EXEC framing).
pub fn effects(c: &mut redis::Connection, n: usize) -> Vec<Vec<String>> {
    effects_raw(c, n)
        .into_iter()
        .map(|argv| {
            argv.iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .collect()
}

/// [`effects`] with each argument's bytes.
pub fn effects_raw(c: &mut redis::Connection, n: usize) -> Vec<Vec<Vec<u8>>> {
    if crate::common::module_front() {
        return crate::common::ReplicaTap::newest(c, n);
    }
    let v: Vec<(i64, Vec<Vec<u8>>)> = q(c, &format!("DEBUG EFFECTS {n}")).unwrap();
    v.into_iter().map(|(_, argv)| argv).collect()
}

#[test]
fn set_options() {
    let s = Server::start();
    let mut c = s.con();
    tap(&mut c);
    assert_eq!(q::<String>(&mut c, "SET k v").unwrap(), "OK");
    assert_eq!(q::<Option<String>>(&mut c, "SET k w NX").unwrap(), None);
    assert_eq!(q::<String>(&mut c, "GET k").unwrap(), "v");
    assert_eq!(q::<Option<String>>(&mut c, "SET nokey w XX").unwrap(), None);
    assert_eq!(q::<i64>(&mut c, "EXISTS nokey").unwrap(), 0);
    assert_eq!(q::<String>(&mut c, "SET k w XX GET").unwrap(), "v");
    assert_eq!(q::<String>(&mut c, "SET k x EX 100").unwrap(), "OK");
    let ttl: i64 = q(&mut c, "TTL k").unwrap();
    assert!((99..=100).contains(&ttl));
    assert_eq!(q::<String>(&mut c, "SET k y KEEPTTL").unwrap(), "OK");
    assert!(q::<i64>(&mut c, "PTTL k").unwrap() > 90_000);
    assert_eq!(q::<String>(&mut c, "SET k z").unwrap(), "OK");
    assert_eq!(
        q::<i64>(&mut c, "TTL k").unwrap(),
        -1,
        "plain SET clears the TTL"
    );
    assert_eq!(
        qerr(&mut c, "SET k v EX 0"),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(qerr(&mut c, "SET k v EX 10 PX 10"), "ERR syntax error");
    // A repeated expiry is allowed (the last wins); flags are checked before the number.
    assert_eq!(
        q::<String>(&mut c, "SET r v EX 10 EX 1000 NX NX").unwrap(),
        "OK"
    );
    assert!(q::<i64>(&mut c, "TTL r").unwrap() > 900);
    assert_eq!(qerr(&mut c, "SET k v EX abc NX XX"), "ERR syntax error");
    assert_eq!(qerr(&mut c, "SET k v NX XX"), "ERR syntax error");
    assert_eq!(
        qerr(&mut c, "SET k v EX abc"),
        "ERR value is not an integer or out of range"
    );
    // SET EX propagates an absolute expiry.
    q::<String>(&mut c, "SET e v EX 100").unwrap();
    let last = effects(&mut c, 1).pop().unwrap();
    assert_eq!(&last[..4], ["SET", "e", "v", "PXAT"]);
    let at: u64 = last[4].parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(at > now + 90_000 && at <= now + 100_000);
}

#[test]
fn counters_and_string_ops() {
    let s = Server::start();
    let mut c = s.con();
    assert_eq!(q::<i64>(&mut c, "INCR n").unwrap(), 1);
    assert_eq!(q::<i64>(&mut c, "INCRBY n 10").unwrap(), 11);
    assert_eq!(q::<i64>(&mut c, "DECR n").unwrap(), 10);
    assert_eq!(q::<i64>(&mut c, "DECRBY n -5").unwrap(), 15);
    assert_eq!(q::<String>(&mut c, "INCRBYFLOAT f 1.5").unwrap(), "1.5");
    assert_eq!(q::<String>(&mut c, "INCRBYFLOAT f 0.25").unwrap(), "1.75");
    // Fixed point like Redis's %.17Lf (never an exponent), hexadecimal input as strtold reads it.
    assert_eq!(
        q::<String>(&mut c, "INCRBYFLOAT g 1e20").unwrap(),
        "100000000000000000000"
    );
    assert_eq!(q::<String>(&mut c, "INCRBYFLOAT h 0x1.8p1").unwrap(), "3");
    q::<String>(&mut c, "AI.TENSORSET tf FLOAT 1").unwrap();
    assert_eq!(
        qerr(&mut c, "INCRBYFLOAT tf notanumber"),
        "WRONGTYPE Operation against a key holding the wrong kind of value",
        "the key's type is checked before the increment"
    );
    q::<String>(&mut c, "SET s abc").unwrap();
    assert_eq!(
        qerr(&mut c, "INCR s"),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        qerr(&mut c, "INCRBYFLOAT s 1"),
        "ERR value is not a valid float"
    );
    q::<String>(&mut c, "SET big 9223372036854775807").unwrap();
    assert_eq!(
        qerr(&mut c, "INCR big"),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(q::<i64>(&mut c, "APPEND s def").unwrap(), 6);
    assert_eq!(q::<i64>(&mut c, "STRLEN s").unwrap(), 6);
    assert_eq!(q::<i64>(&mut c, "STRLEN nokey").unwrap(), 0);
    assert_eq!(q::<String>(&mut c, "MSET a 1 b 2").unwrap(), "OK");
    assert_eq!(
        q::<Vec<Option<String>>>(&mut c, "MGET a nokey b").unwrap(),
        vec![Some("1".into()), None, Some("2".into())]
    );
    assert!(qerr(&mut c, "MSET a 1 b").contains("wrong number of arguments for 'mset'"));
    assert_eq!(q::<i64>(&mut c, "SETNX a x").unwrap(), 0);
    assert_eq!(q::<i64>(&mut c, "SETNX c x").unwrap(), 1);
    assert_eq!(q::<String>(&mut c, "GETDEL c").unwrap(), "x");
    assert_eq!(q::<i64>(&mut c, "EXISTS c").unwrap(), 0);
    // Binary-safe values.
    let blob: Vec<u8> = (0..=255).collect();
    redis::cmd("SET")
        .arg("bin")
        .arg(&blob)
        .query::<()>(&mut c)
        .unwrap();
    assert_eq!(
        redis::cmd("GET")
            .arg("bin")
            .query::<Vec<u8>>(&mut c)
            .unwrap(),
        blob
    );
    // A string command on a tensor is a type error.
    q::<String>(&mut c, "AI.TENSORSET t FLOAT 1").unwrap();
    assert_eq!(
        qerr(&mut c, "GET t"),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        qerr(&mut c, "APPEND t x"),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}

#[test]
fn lazy_expiry_deletes_on_access_and_propagates_del() {
    let s = Server::start();
    let mut c = s.con();
    tap(&mut c);
    q::<String>(&mut c, "DEBUG SET-ACTIVE-EXPIRE 0").unwrap();
    q::<String>(&mut c, "SET k v PX 50").unwrap();
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(
        q::<i64>(&mut c, "DBSIZE").unwrap(),
        1,
        "not yet collected without active expiry"
    );
    assert_eq!(q::<Option<String>>(&mut c, "GET k").unwrap(), None);
    assert_eq!(q::<i64>(&mut c, "DBSIZE").unwrap(), 0);
    assert_eq!(
        effects(&mut c, 1),
        vec![vec!["DEL".to_string(), "k".into()]]
    );
    let info: String = q(&mut c, "INFO stats").unwrap();
    assert!(info.contains("expired_keys:1"), "{info}");
}

#[test]
fn active_expiry_collects_untouched_keys() {
    let s = Server::start();
    let mut c = s.con();
    for i in 0..500 {
        q::<String>(&mut c, &format!("SET k{i} v PX 30")).unwrap();
    }
    q::<String>(&mut c, "SET keep v").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while q::<i64>(&mut c, "DBSIZE").unwrap() > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "active expiry did not collect the keys"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(q::<String>(&mut c, "GET keep").unwrap(), "v");
}

#[test]
fn resp3_connection_sees_the_same_data() {
    let s = Server::start();
    let mut c3 = s.con3();
    assert_eq!(q::<String>(&mut c3, "SET k v").unwrap(), "OK");
    assert_eq!(q::<Value>(&mut c3, "GET nope").unwrap(), Value::Nil);
    let mut c2 = s.con();
    assert_eq!(q::<String>(&mut c2, "GET k").unwrap(), "v");
}
