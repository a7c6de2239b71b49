//! Generic key commands: DEL, EXISTS, TYPE, KEYS, SCAN, RENAME, EXPIRE family, PERSIST, RANDOMKEY, FLUSHALL.

use std::collections::HashSet;

use crate::common::{q, qerr, Server};
use crate::strings::{effects, tap};

#[test]
fn del_exists_type_rename() {
    let s = Server::start();
    let mut c = s.con();
    tap(&mut c);
    q::<String>(&mut c, "MSET a 1 b 2 c 3").unwrap();
    assert_eq!(q::<i64>(&mut c, "EXISTS a b nokey a").unwrap(), 3);
    assert_eq!(q::<i64>(&mut c, "DEL a nokey b").unwrap(), 2);
    assert_eq!(
        effects(&mut c, 1),
        vec![vec!["DEL".to_string(), "a".into(), "b".into()]]
    );
    assert_eq!(q::<i64>(&mut c, "UNLINK c").unwrap(), 1);
    q::<String>(&mut c, "SET s v").unwrap();
    q::<String>(&mut c, "AI.TENSORSET t INT8 1").unwrap();
    assert_eq!(q::<String>(&mut c, "TYPE s").unwrap(), "string");
    assert_eq!(q::<String>(&mut c, "TYPE t").unwrap(), "AI_TENSOR");
    assert_eq!(q::<String>(&mut c, "TYPE nokey").unwrap(), "none");
    q::<i64>(&mut c, "EXPIRE s 100").unwrap();
    assert_eq!(q::<String>(&mut c, "RENAME s s2").unwrap(), "OK");
    assert!(
        q::<i64>(&mut c, "TTL s2").unwrap() > 90,
        "RENAME keeps the TTL"
    );
    assert_eq!(qerr(&mut c, "RENAME nokey x"), "ERR no such key");
    assert_eq!(q::<String>(&mut c, "RENAME t t2").unwrap(), "OK");
    assert_eq!(q::<String>(&mut c, "TYPE t2").unwrap(), "AI_TENSOR");
}

#[test]
fn expire_family_and_persist() {
    let s = Server::start();
    let mut c = s.con();
    tap(&mut c);
    q::<String>(&mut c, "SET k v").unwrap();
    assert_eq!(q::<i64>(&mut c, "TTL k").unwrap(), -1);
    assert_eq!(q::<i64>(&mut c, "TTL nokey").unwrap(), -2);
    assert_eq!(q::<i64>(&mut c, "EXPIRE k 100").unwrap(), 1);
    assert_eq!(effects(&mut c, 1)[0][0], "PEXPIREAT");
    assert_eq!(q::<i64>(&mut c, "EXPIRE k 50 GT").unwrap(), 0);
    assert_eq!(q::<i64>(&mut c, "EXPIRE k 50 LT").unwrap(), 1);
    assert_eq!(q::<i64>(&mut c, "EXPIRE k 10 NX").unwrap(), 0);
    assert!(q::<i64>(&mut c, "PTTL k").unwrap() <= 50_000);
    assert_eq!(q::<i64>(&mut c, "PERSIST k").unwrap(), 1);
    assert_eq!(q::<i64>(&mut c, "PERSIST k").unwrap(), 0);
    assert_eq!(q::<i64>(&mut c, "PEXPIRE k 100000").unwrap(), 1);
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1000;
    assert_eq!(q::<i64>(&mut c, &format!("EXPIREAT k {at}")).unwrap(), 1);
    assert!(q::<i64>(&mut c, "TTL k").unwrap() > 990);
    assert_eq!(
        q::<i64>(&mut c, "PEXPIREAT k 1").unwrap(),
        1,
        "a time in the past deletes the key"
    );
    assert_eq!(q::<i64>(&mut c, "EXISTS k").unwrap(), 0);
    assert_eq!(q::<i64>(&mut c, "EXPIRE nokey 10").unwrap(), 0);
    assert_eq!(
        qerr(&mut c, "EXPIRE k 10 NX XX"),
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    );
    assert_eq!(
        qerr(&mut c, "EXPIRE k 9223372036854775807"),
        "ERR invalid expire time in 'expire' command"
    );
}

#[test]
fn keys_scan_randomkey() {
    let s = Server::start();
    let mut c = s.con();
    for i in 0..300 {
        q::<String>(&mut c, &format!("SET user:{i} v")).unwrap();
    }
    q::<String>(&mut c, "AI.TENSORSET tensor:1 FLOAT 1").unwrap();
    let mut keys: Vec<String> = q(&mut c, "KEYS user:1?").unwrap();
    keys.sort();
    assert_eq!(keys.len(), 10);
    assert_eq!(keys[0], "user:10");
    // A full SCAN returns every key, even with deletions along the way.
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut rounds = 0;
    loop {
        let (next, batch): (String, Vec<String>) =
            q(&mut c, &format!("SCAN {cursor} COUNT 17")).unwrap();
        seen.extend(batch);
        q::<i64>(&mut c, &format!("DEL user:{}", rounds * 7)).unwrap();
        rounds += 1;
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    let left: Vec<String> = q(&mut c, "KEYS *").unwrap();
    for k in left {
        assert!(seen.contains(&k), "SCAN missed {k}");
    }
    let (_, typed): (String, Vec<String>) = q(&mut c, "SCAN 0 COUNT 1000 TYPE AI_TENSOR").unwrap();
    assert_eq!(typed, vec!["tensor:1"]);
    let (_, matched): (String, Vec<String>) =
        q(&mut c, "SCAN 0 MATCH user:29? COUNT 1000").unwrap();
    assert_eq!(matched.len(), 10);
    assert_eq!(qerr(&mut c, "SCAN abc"), "ERR invalid cursor");
    assert_eq!(qerr(&mut c, "SCAN 0 COUNT 0"), "ERR syntax error");
    let r: String = q(&mut c, "RANDOMKEY").unwrap();
    assert!(q::<i64>(&mut c, &format!("EXISTS {r}")).unwrap() == 1);
    assert_eq!(q::<String>(&mut c, "FLUSHALL").unwrap(), "OK");
    assert_eq!(q::<Option<String>>(&mut c, "RANDOMKEY").unwrap(), None);
    assert_eq!(q::<i64>(&mut c, "DBSIZE").unwrap(), 0);
    assert_eq!(q::<String>(&mut c, "FLUSHDB ASYNC").unwrap(), "OK");
    assert_eq!(qerr(&mut c, "FLUSHALL NOW"), "ERR syntax error");
}
