//! Starts a server process on port 0 and gives tests clients: `redis` crate connections (RESP2 or RESP3)
//! and a raw socket for byte-exact checks. The guard kills the server even when a test panics.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct Server {
    _dir: Option<TempDir>,
    child: Child,
    pub port: u16,
    /// Log lines printed after start-up.
    pub log: mpsc::Receiver<String>,
}

impl Server {
    pub fn start() -> Server {
        Self::with_args(&[])
    }

    pub fn with_args(extra: &[&str]) -> Server {
        Self::with_env(extra, &[])
    }

    /// A server with extra environment variables (`None` removes one).
    pub fn with_env(extra: &[&str], env: &[(&str, Option<&str>)]) -> Server {
        if module_front() {
            return Self::module(extra, env);
        }
        let mut args: Vec<String> = ["--port", "0", "--loglevel", "verbose"]
            .map(String::from)
            .into();
        args.extend(extra.iter().map(|a| a.to_string()));
        Self::launch(
            env!("CARGO_BIN_EXE_tensorcell-server"),
            &args,
            env,
            "server printed its port",
            |line| {
                let addr = line.split("Listening on ").nth(1)?;
                Some(addr.rsplit(':').next().unwrap().trim().parse().unwrap())
            },
        )
    }

    /// Debian's redis-server with the module loaded, on a free port: the AI directives among `extra` become
    /// load arguments, the rest are redis-server's own.
    fn module(extra: &[&str], env: &[(&str, Option<&str>)]) -> Server {
        let so = std::env::var("TENSORCELL_MODULE").unwrap_or_else(|_| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/target/debug/libtensorcell_module.so"
            )
            .into()
        });
        let (mut module_args, mut rest) = (Vec::new(), Vec::new());
        let mut i = 0;
        while i < extra.len() {
            let name = extra[i].trim_start_matches("--");
            // The engine's directives go to the module; Redis's own (`--loglevel` among them, for
            // redis-server's log) to redis-server.
            let engine =
                name != "loglevel" && tensorcell::config::ENGINE_DIRECTIVES.contains(&name);
            if extra[i].starts_with("--") && engine && i + 1 < extra.len() {
                module_args.extend([name.to_string(), extra[i + 1].to_string()]);
                i += 2;
            } else {
                rest.push(extra[i].to_string());
                i += 1;
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut args: Vec<String> = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--enable-debug-command",
            "yes",
        ]
        .map(String::from)
        .into();
        args.extend(rest);
        args.extend(["--loadmodule".to_string(), so]);
        args.extend(module_args);
        Self::launch(
            "redis-server",
            &args,
            env,
            "redis-server with the module became ready",
            |line| line.contains("Ready to accept connections").then_some(port),
        )
    }

    /// Starts `program` with `args` (after a `--dir` of its own, unless `args` name one) and `env`, and
    /// waits for the log line `ready` finds the port in.
    fn launch(
        program: &str,
        args: &[String],
        env: &[(&str, Option<&str>)],
        what: &str,
        ready: impl Fn(&str) -> Option<u16>,
    ) -> Server {
        let mut cmd = Command::new(program);
        for (k, v) in env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        // Each server persists into a directory of its own (never the checkout, never another test's),
        // unless the test names one to restart a server on the same files.
        let own_dir = (!args.iter().any(|a| a == "--dir")).then(TempDir::new);
        if let Some(d) = &own_dir {
            cmd.args(["--dir", d.path()]);
        }
        let mut child = cmd
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {program}: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let port = loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect(what);
            if let Some(port) = ready(&line) {
                break port;
            }
        };
        Server {
            child,
            port,
            log: rx,
            _dir: own_dir,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A RESP2 connection.
    pub fn con(&self) -> redis::Connection {
        let c = connect(self.port);
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c
    }

    /// A RESP3 connection (the client sends HELLO 3).
    pub fn con3(&self) -> redis::Connection {
        let c = redis::Client::open(format!("{}?protocol=resp3", self.url()))
            .unwrap()
            .get_connection()
            .unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c
    }

    pub fn raw(&self) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Raw { s }
    }

    /// Waits for the process to exit by itself; returns whether it did within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until a log line containing `needle` appears.
    pub fn wait_log(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Ok(line) = self
            .log
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if line.contains(needle) {
                return true;
            }
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw socket for byte-exact protocol checks.
pub struct Raw {
    pub s: TcpStream,
}

impl Raw {
    pub fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// Reads exactly `n` bytes.
    pub fn read_n(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.s
            .read_exact(&mut buf)
            .unwrap_or_else(|e| panic!("reading {n} bytes: {e}"));
        buf
    }

    /// Switches the connection to RESP3 and consumes HELLO's reply (it ends with the empty modules list).
    pub fn hello3(&mut self) {
        self.send(b"HELLO 3\r\n");
        let mut got = Vec::new();
        while !got.ends_with(b"modules\r\n*0\r\n") {
            got.extend(self.read_n(1));
        }
    }

    /// Sends `input` and asserts the reply bytes are exactly `expected`.
    pub fn expect(&mut self, input: &[u8], expected: &[u8]) {
        self.send(input);
        let got = self.read_n(expected.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected),
            "reply to {:?}",
            String::from_utf8_lossy(input)
        );
    }

    /// Asserts the server closes the connection (after any pending bytes).
    pub fn expect_closed(&mut self) {
        let mut buf = [0u8; 256];
        match self.s.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!(
                "expected close, got {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("expected close, got error {e}"),
        }
    }
}

/// Runs a whitespace-separated command (no spaces inside arguments) and converts its reply.
/// A RESP2 connection to the server on `port`, without a read timeout (for a thread that outlives the
/// borrow of its `Server`, or a call that is meant to wait).
/// The front end the suite runs against: the standalone server, or with `TENSORCELL_FRONT=module` Debian's
/// redis-server with the module (scripts/test runs the AI test groups both ways).
pub fn module_front() -> bool {
    std::env::var("TENSORCELL_FRONT").is_ok_and(|f| f == "module")
}

/// What Redis propagates, read as a replica reads it (`PSYNC ? -1`): the module's stand-in for the
/// standalone server's `DEBUG EFFECTS`. One per server, by port.
pub struct ReplicaTap {
    stream: TcpStream,
    buf: Vec<u8>,
    seen: Vec<Vec<Vec<u8>>>,
}

static TAPS: std::sync::Mutex<Vec<(u16, ReplicaTap)>> = std::sync::Mutex::new(Vec::new());

fn port_of(c: &mut redis::Connection) -> u16 {
    let v: Vec<String> = q(c, "CONFIG GET port").unwrap();
    v[1].parse().unwrap()
}

impl ReplicaTap {
    /// Connects as a replica, reads the initial snapshot, and keeps the stream for [`Self::newest`].
    pub fn start(c: &mut redis::Connection) {
        let port = port_of(c);
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream.write_all(b"PSYNC ? -1\r\n").unwrap();
        let mut r = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert!(line.starts_with("+FULLRESYNC"), "{line}");
        // Newlines are keep-alives until the snapshot's header.
        let header = loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                continue;
            }
            break line.trim().to_string();
        };
        let mut rest = r.buffer().to_vec();
        if let Some(mark) = header.strip_prefix("$EOF:") {
            // Diskless: the snapshot ends with the 40-byte mark.
            let mark = mark.as_bytes().to_vec();
            let mut chunk = [0u8; 65536];
            loop {
                if let Some(at) = rest.windows(mark.len()).position(|w| w == mark) {
                    rest.drain(..at + mark.len());
                    break;
                }
                let n = stream.read(&mut chunk).unwrap();
                assert!(n > 0, "the stream closed during the snapshot");
                rest.extend_from_slice(&chunk[..n]);
            }
        } else {
            let len: usize = header.trim_start_matches('$').parse().unwrap();
            while rest.len() < len {
                let mut chunk = vec![0u8; len - rest.len()];
                let n = stream.read(&mut chunk).unwrap();
                assert!(n > 0, "the stream closed during the snapshot");
                rest.extend_from_slice(&chunk[..n]);
            }
            rest.drain(..len);
        }
        let tap = ReplicaTap {
            stream,
            buf: rest,
            seen: Vec::new(),
        };
        let mut taps = TAPS.lock().unwrap();
        taps.retain(|(p, _)| *p != port);
        taps.push((port, tap));
    }

    /// The newest `n` effects propagated since [`Self::start`].
    pub fn newest(c: &mut redis::Connection, n: usize) -> Vec<Vec<Vec<u8>>> {
        let port = port_of(c);
        let mut taps = TAPS.lock().unwrap();
        let (_, tap) = taps
            .iter_mut()
            .find(|(p, _)| *p == port)
            .expect("tap() was called on this server first");
        // Everything Redis has sent by now: read until the stream stays quiet.
        tap.stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut chunk = [0u8; 65536];
        while let Ok(k) = tap.stream.read(&mut chunk) {
            if k == 0 {
                break;
            }
            tap.buf.extend_from_slice(&chunk[..k]);
        }
        while let Some((argv, used)) = parse_command(&tap.buf) {
            tap.buf.drain(..used);
            let name = argv
                .first()
                .map(|a| String::from_utf8_lossy(a).to_ascii_uppercase())
                .unwrap_or_default();
            if !matches!(
                name.as_str(),
                "SELECT" | "PING" | "MULTI" | "EXEC" | "REPLCONF"
            ) {
                tap.seen.push(argv);
            }
        }
        let from = tap.seen.len().saturating_sub(n);
        tap.seen[from..].to_vec()
    }
}

/// One RESP array of bulk strings at the start of `b`, and the bytes it took.
fn parse_command(b: &[u8]) -> Option<(Vec<Vec<u8>>, usize)> {
    let line = |at: usize| -> Option<(&[u8], usize)> {
        let end = b[at..].windows(2).position(|w| w == b"\r\n")? + at;
        Some((&b[at..end], end + 2))
    };
    let (head, mut at) = line(0)?;
    let n: usize = std::str::from_utf8(head.strip_prefix(b"*")?)
        .ok()?
        .parse()
        .ok()?;
    let mut argv = Vec::with_capacity(n);
    for _ in 0..n {
        let (h, next) = line(at)?;
        let len: usize = std::str::from_utf8(h.strip_prefix(b"$")?)
            .ok()?
            .parse()
            .ok()?;
        if b.len() < next + len + 2 {
            return None;
        }
        argv.push(b[next..next + len].to_vec());
        at = next + len + 2;
    }
    Some((argv, at))
}

/// How CONFIG names an AI directive: as itself in the standalone server, `ai.<name>` (a module config)
/// inside redis-server.
pub fn ai_config(name: &str) -> String {
    if module_front() {
        format!("ai.{name}")
    } else {
        name.to_string()
    }
}

/// Ends a test that checks what only the standalone server has, when the suite runs against the module.
#[macro_export]
macro_rules! standalone_only {
    ($why:literal) => {
        if $crate::common::module_front() {
            eprintln!("skipped on the module front end: {}", $why);
            return;
        }
    };
}

pub fn connect(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap()
}

pub fn q<T: redis::FromRedisValue>(
    con: &mut redis::Connection,
    line: &str,
) -> redis::RedisResult<T> {
    let mut parts = line.split_whitespace();
    let mut c = redis::cmd(parts.next().expect("a command"));
    for p in parts {
        c.arg(p);
    }
    c.query(con)
}

/// The error line of a command that must fail.
pub fn qerr(con: &mut redis::Connection, line: &str) -> String {
    match q::<redis::Value>(con, line) {
        Err(e) => err_text(e),
        Ok(v) => panic!("{line}: expected an error, got {v:?}"),
    }
}

/// The error text of a failed command (redis-rs splits code and detail; we join them back).
pub fn err_text(e: redis::RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => e.to_string(),
    }
}

/// A directory removed when dropped.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "tensorcell-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }

    pub fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a server that must refuse to start; returns its exit code and everything it logged.
pub fn start_fails(extra: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tensorcell-server"))
        .args(["--port", "0"])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("run tensorcell-server");
    let mut log = String::from_utf8_lossy(&out.stdout).into_owned();
    log.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code(), log)
}

/// Whether the tests run as root (tests that switch users need it).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        .unwrap_or(false)
}
