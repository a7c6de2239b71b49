//! MULTI / EXEC / DISCARD / WATCH.

use redis::Value;

use crate::common::{q, qerr, Server};
use crate::strings::{effects, tap};

#[test]
fn multi_exec_queues_and_runs_atomically() {
    let s = Server::start();
    tap(&mut s.con());
    let mut raw = s.raw();
    raw.expect(
        b"MULTI\r\nSET a 1\r\nINCR a\r\nGET a\r\nEXEC\r\n",
        b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n",
    );
    let mut c = s.con();
    let eff = effects(&mut c, 4);
    assert_eq!(eff[0], vec!["MULTI"]);
    assert_eq!(
        eff[3],
        vec!["EXEC"],
        "transaction effects are wrapped: {eff:?}"
    );
    // Runtime errors inside EXEC do not abort the others.
    raw.expect(b"MULTI\r\nSET s x\r\nINCR s\r\nSET t y\r\nEXEC\r\n", b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n+OK\r\n");
}

#[test]
fn queue_time_errors_abort_exec() {
    let s = Server::start();
    let mut raw = s.raw();
    raw.expect(
        b"MULTI\r\nSET a 1\r\nGET\r\nEXEC\r\n",
        b"+OK\r\n+QUEUED\r\n-ERR wrong number of arguments for 'get' command\r\n-EXECABORT Transaction discarded because of previous errors.\r\n",
    );
    raw.expect(b"GET a\r\n", b"$-1\r\n");
    raw.expect(b"EXEC\r\n", b"-ERR EXEC without MULTI\r\n");
    raw.expect(b"DISCARD\r\n", b"-ERR DISCARD without MULTI\r\n");
    raw.expect(
        b"MULTI\r\nMULTI\r\n",
        b"+OK\r\n-ERR MULTI calls can not be nested\r\n",
    );
    raw.expect(
        b"WATCH x\r\n",
        b"-ERR WATCH inside MULTI is not allowed\r\n",
    );
    raw.expect(b"DISCARD\r\nPING\r\n", b"+OK\r\n+PONG\r\n");
}

#[test]
fn watch_aborts_on_concurrent_write() {
    let s = Server::start();
    let mut a = s.con();
    let mut b = s.con();
    q::<String>(&mut a, "SET k 1").unwrap();
    q::<String>(&mut a, "WATCH k").unwrap();
    q::<String>(&mut b, "SET k 2").unwrap();
    q::<String>(&mut a, "MULTI").unwrap();
    q::<String>(&mut a, "SET k 3").unwrap();
    assert_eq!(
        q::<Value>(&mut a, "EXEC").unwrap(),
        Value::Nil,
        "EXEC aborted by WATCH"
    );
    assert_eq!(q::<String>(&mut a, "GET k").unwrap(), "2");
    // Without interference it goes through; UNWATCH forgets.
    q::<String>(&mut a, "WATCH k").unwrap();
    q::<String>(&mut a, "MULTI").unwrap();
    q::<String>(&mut a, "SET k 4").unwrap();
    assert_eq!(q::<Vec<String>>(&mut a, "EXEC").unwrap(), vec!["OK"]);
    q::<String>(&mut a, "WATCH k").unwrap();
    q::<String>(&mut b, "SET k 5").unwrap();
    q::<String>(&mut a, "UNWATCH").unwrap();
    q::<String>(&mut a, "MULTI").unwrap();
    q::<String>(&mut a, "SET k 6").unwrap();
    assert_eq!(q::<Vec<String>>(&mut a, "EXEC").unwrap(), vec!["OK"]);
    // Raw RESP2 bytes for an aborted EXEC are a null array.
    let mut raw = s.raw();
    raw.expect(b"WATCH k\r\n", b"+OK\r\n");
    q::<String>(&mut b, "DEL k")
        .map(|_: String| ())
        .unwrap_or(());
    raw.expect(b"MULTI\r\nGET k\r\nEXEC\r\n", b"+OK\r\n+QUEUED\r\n*-1\r\n");
    assert_eq!(qerr(&mut a, "EXEC"), "ERR EXEC without MULTI");
}

#[test]
fn watch_sees_expiry_and_flushall() {
    let s = Server::start();
    let mut a = s.con();
    let mut b = s.con();
    q::<String>(&mut a, "SET k v").unwrap();
    q::<String>(&mut a, "WATCH k").unwrap();
    q::<String>(&mut b, "FLUSHALL").unwrap();
    q::<String>(&mut a, "MULTI").unwrap();
    q::<String>(&mut a, "PING").unwrap();
    assert_eq!(q::<Value>(&mut a, "EXEC").unwrap(), Value::Nil);
    q::<String>(&mut a, "SET e v PX 50").unwrap();
    q::<String>(&mut a, "WATCH e").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    q::<String>(&mut a, "MULTI").unwrap();
    q::<String>(&mut a, "PING").unwrap();
    assert_eq!(
        q::<Value>(&mut a, "EXEC").unwrap(),
        Value::Nil,
        "a watched key that expired aborts EXEC"
    );
}

#[test]
fn transaction_edge_cases_follow_redis() {
    let s = Server::start();
    let mut raw = s.raw();
    // A refused EXEC ends the transaction and says why.
    raw.expect(
        b"MULTI\r\nSET a 1\r\nEXEC x\r\nEXEC\r\n",
        b"+OK\r\n+QUEUED\r\n-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n-ERR EXEC without MULTI\r\n",
    );
    // WATCH inside MULTI is refused but does not doom the transaction.
    raw.expect(
        b"MULTI\r\nWATCH a\r\nSET a 2\r\nEXEC\r\n",
        b"+OK\r\n-ERR WATCH inside MULTI is not allowed\r\n+QUEUED\r\n*1\r\n+OK\r\n",
    );
    // Bad subcommands are caught when queued, from the command table.
    raw.expect(
        b"MULTI\r\nCONFIG NOPE\r\nCONFIG GET\r\nEXEC\r\n",
        b"+OK\r\n-ERR unknown subcommand 'NOPE'. Try CONFIG HELP.\r\n-ERR wrong number of arguments for 'config|get' command\r\n-EXECABORT Transaction discarded because of previous errors.\r\n",
    );
    // CONFIG SET inside EXEC (which holds the engine) completes.
    raw.expect(
        b"MULTI\r\nCONFIG SET slowlog-max-len 64\r\nCONFIG GET slowlog-max-len\r\nEXEC\r\n",
        b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n*2\r\n$15\r\nslowlog-max-len\r\n$2\r\n64\r\n",
    );
    // MONITOR cannot run inside EXEC; SUBSCRIBE's frames follow one another in EXEC's reply.
    raw.expect(
        b"MULTI\r\nMONITOR\r\nEXEC\r\n",
        b"+OK\r\n+QUEUED\r\n*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n",
    );
    raw.expect(
        b"MULTI\r\nSUBSCRIBE c1 c2\r\nEXEC\r\n",
        b"+OK\r\n+QUEUED\r\n*1\r\n*3\r\n$9\r\nsubscribe\r\n$2\r\nc1\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$2\r\nc2\r\n:2\r\n",
    );
}

#[test]
fn flushall_breaks_only_watches_on_existing_keys() {
    let s = Server::start();
    let mut raw = s.raw();
    let mut other = s.con();
    raw.expect(b"WATCH missing\r\n", b"+OK\r\n");
    q::<()>(&mut other, "FLUSHALL").unwrap();
    raw.expect(
        b"MULTI\r\nSET k 1\r\nEXEC\r\n",
        b"+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n",
    );
    raw.expect(b"WATCH k\r\n", b"+OK\r\n");
    q::<()>(&mut other, "FLUSHALL").unwrap();
    raw.expect(
        b"MULTI\r\nSET k 2\r\nEXEC\r\n",
        b"+OK\r\n+QUEUED\r\n*-1\r\n",
    );
}
