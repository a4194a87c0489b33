//! One worker process as the supervisor handles it: started with its two
//! pipes, told commands, signalled, asked for its stack when it hangs,
//! killed and reaped. What it says arrives on the supervisor's channel,
//! read by a thread per worker. No decisions here: `dispatch` makes them.

use std::fs::File;
use std::io::BufReader;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc::Sender;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::model::capture::{read_since, stack_path};
use crate::model::protocol::{
    receive, send, Command, Message, WorkerSetup, COMMAND_FD, MESSAGE_FD,
};
use crate::model::run_board::{board_path, RunBoard, Runs};
use crate::session::supervisor::dispatch::WorkerId;
use crate::session::supervisor::Incoming;

/// How long a hung worker gets to write its stack before it is killed.
const STACK_DUMP_WAIT: Duration = Duration::from_millis(300);

pub struct WorkerProcess {
    child: Child,
    commands: File,
    /// Where its fds 1 and 2 go (and, next to it, its stack when asked).
    capture_path: PathBuf,
    /// The Python stack it wrote when it was stopped for hanging.
    stack: String,
    /// Where it says which run it is in.
    board: RunBoard,
}

impl WorkerProcess {
    /// Starts worker `id` with `setup`, its output going to `capture_path`;
    /// its messages, then its end, go to `incoming`.
    pub fn spawn(
        id: WorkerId,
        setup: &WorkerSetup,
        capture_path: PathBuf,
        incoming: Sender<Incoming>,
    ) -> Result<WorkerProcess> {
        let board = RunBoard::create(&board_path(&capture_path))?;
        let (command_read, command_write) = std::io::pipe().context("cannot create a pipe")?;
        let (message_read, message_write) = std::io::pipe().context("cannot create a pipe")?;
        // The binary starts itself again; the wheel starts the tests' Python.
        let mut process = crate::session::launch::worker_command(setup.python.as_deref())?;
        let (tunables, value) = crate::session::launch::worker_tunables();
        if let Some((name, seed)) = crate::session::launch::shared_hash_seed() {
            process.env(name, seed);
        }
        process
            .env(tunables, value)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            // Its own process group: the terminal's Ctrl-C, and GNU timeout's
            // SIGTERM to leakhunt's group, reach the supervisor only, which
            // decides what the workers get.
            .process_group(0);
        let (command_fd, message_fd) = (command_read.as_raw_fd(), message_write.as_raw_fd());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            process.pre_exec(move || {
                // Through fds above 10 first: the pipes may be 3 or 4 already.
                let command = libc::fcntl(command_fd, libc::F_DUPFD, 10);
                let message = libc::fcntl(message_fd, libc::F_DUPFD, 10);
                if command < 0
                    || message < 0
                    || libc::dup2(command, COMMAND_FD) < 0
                    || libc::dup2(message, MESSAGE_FD) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(command);
                libc::close(message);
                // A worker never outlives its supervisor.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = process.spawn().context("cannot start a worker process")?;
        // Only the worker's ends stay open there: its pipe closes when it ends.
        drop(command_read);
        drop(message_write);
        std::thread::spawn(move || {
            let mut input = BufReader::new(message_read);
            while let Ok(Some(message)) = receive::<Message>(&mut input) {
                if incoming.send(Incoming::Message(id, message)).is_err() {
                    return;
                }
            }
            let _ = incoming.send(Incoming::Closed(id));
        });
        let mut setup = setup.clone();
        setup.capture_path = capture_path.clone();
        let mut commands = File::from(OwnedFd::from(command_write));
        send(&mut commands, &Command::Setup(Box::new(setup)))?;
        Ok(WorkerProcess {
            child,
            commands,
            capture_path,
            stack: String::new(),
            board,
        })
    }

    /// Tells it something. A worker that cannot be told anything is dead:
    /// its end is handled when its pipe closes.
    pub fn tell(&mut self, command: &Command) {
        let _ = send(&mut self.commands, command);
    }

    /// Ctrl-C inside the test: it stops at the end of its current run.
    pub fn interrupt(&self) {
        self.signal(libc::SIGINT);
    }

    /// Asks a hung worker for its Python stack (the worker dumps it on
    /// SIGUSR1), gives it a moment to write it, and kills it. Its end
    /// arrives as its pipe closes.
    pub fn stop_hung(&mut self) {
        self.signal(libc::SIGUSR1);
        std::thread::sleep(STACK_DUMP_WAIT);
        self.stack = std::fs::read_to_string(stack_path(&self.capture_path)).unwrap_or_default();
        self.kill_group();
    }

    /// The stack it wrote when it was stopped for hanging, once.
    pub fn take_stack(&mut self) -> String {
        std::mem::take(&mut self.stack)
    }

    /// Tells it to finish and waits for it.
    pub fn exit(&mut self) {
        self.tell(&Command::Exit);
        let _ = self.child.wait();
    }

    pub fn kill(&mut self) {
        self.kill_group();
        let _ = self.child.wait();
    }

    /// Kills it and what its tests started in its process group: a hung
    /// test's servers lived on, orphaned (Werkzeug's dev server under its
    /// reloader, spinning at 99 % CPU), where pytest-timeout's teardown
    /// stops them. A process that left the group (a daemon) is not reached.
    fn kill_group(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill has no memory-safety preconditions; the worker
            // leads its group (process_group(0) at spawn) and is not reaped.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
    }

    /// Waits for it to end (at once when it has: its pipe closed): how it
    /// ended, None when that cannot be known.
    pub fn reap(&mut self) -> Option<ExitStatus> {
        self.child.wait().ok()
    }

    /// Which run of which test it is in, as its board says now.
    pub fn runs(&self) -> Option<Runs> {
        self.board.read()
    }

    /// What it wrote since `offset` of its capture file.
    pub fn output_since(&self, offset: u64) -> String {
        read_since(&self.capture_path, offset)
    }

    fn signal(&self, signal: i32) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }
}
