//! One runner process: started with its socket as fd 3 and its shared-memory file as fd 4, read with a
//! deadline, interrupted (SIGINT), killed (SIGKILL) and reaped, with a readable reason when it died.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use command_fds::{CommandFdExt, FdMapping};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::wire::{take_frame, In};

/// How to start a runner: the program, its arguments, extra environment, the source it reads on standard
/// input, and the user it runs as.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: std::path::PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub stdin: &'static str,
    /// (uid, gid) to drop to (`script-user`).
    pub user: Option<(u32, u32)>,
}

/// Why reading from a runner stopped.
#[derive(Debug)]
pub enum RecvError {
    /// The deadline passed; the runner may still answer.
    Timeout,
    /// The runner is gone (or broke the protocol): the reason.
    Gone(String),
}

pub struct Process {
    child: Child,
    sock: UnixStream,
    pub shm: File,
    /// Bytes read that do not make a whole frame yet.
    pending: Vec<u8>,
    /// Set once the process has been reaped.
    status: Option<ExitStatus>,
}

impl Process {
    /// Starts a runner. The socket and shared-memory file are the runner's only way back to the server.
    pub fn spawn(launch: &Launch, name: &str) -> Result<Process, String> {
        let (ours, theirs) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
        let shm = nix::sys::memfd::memfd_create(
            c"tensorcell-runner",
            nix::sys::memfd::MFdFlags::MFD_CLOEXEC,
        )
        .map_err(|e| format!("memfd_create: {e}"))?;
        let shm = File::from(shm);
        let child_shm = shm.try_clone().map_err(|e| format!("dup: {e}"))?;
        let mut cmd = Command::new(&launch.program);
        cmd.args(&launch.args)
            .arg(name)
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        if let Some((uid, gid)) = launch.user {
            // std drops supplementary groups (setgroups(0)) when it changes the uid as root.
            cmd.uid(uid).gid(gid);
        }
        cmd.fd_mappings(vec![
            FdMapping {
                parent_fd: theirs.into(),
                child_fd: 3,
            },
            FdMapping {
                parent_fd: child_shm.into(),
                child_fd: 4,
            },
        ])
        .map_err(|e| format!("runner descriptors: {e}"))?;
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", launch.program.display()))?;
        // The runner's code arrives on standard input; closing it marks its end.
        if let Some(mut stdin) = child.stdin.take() {
            if let Err(e) = stdin.write_all(launch.stdin.as_bytes()) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not take the runner code: {e}",
                    launch.program.display()
                ));
            }
        }
        Ok(Process {
            child,
            sock: ours,
            shm,
            pending: Vec::new(),
            status: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn send(&mut self, frame: &[u8]) -> Result<(), String> {
        self.sock.write_all(frame).map_err(|_| self.death_reason())
    }

    /// The next message, waiting until `deadline` at most.
    pub fn recv(&mut self, deadline: Instant) -> Result<In, RecvError> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            if let Some(frame) = take_frame(&mut self.pending).map_err(RecvError::Gone)? {
                return Ok(frame);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RecvError::Timeout);
            }
            let _ = self
                .sock
                .set_read_timeout(Some(left.max(Duration::from_micros(100))));
            match self.sock.read(&mut chunk) {
                Ok(0) => return Err(RecvError::Gone(self.death_reason())),
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(RecvError::Gone(self.death_reason())),
            }
        }
    }

    /// Asks the runner to stop what it is doing (the script sees `ScriptTimedOut`).
    pub fn interrupt(&self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGINT);
    }

    /// Kills the runner and reaps it.
    pub fn kill(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
    }

    /// Whether the process has ended (reaping it if so).
    pub fn exited(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status.is_some()
    }

    /// Why the runner is gone: it is reaped (waiting a little for it: its socket closes as it dies); one
    /// still running after that broke the protocol and is killed.
    fn death_reason(&mut self) -> String {
        let until = Instant::now() + Duration::from_secs(2);
        while !self.exited() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(2));
        }
        if !self.exited() {
            self.kill();
            return "it closed its connection".into();
        }
        describe(self.status.expect("reaped"))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `exited with code 3`, `killed by signal 11 (SIGSEGV)`.
pub fn describe(status: ExitStatus) -> String {
    if let Some(sig) = status.signal() {
        let name = Signal::try_from(sig)
            .map(|s| s.as_str())
            .unwrap_or("unknown");
        return format!("killed by signal {sig} ({name})");
    }
    match status.code() {
        Some(code) => format!("exited with code {code}"),
        None => "ended".into(),
    }
}
