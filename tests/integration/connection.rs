//! PING, ECHO, HELLO/RESP3, AUTH, SELECT, QUIT, RESET, CLIENT, COMMAND, pipelining.

use redis::Value;

use crate::common::{q, qerr, Server};

#[test]
fn ping_echo_and_arity_errors() {
    let s = Server::start();
    let mut c = s.con();
    assert_eq!(q::<String>(&mut c, "PING").unwrap(), "PONG");
    assert_eq!(q::<String>(&mut c, "PING hello").unwrap(), "hello");
    assert_eq!(q::<String>(&mut c, "ECHO hi").unwrap(), "hi");
    assert_eq!(
        qerr(&mut c, "PING a b"),
        "ERR wrong number of arguments for 'ping' command"
    );
    assert_eq!(
        qerr(&mut c, "GET"),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        qerr(&mut c, "NOSUCH a b"),
        "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' "
    );
    // The connection is still usable after errors.
    assert_eq!(q::<String>(&mut c, "PING").unwrap(), "PONG");
}

#[test]
fn hello_switches_to_resp3_maps_and_doubles() {
    let s = Server::start();
    let mut raw = s.raw();
    raw.send(b"HELLO 3\r\n");
    let head = raw.read_n(3);
    assert_eq!(&head, b"%7\r", "HELLO 3 answers with a 7-entry map");
    let mut c3 = s.con3();
    let v: Value = q(&mut c3, "HELLO 3").unwrap();
    let Value::Map(m) = v else {
        panic!("HELLO reply is a map: {v:?}")
    };
    assert!(m
        .iter()
        .any(|(k, v)| *k == Value::BulkString(b"proto".to_vec()) && *v == Value::Int(3)));
    // CONFIG GET is a map in RESP3, a flat array in RESP2.
    assert!(matches!(
        q::<Value>(&mut c3, "CONFIG GET maxclients").unwrap(),
        Value::Map(_)
    ));
    let mut c2 = s.con();
    assert!(matches!(
        q::<Value>(&mut c2, "CONFIG GET maxclients").unwrap(),
        Value::Array(_)
    ));
    assert!(qerr(&mut c2, "HELLO 4").starts_with("NOPROTO"));
}

#[test]
fn resp3_nil_and_double_encoding() {
    let s = Server::start();
    let mut raw = s.raw();
    raw.hello3();
    raw.expect(b"GET missing\r\n", b"_\r\n");
    raw.expect(b"AI.TENSORSET t DOUBLE 1 VALUES 1.5\r\n", b"+OK\r\n");
    raw.expect(b"AI.TENSORGET t VALUES\r\n", b"*1\r\n,1.5\r\n");
    let mut raw2 = s.raw();
    raw2.expect(b"GET missing\r\n", b"$-1\r\n");
    raw2.expect(b"AI.TENSORGET t VALUES\r\n", b"*1\r\n$3\r\n1.5\r\n");
}

#[test]
fn auth_and_requirepass() {
    let s = Server::with_args(&["--requirepass", "sekret"]);
    let mut raw = s.raw();
    raw.expect(b"GET k\r\n", b"-NOAUTH Authentication required.\r\n");
    raw.expect(
        b"AUTH wrong\r\n",
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    raw.expect(b"AUTH sekret\r\n", b"+OK\r\n");
    raw.expect(b"GET k\r\n", b"$-1\r\n");
    let mut raw2 = s.raw();
    raw2.send(b"HELLO 3 AUTH default sekret\r\n");
    assert_eq!(raw2.read_n(3), b"%7\r");
    let c = redis::Client::open(format!("redis://:sekret@127.0.0.1:{}/", s.port)).unwrap();
    let mut con = c.get_connection().unwrap();
    assert_eq!(q::<String>(&mut con, "PING").unwrap(), "PONG");
}

#[test]
fn select_quit_reset() {
    let s = Server::start();
    let mut c = s.con();
    assert_eq!(q::<String>(&mut c, "SELECT 0").unwrap(), "OK");
    assert_eq!(qerr(&mut c, "SELECT 1"), "ERR DB index is out of range");
    let mut raw = s.raw();
    raw.expect(b"MULTI\r\nRESET\r\nPING\r\n", b"+OK\r\n+RESET\r\n+PONG\r\n");
    raw.expect(b"QUIT\r\n", b"+OK\r\n");
    raw.expect_closed();
}

#[test]
fn client_commands() {
    let s = Server::start();
    let mut c = s.con();
    let id: i64 = q(&mut c, "CLIENT ID").unwrap();
    assert!(id > 0);
    assert_eq!(q::<Option<String>>(&mut c, "CLIENT GETNAME").unwrap(), None);
    assert_eq!(
        q::<String>(&mut c, "CLIENT SETNAME worker-1").unwrap(),
        "OK"
    );
    assert_eq!(q::<String>(&mut c, "CLIENT GETNAME").unwrap(), "worker-1");
    assert!(qerr(&mut c, "CLIENT SETNAME").contains("wrong number of arguments"));
    assert_eq!(
        q::<String>(&mut c, "CLIENT SETINFO LIB-NAME mylib").unwrap(),
        "OK"
    );
    let info: String = q(&mut c, "CLIENT INFO").unwrap();
    assert!(
        info.contains(&format!("id={id} "))
            && info.contains("name=worker-1")
            && info.contains("lib-name=mylib"),
        "{info}"
    );
    let mut other = s.con();
    let other_id: i64 = q(&mut other, "CLIENT ID").unwrap();
    let list: String = q(&mut c, "CLIENT LIST").unwrap();
    assert_eq!(list.lines().count(), 2, "{list}");
    assert_eq!(
        q::<i64>(&mut c, &format!("CLIENT KILL ID {other_id}")).unwrap(),
        1
    );
    assert!(
        q::<String>(&mut other, "PING").is_err(),
        "killed client is disconnected"
    );
    assert!(qerr(&mut c, "CLIENT NOPE").starts_with("ERR unknown subcommand 'NOPE'"));
    assert_eq!(
        qerr(&mut c, "CLIENT KILL"),
        "ERR wrong number of arguments for 'client|kill' command"
    );
    assert_eq!(
        qerr(&mut c, "CLIENT KILL USER nobody"),
        "ERR No such user 'nobody'"
    );
    assert_eq!(q::<i64>(&mut c, "CLIENT KILL TYPE pubsub").unwrap(), 0);
    assert_eq!(q::<String>(&mut c, "CLIENT LIST ID 0").unwrap(), "");
    // With no requirepass the default user takes any password, as Redis's `nopass` default user.
    assert_eq!(q::<String>(&mut c, "AUTH default whatever").unwrap(), "OK");
    assert_eq!(
        qerr(&mut c, "SELECT x"),
        "ERR value is not an integer or out of range"
    );
}

#[test]
fn command_table_introspection() {
    let s = Server::start();
    let mut c = s.con();
    let count: i64 = q(&mut c, "COMMAND COUNT").unwrap();
    let all: Vec<Value> = q(&mut c, "COMMAND").unwrap();
    assert_eq!(all.len() as i64, count);
    let info: Vec<Value> = q(&mut c, "COMMAND INFO get ai.tensorset nosuch").unwrap();
    let Value::Array(get) = &info[0] else {
        panic!("{info:?}")
    };
    assert_eq!(get[0], Value::BulkString(b"get".to_vec()));
    assert_eq!(get[1], Value::Int(2));
    assert_eq!(
        (get[3].clone(), get[4].clone(), get[5].clone()),
        (Value::Int(1), Value::Int(1), Value::Int(1))
    );
    let Value::Array(ts) = &info[1] else { panic!() };
    assert_eq!(ts[1], Value::Int(-4));
    assert_eq!(info[2], Value::Nil);
    let keys: Vec<String> = q(&mut c, "COMMAND GETKEYS MSET a 1 b 2").unwrap();
    assert_eq!(keys, vec!["a", "b"]);
    assert_eq!(
        qerr(&mut c, "COMMAND GETKEYS PING"),
        "ERR The command has no key arguments"
    );
    // Commands whose keys are found by reading them (RedisAI's getkeys-api): every key, in order.
    for (line, want) in [
        (
            "COMMAND GETKEYS AI.MODELEXECUTE m INPUTS 2 a b OUTPUTS 1 c TIMEOUT 9",
            vec!["m", "a", "b", "c"],
        ),
        (
            "COMMAND GETKEYS AI.SCRIPTEXECUTE s f KEYS 1 k INPUTS 1 i ARGS 1 x OUTPUTS 1 o",
            vec!["s", "k", "i", "o"],
        ),
        (
            "COMMAND GETKEYS AI.DAGEXECUTE LOAD 1 a PERSIST 1 b ROUTING r |> AI.MODELEXECUTE m INPUTS 1 a OUTPUTS 1 b",
            vec!["a", "b", "r", "m"],
        ),
        // The `=>` form: each op's keys, but not the DAG's ~volatile~ names; ops may leave out `AI.`.
        (
            "COMMAND GETKEYS AI.DAGRUN AI.TENSORSET ~x~ FLOAT 1 VALUES 1 => MODELRUN m INPUTS ~x~ OUTPUTS y",
            vec!["m", "y"],
        ),
        (
            "COMMAND GETKEYS AI.DAGRUN AI.MODELRUN m INPUTS a OUTPUTS b",
            vec!["m", "a", "b"],
        ),
        (
            "COMMAND GETKEYS AI.SCRIPTRUN s f INPUTS a $ b c OUTPUTS o",
            vec!["s", "a", "b", "c", "o"],
        ),
    ] {
        let keys: Vec<String> = q(&mut c, line).unwrap();
        assert_eq!(keys, want, "{line}");
    }
    let info: Value = q(&mut c, "COMMAND INFO ai.modelexecute").unwrap();
    assert!(format!("{info:?}").contains("movablekeys"), "{info:?}");
    let mut list: Vec<String> = q(&mut c, "COMMAND LIST FILTERBY PATTERN ai.tensor*").unwrap();
    list.sort();
    assert_eq!(list, vec!["ai.tensorget", "ai.tensorset"]);
    let docs: Value = q(&mut c, "COMMAND DOCS get").unwrap();
    assert!(format!("{docs:?}").contains("Returns the string value of a key."));
}

#[test]
fn pipelining_runs_every_frame_in_order() {
    let s = Server::start();
    let mut raw = s.raw();
    let mut input = Vec::new();
    let mut expected = Vec::new();
    for i in 0..200 {
        input.extend(
            format!(
                "*3\r\n$3\r\nSET\r\n$2\r\nk{}\r\n$1\r\n{}\r\n",
                i % 10,
                i % 10
            )
            .as_bytes(),
        );
        expected.extend(b"+OK\r\n");
        input.extend(b"INCR n\r\n");
        expected.extend(format!(":{}\r\n", i + 1).as_bytes());
    }
    raw.expect(&input, &expected);
    let mut c = s.con();
    let mut p = redis::pipe();
    for i in 0..100 {
        p.cmd("SET").arg(format!("p{i}")).arg(i);
    }
    p.cmd("DBSIZE");
    let out: Vec<Value> = p.query(&mut c).unwrap();
    assert_eq!(out.last(), Some(&Value::Int(111)));
}
