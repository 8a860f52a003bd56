//! `warren local`: local multi-node testing. `up` starts a ring of `warren run` members on
//! loopback and shows it live (`up.rs`, reading members' HTTP APIs in `poll.rs` into the model
//! in `board.rs`, drawn by `view.rs` or printed as plain lines); the other subcommands are
//! failure controls sent to the running `up` from another terminal (`control.rs`), found
//! through its state file (`state.rs`). `bench` starts rings of the same members and measures
//! them (`bench.rs`, plots in `plot.rs`).
//!
//! Nothing here is part of a production member: the only hook in `warren run` is the hidden
//! `--local-cut-file` flag, refused unless the member gossips on loopback.

mod bench;
mod board;
mod control;
mod plot;
mod poll;
mod state;
mod up;
mod view;

use std::process::ExitCode;

use crate::cli::LocalCommand;
use control::Request;

/// Runs a `warren local` command; returns the exit code.
pub(crate) fn main(cmd: LocalCommand) -> ExitCode {
    let member = |m: u16| usize::from(m);
    match cmd {
        LocalCommand::Up(args) => up::up(args),
        LocalCommand::Bench(args) => bench::bench(args),
        LocalCommand::Kill(a) => control::send(&a.ring, &Request::Kill(member(a.member))),
        LocalCommand::Stop(a) => control::send(&a.ring, &Request::Stop(member(a.member))),
        LocalCommand::Start(a) => control::send(&a.ring, &Request::Start(member(a.member))),
        LocalCommand::Restart(a) => control::send(&a.ring, &Request::Restart(member(a.member))),
        LocalCommand::Partition { members, ring } => control::send(
            &ring,
            &Request::Partition(members.into_iter().map(member).collect()),
        ),
        LocalCommand::Heal { ring } => control::send(&ring, &Request::Heal),
        LocalCommand::Status { ring } => control::status(&ring),
        LocalCommand::Config { command } => control::config(command),
    }
}
