//! Exit statuses, signal names, and signalling process groups.

use std::fmt;
use std::str::FromStr;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// How a child ended, as `waitpid` reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It called `exit` with this code.
    Exited(i32),
    /// It was killed by this signal number.
    Signaled(i32),
}

impl ExitStatus {
    /// The exit code, if it exited rather than being killed.
    pub fn code(self) -> Option<i32> {
        match self {
            ExitStatus::Exited(code) => Some(code),
            ExitStatus::Signaled(_) => None,
        }
    }

    /// It exited with code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }
}

impl fmt::Display for ExitStatus {
    /// `exit code 3`, `killed by SIGKILL`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExitStatus::Exited(code) => write!(f, "exit code {code}"),
            ExitStatus::Signaled(n) => match Signal::try_from(n) {
                Ok(sig) => write!(f, "killed by {}", sig.as_str()),
                Err(_) => write!(f, "killed by signal {n}"),
            },
        }
    }
}

/// Parses a signal as Habitat's `--shutdown-signal` and plan files write it: a name with or
/// without `SIG`, in any case (`TERM`, `SIGTERM`, `term`), or a number (`15`). Unknown → `None`.
pub fn parse_signal(name: &str) -> Option<Signal> {
    let name = name.trim();
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        return name
            .parse::<i32>()
            .ok()
            .and_then(|n| Signal::try_from(n).ok());
    }
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    if bare.is_empty() {
        return None;
    }
    Signal::from_str(&format!("SIG{bare}")).ok()
}

/// Sends `sig` to the process group `pgid`; a group that no longer exists is not an error.
pub(crate) fn signal_group(pgid: u32, sig: Signal) -> std::io::Result<()> {
    let Ok(raw) = i32::try_from(pgid) else {
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    };
    match killpg(Pid::from_raw(raw), sig) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Sends `sig` to every process group in `pgids` (e.g. forwarding SIGHUP to the services). Groups
/// that no longer exist are skipped; every group is tried, and the first other error is returned.
pub fn signal_groups(pgids: impl IntoIterator<Item = u32>, sig: Signal) -> std::io::Result<()> {
    let mut first_err = None;
    for pgid in pgids {
        if let Err(e) = signal_group(pgid, sig) {
            tracing::warn!(pgid, signal = sig.as_str(), error = %e, "signalling process group");
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_cases_parse() {
        for s in [
            "TERM", "SIGTERM", "term", "sigterm", "SigTerm", "15", " TERM\n",
        ] {
            assert_eq!(parse_signal(s), Some(Signal::SIGTERM), "{s:?}");
        }
        assert_eq!(parse_signal("HUP"), Some(Signal::SIGHUP));
        assert_eq!(parse_signal("kill"), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("9"), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("USR2"), Some(Signal::SIGUSR2));
        assert_eq!(parse_signal("QUIT"), Some(Signal::SIGQUIT));
    }

    #[test]
    fn unknown_signals_are_none() {
        for s in [
            "",
            "SIG",
            "sig",
            "NOPE",
            "SIGNOPE",
            "0",
            "999",
            "-15",
            "15x",
            "TERM TERM",
        ] {
            assert_eq!(parse_signal(s), None, "{s:?}");
        }
    }

    #[test]
    fn statuses_display_and_classify() {
        assert_eq!(ExitStatus::Exited(3).to_string(), "exit code 3");
        assert_eq!(ExitStatus::Signaled(9).to_string(), "killed by SIGKILL");
        assert_eq!(ExitStatus::Signaled(15).to_string(), "killed by SIGTERM");
        assert_eq!(
            ExitStatus::Signaled(200).to_string(),
            "killed by signal 200"
        );
        assert_eq!(ExitStatus::Exited(3).code(), Some(3));
        assert_eq!(ExitStatus::Signaled(9).code(), None);
        assert!(ExitStatus::Exited(0).success());
        assert!(!ExitStatus::Exited(1).success());
        assert!(!ExitStatus::Signaled(15).success());
    }

    #[test]
    fn a_gone_group_is_not_an_error() {
        // Pid numbers above pid_max's default ceiling are never allocated.
        assert!(signal_groups([4_000_000], Signal::SIGTERM).is_ok());
    }
}
