//! INFO, CONFIG, SLOWLOG, MONITOR, TIME, DEBUG, maxclients, config files and shutdown.

use std::time::Duration;

use crate::common::{q, qerr, Server};

#[test]
fn info_sections_use_redis_field_names() {
    let s = Server::start();
    let mut c = s.con();
    q::<String>(&mut c, "SET a 1").unwrap();
    let info: String = q(&mut c, "INFO").unwrap();
    for field in [
        "redis_version:",
        "tcp_port:",
        "connected_clients:1",
        "used_memory:",
        "total_commands_processed:",
        "role:master",
        "db0:keys=1,expires=0",
        "# AI",
        "used_cpu_user:",
    ] {
        assert!(info.contains(field), "INFO lacks {field}:\n{info}");
    }
    assert!(!info.contains("cmdstat_"));
    let stats: String = q(&mut c, "INFO commandstats").unwrap();
    assert!(stats.contains("cmdstat_set:calls=1"), "{stats}");
    let one: String = q(&mut c, "INFO clients").unwrap();
    assert!(one.starts_with("# Clients") && !one.contains("# Server"));
}

#[test]
fn config_get_set_resetstat() {
    let s = Server::start();
    let mut c = s.con();
    let port: Vec<String> = q(&mut c, "CONFIG GET port").unwrap();
    assert_eq!(port, vec!["port".to_string(), s.port.to_string()]);
    let many: Vec<String> = q(&mut c, "CONFIG GET slowlog* maxclients").unwrap();
    assert_eq!(many.len(), 6);
    assert_eq!(
        q::<String>(&mut c, "CONFIG SET maxclients 50 hz 20").unwrap(),
        "OK"
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, "CONFIG GET maxclients").unwrap()[1],
        "50"
    );
    assert_eq!(
        qerr(&mut c, "CONFIG SET nosuch 1"),
        "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
    );
    assert_eq!(qerr(&mut c, "CONFIG SET maxclients abc"), "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer");
    assert_eq!(
        qerr(&mut c, "CONFIG SET port 1"),
        "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config"
    );
    // All or nothing.
    assert!(qerr(&mut c, "CONFIG SET hz 30 maxclients bad").starts_with("ERR CONFIG SET failed"));
    assert_eq!(q::<Vec<String>>(&mut c, "CONFIG GET hz").unwrap()[1], "20");
    assert_eq!(
        q::<String>(&mut c, "CONFIG SET maxmemory 1mb").unwrap(),
        "OK"
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, "CONFIG GET maxmemory").unwrap()[1],
        "1048576"
    );
    assert_eq!(q::<String>(&mut c, "CONFIG RESETSTAT").unwrap(), "OK");
    let info: String = q(&mut c, "INFO stats").unwrap();
    assert!(
        info.contains("total_commands_processed:0") || info.contains("total_commands_processed:1"),
        "{info}"
    );
    assert_eq!(
        qerr(&mut c, "CONFIG REWRITE"),
        "ERR The server is running without a config file"
    );
    // Redis's checks: ranges, strict integers, duplicates, pairs, clamped hz, names echoed as typed.
    assert_eq!(qerr(&mut c, "CONFIG SET proto-max-bulk-len 1000"), "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive");
    assert_eq!(qerr(&mut c, "CONFIG SET maxclients +5"), "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer");
    assert_eq!(
        qerr(&mut c, "CONFIG SET hz 5 HZ 6"),
        "ERR CONFIG SET failed (possibly related to argument 'HZ') - duplicate parameter"
    );
    assert_eq!(
        qerr(&mut c, "CONFIG SET hz 5 maxclients"),
        "ERR syntax error"
    );
    assert_eq!(
        qerr(&mut c, "CONFIG SET hz"),
        "ERR wrong number of arguments for 'config|set' command"
    );
    assert_eq!(q::<String>(&mut c, "CONFIG SET hz 100000").unwrap(), "OK");
    assert_eq!(
        q::<Vec<String>>(&mut c, "CONFIG GET HZ").unwrap(),
        vec!["HZ", "500"]
    );
    assert_eq!(qerr(&mut c, "CONFIG SET loglevel loud"), "ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning, nothing");
}

#[test]
fn request_limits_apply_to_open_connections() {
    let s = Server::start();
    let mut c = s.con();
    let mut raw = s.raw();
    raw.expect(b"PING\r\n", b"+PONG\r\n");
    q::<()>(&mut c, "CONFIG SET proto-max-bulk-len 1mb").unwrap();
    let mut req = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n".to_vec();
    req.extend(vec![b'x'; 100]);
    raw.expect(&req, b"-ERR Protocol error: invalid bulk length\r\n");
    raw.expect_closed();
    assert_eq!(q::<String>(&mut c, "PING").unwrap(), "PONG");
}

#[test]
fn maxmemory_refuses_denyoom_writes() {
    let s = Server::with_args(&["--maxmemory", "100kb"]);
    let mut c = s.con();
    let v = "x".repeat(40_000);
    for k in ["a", "b", "c"] {
        redis::cmd("SET")
            .arg(k)
            .arg(&v)
            .query::<()>(&mut c)
            .unwrap();
    }
    let e = redis::cmd("SET")
        .arg("d")
        .arg(&v)
        .query::<()>(&mut c)
        .unwrap_err();
    assert_eq!(
        crate::common::err_text(e),
        "OOM command not allowed when used memory > 'maxmemory'."
    );
    assert_eq!(
        q::<i64>(&mut c, "DEL a").unwrap(),
        1,
        "DEL still works over the limit"
    );
    redis::cmd("SET")
        .arg("d")
        .arg(&v)
        .query::<()>(&mut c)
        .unwrap();
}

#[test]
fn config_file_overrides_and_rewrite() {
    let dir = std::env::temp_dir().join(format!("tc-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tc.conf");
    std::fs::write(&path, "# my settings\nmaxclients 77\nhz 5\n").unwrap();
    let s = {
        let mut args = vec![path.to_str().unwrap()];
        args.extend(["--hz", "15"]);
        // The file must come first: start the binary directly with it.
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tensorcell-server"));
        cmd.arg(path.to_str().unwrap())
            .args(["--port", "0", "--hz", "15"])
            .stdout(std::process::Stdio::piped());
        let _ = args;
        cmd
    };
    let mut child = {
        let mut s = s;
        s.spawn().unwrap()
    };
    let out = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(out));
    let port: u16 = loop {
        let l = lines.next().unwrap().unwrap();
        if let Some(a) = l.split("Listening on ").nth(1) {
            break a.rsplit(':').next().unwrap().parse().unwrap();
        }
    };
    let mut c = crate::common::connect(port);
    assert_eq!(
        q::<Vec<String>>(&mut c, "CONFIG GET maxclients").unwrap()[1],
        "77"
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, "CONFIG GET hz").unwrap()[1],
        "15",
        "command line beats the file"
    );
    q::<String>(&mut c, "CONFIG SET slowlog-max-len 7").unwrap();
    assert_eq!(q::<String>(&mut c, "CONFIG REWRITE").unwrap(), "OK");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("# my settings")
            && text.contains("maxclients 77")
            && text.contains("slowlog-max-len 7")
            && text.contains("hz 15"),
        "{text}"
    );
    let _ = child.kill();
    let _ = child.wait();
    // A bad file refuses to start with Redis's banner.
    std::fs::write(&path, "maxclients lots\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tensorcell-server"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("FATAL CONFIG FILE ERROR"));
}

#[test]
fn slowlog_records_slow_commands() {
    let s = Server::with_args(&["--slowlog-log-slower-than", "0"]);
    let mut c = s.con();
    q::<String>(&mut c, "SLOWLOG RESET").unwrap();
    q::<String>(&mut c, "SET slow v").unwrap();
    assert!(q::<i64>(&mut c, "SLOWLOG LEN").unwrap() >= 1);
    let entries: Vec<(i64, i64, i64, Vec<String>, String, String)> =
        q(&mut c, "SLOWLOG GET 10").unwrap();
    assert!(
        entries.iter().any(|e| e.3 == vec!["SET", "slow", "v"]),
        "{entries:?}"
    );
    q::<String>(&mut c, "CONFIG SET slowlog-log-slower-than -1").unwrap();
    q::<String>(&mut c, "SLOWLOG RESET").unwrap();
    q::<String>(&mut c, "SET fast v").unwrap();
    assert_eq!(q::<i64>(&mut c, "SLOWLOG LEN").unwrap(), 0);
}

#[test]
fn monitor_streams_commands() {
    let s = Server::start();
    let mut raw = s.raw();
    raw.expect(b"MONITOR\r\n", b"+OK\r\n");
    let mut c = s.con();
    redis::cmd("SET")
        .arg("mon")
        .arg("x y")
        .query::<()>(&mut c)
        .unwrap();
    // The client's own handshake (CLIENT SETINFO) shows up first; find our command's line.
    let text = loop {
        let mut line = Vec::new();
        while !line.ends_with(b"\r\n") {
            line.extend(raw.read_n(1));
        }
        let text = String::from_utf8(line).unwrap();
        if text.contains("\"mon\"") {
            break text;
        }
    };
    assert!(
        text.starts_with('+')
            && text.contains("[0 127.0.0.1:")
            && text.ends_with("\"SET\" \"mon\" \"x y\"\r\n"),
        "{text}"
    );
}

#[test]
fn time_and_debug_sleep_do_not_block_others() {
    let s = Server::with_args(&["--io-threads", "2"]);
    let mut c = s.con();
    let t: Vec<String> = q(&mut c, "TIME").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(t[0].parse::<u64>().unwrap().abs_diff(now) <= 2);
    let port = s.port;
    let sleeper = std::thread::spawn(move || {
        let mut c = crate::common::connect(port);
        q::<String>(&mut c, "DEBUG SLEEP 1").unwrap();
    });
    std::thread::sleep(Duration::from_millis(100));
    // With two I/O threads, a client on the other thread still gets answers while one sleeps.
    assert_eq!(q::<String>(&mut c, "PING").unwrap(), "PONG");
    sleeper.join().unwrap();
}

#[test]
fn maxclients_refuses_extra_connections() {
    let s = Server::with_args(&["--maxclients", "2"]);
    let _a = s.con();
    let _b = s.con();
    let mut raw = s.raw();
    let mut buf = Vec::new();
    use std::io::Read;
    raw.s.read_to_end(&mut buf).unwrap();
    assert_eq!(buf, b"-ERR max number of clients reached\r\n");
    drop(_a);
    std::thread::sleep(Duration::from_millis(200));
    let mut c = s.con();
    assert_eq!(
        q::<String>(&mut c, "PING").unwrap(),
        "PONG",
        "a freed slot is usable again"
    );
}

#[test]
fn shutdown_command_and_sigterm_stop_the_server() {
    let mut s = Server::start();
    let mut raw = s.raw();
    raw.send(b"SHUTDOWN NOSAVE\r\n");
    raw.expect_closed();
    assert!(s
        .wait_exit(Duration::from_secs(10))
        .is_some_and(|st| st.success()));
    let mut s2 = Server::start();
    let _idle = s2.con();
    let pid = s2.pid();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(
        s2.wait_exit(Duration::from_secs(10))
            .is_some_and(|st| st.success()),
        "SIGTERM is a clean exit"
    );
    assert!(s2.wait_log("bye bye"));
}

#[test]
fn role_and_info_replication_describe_a_primary() {
    let s = Server::start();
    let mut c = s.con();
    let role: (String, i64, Vec<redis::Value>) = q(&mut c, "ROLE").unwrap();
    assert_eq!((role.0.as_str(), role.2.len()), ("master", 0));
    let _: () = q(&mut c, "SET k v").unwrap();
    let after: (String, i64, Vec<redis::Value>) = q(&mut c, "ROLE").unwrap();
    // The offset counts the RESP bytes of the effects: `*3 $3 SET $1 k $1 v` is 27.
    assert_eq!(after.1, role.1 + 27);
    let field = |c: &mut redis::Connection, name: &str| -> String {
        let info: String = q(c, "INFO replication").unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("{name} in {info}"))
            .trim()
            .to_string()
    };
    assert_eq!(field(&mut c, "role"), "master");
    assert_eq!(field(&mut c, "master_repl_offset"), after.1.to_string());
    assert_eq!(field(&mut c, "second_repl_offset"), "-1");
    assert_eq!(field(&mut c, "repl_backlog_active"), "0");
    // The backlog starts with its first reader and then keeps every effect.
    let _: redis::Value = q(&mut c, "DEBUG EFFECTS 1").unwrap();
    let _: () = q(&mut c, "SET k2 v2").unwrap();
    assert_eq!(field(&mut c, "repl_backlog_active"), "1");
    let offset: i64 = field(&mut c, "master_repl_offset").parse().unwrap();
    let histlen: i64 = field(&mut c, "repl_backlog_histlen").parse().unwrap();
    assert_eq!(histlen, 29);
    assert_eq!(
        field(&mut c, "repl_backlog_first_byte_offset"),
        (offset - histlen + 1).to_string()
    );
    assert!(qerr(&mut c, "ROLE extra").contains("wrong number of arguments"));
}
