//! `warren-process`: Warren's child processes. It spawns service processes and hooks in their own
//! process group (optionally as another user), reaps every child (and, as a child subreaper or
//! PID 1, every orphan) with one SIGCHLD-driven task, delivers exit statuses, and runs the stop
//! sequence (signal the group, wait, SIGKILL the group).
//!
//! | item | what |
//! |---|---|
//! | [`Reaper`] | one per process: [`Reaper::install`] starts the reaping task, [`Reaper::spawn`] starts a [`Child`] |
//! | [`Child`] | output pipes, [`Child::wait`], [`Child::signal_group`], [`Child::stop`] |
//! | [`ExitStatus`], [`parse_signal`], [`signal_groups`] | statuses and signals |
//! | [`UserIds`], [`lookup_user`], [`is_root`], [`is_pid1`] | who we are and who a child runs as |
//! | [`for_each_line`] | forwarding a child's output line by line |
//!
//! **Invariant: every child process of a Warren process is spawned through [`Reaper::spawn`].**
//! The reaping task calls `waitpid(-1)`, so it reaps whatever child exits. Anything else that
//! waits for its own child (`std::process::Command::status` or `output`, `tokio::process`) races
//! it and may find its child already gone. `spawn` holds the registry lock across the fork, and
//! the reaping task takes the same lock around its `waitpid` loop, so a pid is always registered
//! before it can be reaped and no exit is lost.
//!
//! This crate does not decide when to run, restart or stop anything (that is `warren-service`),
//! and it does not know what a hook or a service is.

#![forbid(unsafe_code)]

mod lines;
mod reaper;
mod signal;
mod user;

pub use lines::{MAX_LINE, for_each_line};
pub use reaper::{Child, Reaper, SpawnSpec};
pub use signal::{ExitStatus, parse_signal, signal_groups};
pub use user::{UserIds, is_pid1, is_root, lookup_user};

/// Re-exported so callers name signals without depending on `nix` themselves.
pub use nix::sys::signal::Signal;
