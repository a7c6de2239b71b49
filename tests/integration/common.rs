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
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tensorcell-server"));
        for (k, v) in env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        // Each server persists into a directory of its own (never the checkout, never another test's),
        // unless the test names one to restart a server on the same files.
        let own_dir = (!extra.contains(&"--dir")).then(TempDir::new);
        if let Some(d) = &own_dir {
            cmd.args(["--dir", d.path()]);
        }
        let mut child = cmd
            .args(["--port", "0", "--loglevel", "verbose"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tensorcell-server");
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
                .expect("server printed its port");
            if let Some(addr) = line.split("Listening on ").nth(1) {
                break addr.rsplit(':').next().unwrap().trim().parse().unwrap();
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
