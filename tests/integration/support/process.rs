//! The `chatops` binary as an OS process: started with a configuration file, its output drained
//! from the start (a full pipe would stall it), stopped with SIGTERM as an orchestrator does or
//! killed with SIGKILL as a crash does.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use super::{Bot, DEADLINE};

/// `chatops <args>` with a clean environment for the variables the bot reads.
pub fn chatops(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatops"));
    cmd.args(args)
        .env_remove("SLACK_BOT_TOKEN")
        .env_remove("SLACK_APP_TOKEN")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// A running `chatops`.
pub struct Running {
    pub child: Child,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
}

/// Reads `stream` to its end (nothing when it is not piped).
fn drain(stream: Option<impl AsyncRead + Unpin + Send + 'static>) -> JoinHandle<String> {
    tokio::spawn(async move {
        let mut s = String::new();
        if let Some(mut stream) = stream {
            let _ = stream.read_to_string(&mut s).await;
        }
        s
    })
}

/// Starts `cmd`.
pub fn start(cmd: &mut Command) -> Running {
    let mut child = cmd.spawn().expect("spawn chatops");
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    Running {
        child,
        stdout,
        stderr,
    }
}

/// Waits for the process to exit; its status, stdout and stderr.
pub async fn finish(mut running: Running) -> (ExitStatus, String, String) {
    let status = tokio::time::timeout(DEADLINE, running.child.wait())
        .await
        .expect("chatops exits within the deadline")
        .expect("wait");
    (
        status,
        running.stdout.await.expect("stdout"),
        running.stderr.await.expect("stderr"),
    )
}

pub fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

impl Running {
    /// Sends `signal` (`TERM`, `KILL`) to the process.
    pub async fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("the process runs").to_string();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .await
            .expect("kill");
        assert!(sent.success(), "kill -{signal} {pid}");
    }

    /// SIGKILL, as a crash or an out-of-memory kill: no shutdown, nothing handed over.
    pub async fn crash(self) {
        self.signal("KILL").await;
        let (status, _, _) = finish(self).await;
        assert_eq!(status.code(), None, "killed by a signal");
    }

    /// SIGTERM, as an orchestrator stops a task; the process must exit 0 within the deadline.
    pub async fn terminate(self) {
        self.signal("TERM").await;
        let (status, _, stderr) = finish(self).await;
        assert_eq!(status.code(), Some(0), "{stderr}");
    }
}

impl Bot {
    /// Starts the real binary on this bot's emulators, AWS resources and configuration (with
    /// the `CHATOPS__…` overrides `env`), and waits until the emulator sees `connections` live
    /// sockets in all.
    pub async fn start_process(&self, connections: usize, env: &[(&str, &str)]) -> Running {
        let path = self.write_config();
        let mut cmd = chatops(&["run", "--config", arg(&path)]);
        cmd.env("RUST_LOG", "warn,chatops=info")
            .envs(env.iter().copied());
        if std::env::var_os("TEST_LOG").is_some() {
            // The process's logs as they come, beside the test's own.
            cmd.stderr(Stdio::inherit());
        }
        let mut running = start(&mut cmd);
        if !self.slack.wait_for_connections(connections, DEADLINE).await {
            let _ = running.child.start_kill();
            let (_, _, stderr) = finish(running).await;
            panic!("the process did not open its Socket Mode connections: {stderr}");
        }
        running
    }
}

/// The connected TCP sockets of the process `pid` (a child of this test: the kernel lets a
/// parent copy its descriptors): each one's peer and whether `TCP_NODELAY` is on, read with
/// `getsockopt` on a copy made by `pidfd_getfd(2)`. Listening sockets are left out.
pub fn tcp_connections(pid: u32) -> Vec<(std::net::SocketAddr, bool)> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    let pid = libc::pid_t::try_from(pid).expect("a pid");
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let pidfd = i32::try_from(pidfd).expect("a descriptor");
    assert!(
        pidfd >= 0,
        "pidfd_open: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a descriptor just returned to this process, owned from here on.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    let mut found = Vec::new();
    let entries = std::fs::read_dir(format!("/proc/{pid}/fd")).expect("/proc/<pid>/fd");
    for entry in entries.flatten() {
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"));
        let Some(target) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if !is_socket {
            continue;
        }
        // SAFETY: pidfd_getfd copies the process's descriptor `target` into this one, or
        // returns -1 (it was closed meanwhile).
        let copy = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), target, 0) };
        let Ok(copy) = i32::try_from(copy) else {
            continue;
        };
        if copy < 0 {
            continue;
        }
        // SAFETY: a descriptor just returned to this process, owned from here on.
        let socket = socket2::Socket::from(unsafe { OwnedFd::from_raw_fd(copy) });
        let tcp = socket.r#type().is_ok_and(|t| t == socket2::Type::STREAM);
        let peer = socket.peer_addr().ok().and_then(|a| a.as_socket());
        if let (true, Some(peer)) = (tcp, peer) {
            found.push((peer, socket.tcp_nodelay().expect("getsockopt TCP_NODELAY")));
        }
    }
    found
}
