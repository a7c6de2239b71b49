//! One runner process: started with its protocol channel on fd 3 and its shared-memory file as fd 4, read
//! with a deadline, interrupted (SIGINT), killed (SIGKILL) and reaped, with a readable reason when it died.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use command_fds::{CommandFdExt, FdMapping};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::wire::{take_frame, In};

/// How the server and a runner exchange frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// One socketpair end as the runner's fd 3, both ways; the runner's code arrives on standard input,
    /// which is then closed.
    Socket,
    /// For languages that cannot use a socket by descriptor (R opens `/dev/fd/N`, which Linux refuses for
    /// sockets): requests on the runner's standard input, replies on fd 3, both pipes. The runner's code
    /// comes first on standard input, as a `u32` length and the text.
    Pipes,
}

/// How to start a runner: the program, its arguments, extra environment, its code, and the user it runs as.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: std::path::PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The runner's code, sent on standard input.
    pub code: String,
    pub transport: Transport,
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
    /// Where frames come from and go to (the same socket, or two pipes).
    rx: File,
    tx: File,
    pub shm: File,
    /// Bytes read that do not make a whole frame yet.
    pending: Vec<u8>,
    /// Where reads land (allocated once: zeroing 64 KiB per read cost more than the read).
    scratch: Vec<u8>,
    /// Set once the process has been reaped.
    status: Option<ExitStatus>,
    /// Another waiter reaped it (redis-server's `waitpid(-1)` while a save child runs, in the module): it
    /// is gone with its status, and its pid may belong to someone else now, so it is never signalled again.
    lost: bool,
}

impl Process {
    /// Starts a runner. Its channel and shared-memory file are its only way back to the server.
    pub fn spawn(launch: &Launch, name: &str) -> Result<Process, String> {
        let shm = nix::sys::memfd::memfd_create(
            c"tensorcell-runner",
            nix::sys::memfd::MFdFlags::MFD_CLOEXEC,
        )
        .map_err(|e| format!("memfd_create: {e}"))?;
        let shm = File::from(shm);
        let child_shm = shm.try_clone().map_err(|e| format!("dup: {e}"))?;
        let io = |e: std::io::Error| format!("runner channel: {e}");
        // (ours to read, ours to write, the child's fd 3, the child's stdin)
        let (rx, tx, theirs, stdin): (OwnedFd, OwnedFd, OwnedFd, Stdio) = match launch.transport {
            Transport::Socket => {
                let (ours, theirs) = UnixStream::pair().map_err(io)?;
                let rx = ours.try_clone().map_err(io)?;
                (rx.into(), ours.into(), theirs.into(), Stdio::piped())
            }
            Transport::Pipes => {
                let (req_r, req_w) = std::io::pipe().map_err(io)?;
                let (rep_r, rep_w) = std::io::pipe().map_err(io)?;
                (
                    rep_r.into(),
                    req_w.into(),
                    rep_w.into(),
                    Stdio::from(OwnedFd::from(req_r)),
                )
            }
        };
        if let (Transport::Pipes, Some((uid, gid))) = (launch.transport, launch.user) {
            // The runner opens its reply pipe by path (`/dev/fd/3`), which checks the pipe's owner.
            nix::unistd::fchown(
                &theirs,
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(gid)),
            )
            .map_err(|e| format!("runner channel: {e}"))?;
        }
        let mut cmd = Command::new(&launch.program);
        cmd.args(&launch.args)
            // A key is client input: no NUL may reach an argument.
            .arg(name.replace('\0', "?"))
            // What the server's own environment says of these is not the runner's: the launch decides.
            .env_remove("TENSORCELL_NATIVE")
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            // How a runner knows its parent (it exits when that is gone).
            .env("TENSORCELL_PID", std::process::id().to_string())
            // Its own process group: a terminal's Ctrl-C does not reach it, and a kill takes what it started.
            .process_group(0)
            .stdin(stdin)
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        if let Some((uid, gid)) = launch.user {
            // std drops supplementary groups (setgroups(0)) when it changes the uid as root.
            cmd.uid(uid).gid(gid);
        }
        cmd.fd_mappings(vec![
            FdMapping {
                parent_fd: theirs,
                child_fd: 3,
            },
            FdMapping {
                parent_fd: child_shm.into(),
                child_fd: 4,
            },
        ])
        .map_err(|e| format!("runner descriptors: {e}"))?;
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", launch.program.display()))?;
        // The parent's copies of the child's ends went with `cmd`; drop it so EOF works both ways.
        drop(cmd);
        let mut p = Process {
            child,
            rx: File::from(rx),
            tx: File::from(tx),
            shm,
            pending: Vec::new(),
            scratch: vec![0; 64 * 1024],
            status: None,
            lost: false,
        };
        // Frames are written with a deadline (a runner that stops reading cannot hold its driver) and reads
        // never block (`recv` polls first, then sleeps in poll(2) with the deadline). With a socketpair both
        // are one descriptor, with pipes the request and reply pipes. The Python runner's code goes on its
        // standard input, a pipe of its own.
        for fd in [p.tx.as_fd(), p.rx.as_fd()] {
            nonblocking(fd)?;
        }
        let sent = match launch.transport {
            Transport::Socket => {
                let mut stdin = p.child.stdin.take().expect("piped");
                stdin.write_all(launch.code.as_bytes())
            }
            Transport::Pipes => {
                // Written with a deadline: a runner that never reads its code cannot hold the driver.
                let mut pre = (launch.code.len() as u32).to_le_bytes().to_vec();
                pre.extend_from_slice(launch.code.as_bytes());
                p.send(&pre, std::time::Instant::now() + CODE_LIMIT)
                    .map_err(|e| match e {
                        RecvError::Timeout => std::io::Error::from(std::io::ErrorKind::TimedOut),
                        RecvError::Gone(why) => std::io::Error::other(why),
                    })
            }
        };
        if let Err(e) = sent {
            p.kill();
            return Err(format!(
                "{} did not take the runner code: {e}",
                launch.program.display()
            ));
        }
        Ok(p)
    }

    /// Whether bytes of a message not yet asked for have arrived (a runner out of step).
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes a frame, waiting until `deadline` at most for the runner to read.
    pub fn send(&mut self, frame: &[u8], deadline: Instant) -> Result<(), RecvError> {
        let mut at = 0;
        while at < frame.len() {
            match self.tx.write(&frame[at..]) {
                Ok(0) => return Err(RecvError::Gone(self.death_reason())),
                Ok(n) => at += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(RecvError::Timeout);
                    }
                    let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
                    let mut fds = [PollFd::new(self.tx.as_fd(), PollFlags::POLLOUT)];
                    let _ = poll(
                        &mut fds,
                        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
                    );
                }
                Err(_) => return Err(RecvError::Gone(self.death_reason())),
            }
        }
        Ok(())
    }

    /// The next message, waiting until `deadline` at most. The channel is polled for `spin` before the
    /// driver sleeps (see [`super::pacing::spin`]).
    pub fn recv(&mut self, deadline: Instant, spin: Duration) -> Result<In, RecvError> {
        let spin_until = Instant::now() + spin;
        loop {
            if let Some(frame) = take_frame(&mut self.pending).map_err(RecvError::Gone)? {
                return Ok(frame);
            }
            match self.rx.read(&mut self.scratch) {
                Ok(0) => return Err(RecvError::Gone(self.death_reason())),
                Ok(n) => {
                    self.pending.extend_from_slice(&self.scratch[..n]);
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return Err(RecvError::Gone(self.death_reason())),
            }
            let now = Instant::now();
            if now < spin_until && now < deadline {
                std::thread::yield_now();
                continue;
            }
            let left = deadline.saturating_duration_since(now);
            if left.is_zero() {
                return Err(RecvError::Timeout);
            }
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            let mut fds = [PollFd::new(self.rx.as_fd(), PollFlags::POLLIN)];
            match poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            ) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return Err(RecvError::Gone(self.death_reason())),
            }
        }
    }

    /// Asks the runner to stop what it is doing (the script sees `ScriptTimedOut`).
    pub fn interrupt(&self) {
        if self.status.is_some() || self.lost {
            return;
        }
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGINT);
    }

    /// Kills the runner (and whatever it started: its process group) and reaps it.
    pub fn kill(&mut self) {
        if self.status.is_none() && !self.lost {
            let _ = kill(Pid::from_raw(-(self.child.id() as i32)), Signal::SIGKILL);
            let _ = self.child.kill();
            match self.child.wait() {
                Ok(status) => self.status = Some(status),
                Err(_) => self.lost = true,
            }
        }
    }

    /// Whether the process has ended (reaping it if so).
    pub fn exited(&mut self) -> bool {
        if self.status.is_none() && !self.lost {
            match self.child.try_wait() {
                Ok(status) => self.status = status,
                Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ECHILD as i32) => {
                    self.lost = true;
                }
                Err(_) => {}
            }
            if self.status.is_some() {
                // What the runner started dies with it (its group outlives a reaped leader only briefly).
                let _ = kill(Pid::from_raw(-(self.child.id() as i32)), Signal::SIGKILL);
            }
        }
        self.status.is_some() || self.lost
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
        match self.status {
            Some(status) => describe(status),
            None => "it exited (the host process collected its status)".into(),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How long a runner may take to read its code (R's, on a pipe).
const CODE_LIMIT: Duration = Duration::from_secs(30);

fn nonblocking(fd: std::os::fd::BorrowedFd<'_>) -> Result<(), String> {
    nix::fcntl::fcntl(
        fd,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .map(|_| ())
    .map_err(|e| format!("runner channel: {e}"))
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
