//! Who this process is, and the user a child runs as.

use nix::unistd::{Group, User, geteuid, getpid};

/// A numeric user and group for [`crate::SpawnSpec::user`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserIds {
    /// User id the child runs as.
    pub uid: u32,
    /// Primary group id the child runs as (supplementary groups are dropped when we are root).
    pub gid: u32,
}

/// The effective user id is 0, so children can be spawned as another user.
pub fn is_root() -> bool {
    geteuid().is_root()
}

/// This process is PID 1 of its PID namespace (a container's init), so every orphan in the
/// namespace is reparented to it and it must reap them.
pub fn is_pid1() -> bool {
    getpid().as_raw() == 1
}

/// Looks up `user` and `group` by name in the system's user and group databases.
///
/// The error names what is missing, e.g. `user "hab" not found`.
pub fn lookup_user(user: &str, group: &str) -> Result<UserIds, String> {
    let uid = match User::from_name(user) {
        Ok(Some(u)) => u.uid.as_raw(),
        Ok(None) => {
            return Err(format!(
                "user {user:?} not found (create it, or set another)"
            ));
        }
        Err(e) => return Err(format!("looking up user {user:?}: {e}")),
    };
    let gid = match Group::from_name(group) {
        Ok(Some(g)) => g.gid.as_raw(),
        Ok(None) => {
            return Err(format!(
                "group {group:?} not found (create it, or set another)"
            ));
        }
        Err(e) => return Err(format!("looking up group {group:?}: {e}")),
    };
    Ok(UserIds { uid, gid })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_user_is_found_and_missing_ones_are_named() {
        assert_eq!(lookup_user("root", "root"), Ok(UserIds { uid: 0, gid: 0 }));
        let err = lookup_user("no-such-user-warren", "root").unwrap_err();
        assert!(
            err.contains("user \"no-such-user-warren\" not found"),
            "{err}"
        );
        let err = lookup_user("root", "no-such-group-warren").unwrap_err();
        assert!(
            err.contains("group \"no-such-group-warren\" not found"),
            "{err}"
        );
    }

    #[test]
    fn a_test_process_is_not_pid1() {
        assert!(!is_pid1());
    }
}
