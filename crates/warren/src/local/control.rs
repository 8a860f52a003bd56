//! Failure controls of a running local ring, from another terminal: `warren local
//! kill|stop|start|restart|partition|heal` send one request line to the `warren local up`
//! process over its control socket (`<dir>/ctl.sock`) and print its one-line answer;
//! `warren local status` and `warren local config apply` read the state file instead.
//!
//! This module holds the request format, the client, and the pure computation of partition
//! files. Carrying requests out (signals, spawning, writing the files) is `up.rs`'s job, since
//! that process owns the members.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use super::state::{self, RingState};
use crate::cli::{ConfigCommand, LocalConfigCommand, LocalRing, Remote};

/// What a control command asks of `warren local up`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// SIGKILL the member and its services.
    Kill(usize),
    /// SIGTERM the member (SIGKILL after the stop budget).
    Stop(usize),
    /// Start the member if it is not running.
    Start(usize),
    /// Stop, then start.
    Restart(usize),
    /// These members on one side, the rest on the other.
    Partition(Vec<usize>),
    /// No cuts.
    Heal,
}

impl Request {
    /// The request as one line (without the newline).
    pub(crate) fn to_line(&self) -> String {
        match self {
            Request::Kill(i) => format!("kill {i}"),
            Request::Stop(i) => format!("stop {i}"),
            Request::Start(i) => format!("start {i}"),
            Request::Restart(i) => format!("restart {i}"),
            Request::Partition(side) => {
                let ms: Vec<String> = side.iter().map(usize::to_string).collect();
                format!("partition {}", ms.join(" "))
            }
            Request::Heal => "heal".into(),
        }
    }

    /// Parses a request line.
    pub(crate) fn parse(line: &str) -> Result<Self> {
        let mut words = line.split_whitespace();
        let verb = words.next().unwrap_or_default();
        let nums = words
            .map(|w| {
                w.parse::<usize>()
                    .map_err(|_| anyhow!("not a member number: {w}"))
            })
            .collect::<Result<Vec<_>>>()?;
        let one = || match nums.as_slice() {
            [i] => Ok(*i),
            _ => Err(anyhow!("{verb} takes one member number")),
        };
        Ok(match verb {
            "kill" => Request::Kill(one()?),
            "stop" => Request::Stop(one()?),
            "start" => Request::Start(one()?),
            "restart" => Request::Restart(one()?),
            "partition" if !nums.is_empty() => Request::Partition(nums),
            "heal" if nums.is_empty() => Request::Heal,
            _ => bail!("unknown request: {line}"),
        })
    }
}

/// The fault file of each of `n` members (`gossip[i]` its gossip port) for a partition with
/// `side` on one side: every member blocks the gossip address of every member on the other
/// side. An empty side means no cuts.
pub(crate) fn cut_files(gossip: &[u16], side: &[usize]) -> Vec<String> {
    (0..gossip.len())
        .map(|i| {
            let mine = side.contains(&i);
            gossip
                .iter()
                .enumerate()
                .filter(|(j, _)| !side.is_empty() && side.contains(j) != mine)
                .map(|(_, port)| format!("block=127.0.0.1:{port}\n"))
                .collect()
        })
        .collect()
}

/// Sends `req` to the ring's `warren local up` and prints its answer; exit 1 if it refused.
pub(crate) fn send(ring: &LocalRing, req: &Request) -> ExitCode {
    match try_send(ring, req) {
        Ok(answer) => match answer.strip_prefix("error: ") {
            Some(e) => {
                eprintln!("warren: {e}");
                ExitCode::FAILURE
            }
            None => {
                println!("{answer}");
                ExitCode::SUCCESS
            }
        },
        Err(e) => {
            eprintln!("warren: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn try_send(ring: &LocalRing, req: &Request) -> Result<String> {
    let dir = state::resolve(ring.dir.as_deref())?;
    let sock = dir.join(state::SOCKET);
    let mut s = UnixStream::connect(&sock).with_context(|| {
        format!(
            "connecting to {}: is `warren local up` still running there?",
            sock.display()
        )
    })?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    writeln!(s, "{}", req.to_line()).context("sending the request")?;
    let mut answer = String::new();
    BufReader::new(s)
        .read_line(&mut answer)
        .context("reading the answer")?;
    if answer.is_empty() {
        bail!("`warren local up` closed the connection without answering");
    }
    Ok(answer.trim_end().to_owned())
}

/// `warren local status`: the members from the state file.
pub(crate) fn status(ring: &LocalRing) -> ExitCode {
    let show = || -> Result<()> {
        let s = RingState::read(&state::resolve(ring.dir.as_deref())?)?;
        println!(
            "{:<7} {:<8} {:<16} {:<16} {:<16} fs-root",
            "member", "pid", "gossip", "http", "ctl"
        );
        for (i, m) in s.members.iter().enumerate() {
            println!(
                "{:<7} {:<8} {:<16} {:<16} {:<16} {}",
                i,
                m.pid.map_or("-".into(), |p| p.to_string()),
                format!("127.0.0.1:{}", m.ports.gossip),
                format!("127.0.0.1:{}", m.ports.http),
                format!("127.0.0.1:{}", m.ports.ctl),
                m.dir.display()
            );
        }
        Ok(())
    };
    match show() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warren: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `warren local config …`: the ordinary control command, addressed to a member's control port
/// with its `CTL_SECRET`.
pub(crate) fn config(cmd: LocalConfigCommand) -> ExitCode {
    let LocalConfigCommand::Apply {
        service_group,
        version,
        file,
        member,
        ring,
    } = cmd;
    let remote = match remote_of(&ring, member) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("warren: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    crate::ctl_cli::main(crate::ctl_cli::CtlCommand::Config(ConfigCommand::Apply {
        service_group,
        version,
        file,
        seal: crate::cli::SealArgs::default(),
        remote,
    }))
}

fn remote_of(ring: &LocalRing, member: u16) -> Result<Remote> {
    let s = RingState::read(&state::resolve(ring.dir.as_deref())?)?;
    let m = s
        .members
        .get(usize::from(member))
        .ok_or_else(|| anyhow!("the local ring has no member {member}"))?;
    Ok(Remote {
        remote_sup: format!("127.0.0.1:{}", m.ports.ctl),
        fs_root: m.dir.clone(),
    })
}

/// Whether `path` is a live control socket (a ring is running there).
pub(crate) fn is_live(path: &Path) -> bool {
    UnixStream::connect(path).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_bad_ones_are_refused() {
        for r in [
            Request::Kill(1),
            Request::Stop(0),
            Request::Start(2),
            Request::Restart(1),
            Request::Partition(vec![0, 2]),
            Request::Heal,
        ] {
            assert_eq!(Request::parse(&r.to_line()).unwrap(), r);
        }
        for bad in [
            "kill",
            "kill x",
            "kill 1 2",
            "partition",
            "heal 1",
            "nuke 1",
            "",
        ] {
            assert!(Request::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_partition_cuts_each_side_from_the_other_only() {
        let files = cut_files(&[18, 28, 38], &[1]);
        assert_eq!(files[0], "block=127.0.0.1:28\n");
        assert_eq!(files[1], "block=127.0.0.1:18\nblock=127.0.0.1:38\n");
        assert_eq!(files[2], "block=127.0.0.1:28\n");
        assert!(cut_files(&[18, 28], &[]).iter().all(String::is_empty));
    }
}
