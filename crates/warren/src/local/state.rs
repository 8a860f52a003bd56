//! Where a running local ring is: the port layout of its members, its state file
//! (`<dir>/local.json`: the `warren local up` pid, its control socket and each member's pid,
//! ports and directory) and the well-known pointer to the ring started last
//! (`$XDG_RUNTIME_DIR/warren-local/current`, else `/tmp/warren-local-<uid>/current`).
//!
//! The control commands read these; only `warren local up` writes them. Nothing here starts or
//! signals a process.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use serde_json::{Value, json};

/// The state file's name inside a ring's directory.
const STATE_FILE: &str = "local.json";
/// The control socket's name inside a ring's directory.
pub(crate) const SOCKET: &str = "ctl.sock";

/// One member's ports: gossip, HTTP, control.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ports {
    pub gossip: u16,
    pub http: u16,
    pub ctl: u16,
}

/// Member `i` of a ring whose ports start at `base`: BASE+10i+8, +1 and +2.
pub(crate) fn ports(base: u16, i: u16) -> Result<Ports> {
    let at = |off: u16| {
        i.checked_mul(10)
            .and_then(|x| base.checked_add(x))
            .and_then(|x| x.checked_add(off))
            .ok_or_else(|| anyhow!("--base-port {base} leaves no room for member {i}"))
    };
    Ok(Ports {
        gossip: at(8)?,
        http: at(1)?,
        ctl: at(2)?,
    })
}

/// What the state file says about one member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MemberState {
    /// Its process id while it runs.
    pub pid: Option<u32>,
    pub ports: Ports,
    /// Its `--fs-root`.
    pub dir: PathBuf,
}

/// The state file of a running ring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RingState {
    /// The `warren local up` process.
    pub pid: u32,
    /// The ring's directory.
    pub dir: PathBuf,
    pub members: Vec<MemberState>,
}

impl RingState {
    fn to_json(&self) -> Value {
        json!({
            "pid": self.pid,
            "dir": self.dir,
            "socket": self.dir.join(SOCKET),
            "members": self.members.iter().enumerate().map(|(i, m)| json!({
                "member": i,
                "pid": m.pid,
                "gossip": format!("127.0.0.1:{}", m.ports.gossip),
                "http": format!("127.0.0.1:{}", m.ports.http),
                "ctl": format!("127.0.0.1:{}", m.ports.ctl),
                "dir": m.dir,
            })).collect::<Vec<_>>(),
        })
    }

    fn from_json(v: &Value) -> Option<Self> {
        let port =
            |m: &Value, k: &str| -> Option<u16> { m[k].as_str()?.rsplit_once(':')?.1.parse().ok() };
        let members = v["members"]
            .as_array()?
            .iter()
            .map(|m| {
                Some(MemberState {
                    pid: m["pid"].as_u64().and_then(|p| u32::try_from(p).ok()),
                    ports: Ports {
                        gossip: port(m, "gossip")?,
                        http: port(m, "http")?,
                        ctl: port(m, "ctl")?,
                    },
                    dir: PathBuf::from(m["dir"].as_str()?),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(RingState {
            pid: u32::try_from(v["pid"].as_u64()?).ok()?,
            dir: PathBuf::from(v["dir"].as_str()?),
            members,
        })
    }

    /// Writes `<dir>/local.json` atomically (a reader never sees half a file).
    pub(crate) fn write(&self) -> Result<()> {
        let path = self.dir.join(STATE_FILE);
        write_atomic(&path, &format!("{:#}\n", self.to_json()))
    }

    /// Reads the state file of the ring in `dir`.
    pub(crate) fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {}: is `warren local up` running with this directory?",
                path.display()
            )
        })?;
        let v: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        Self::from_json(&v).ok_or_else(|| anyhow!("{} is not a local ring's state", path.display()))
    }
}

/// Writes `text` to `path` through a temporary file and a rename.
pub(crate) fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// The pointer file naming the ring started last.
pub(crate) fn pointer() -> PathBuf {
    let base = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("warren-local"),
        _ => PathBuf::from(format!("/tmp/warren-local-{}", nix::unistd::getuid())),
    };
    base.join("current")
}

/// Points the pointer file at `dir`.
pub(crate) fn set_current(dir: &Path) -> Result<()> {
    let p = pointer();
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    write_atomic(&p, &format!("{}\n", dir.display()))
}

/// Removes the pointer file if it still names `dir` (a newer ring may have taken it).
pub(crate) fn clear_current(dir: &Path) {
    let p = pointer();
    if std::fs::read_to_string(&p).is_ok_and(|t| Path::new(t.trim()) == dir) {
        let _ = std::fs::remove_file(&p);
    }
}

/// The directory of the ring a control command addresses: `--dir`, else the pointer's.
pub(crate) fn resolve(dir: Option<&Path>) -> Result<PathBuf> {
    if let Some(d) = dir {
        return Ok(d.to_path_buf());
    }
    let p = pointer();
    let text = std::fs::read_to_string(&p).with_context(|| {
        format!(
            "no local ring is running ({} is missing): start one with `warren local up`, or give --dir",
            p.display()
        )
    })?;
    Ok(PathBuf::from(text.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ports_follow_the_documented_layout() {
        assert_eq!(
            ports(19600, 2).unwrap(),
            Ports {
                gossip: 19628,
                http: 19621,
                ctl: 19622
            }
        );
        assert!(ports(65530, 1).is_err());
    }

    #[test]
    fn the_state_file_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let s = RingState {
            pid: 42,
            dir: dir.path().to_path_buf(),
            members: vec![
                MemberState {
                    pid: Some(7),
                    ports: ports(19600, 0).unwrap(),
                    dir: dir.path().join("0"),
                },
                MemberState {
                    pid: None,
                    ports: ports(19600, 1).unwrap(),
                    dir: dir.path().join("1"),
                },
            ],
        };
        s.write().unwrap();
        assert_eq!(RingState::read(dir.path()).unwrap(), s);
        assert!(RingState::read(&dir.path().join("nowhere")).is_err());
    }
}
