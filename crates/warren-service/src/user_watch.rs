//! Noticing changes to a service's `user.toml` (`/hab/user/<svc>/config/user.toml`): inotify
//! through the `notify` crate, on the file's directory, so a write, a rename into place (how
//! editors and `kubectl` ConfigMap mounts replace files) or a removal is seen at once.
//!
//! The directory is created if missing (an empty directory is what a service without user
//! configuration has anyway). Only when the watch cannot be set up (no inotify, out of
//! watches, a read-only file system without the directory) or the watcher reports an error,
//! the file is polled every second instead, as Warren did before, and a warning says so.
//!
//! It only says "look again", once the file has been quiet for [`SETTLE`] (a write in several
//! steps is read once, whole): reading and comparing the file stays the supervisor's, so a
//! spurious or repeated event costs one read.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tracing::warn;

/// How often `user.toml` is read when it cannot be watched.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How long the file must be quiet after an event before it is read.
pub(crate) const SETTLE: Duration = Duration::from_millis(100);

/// What tells the supervisor to read `user.toml` again.
pub(crate) enum UserTomlWatch {
    /// inotify on the directory; the watcher lives as long as this value.
    Notify {
        _watcher: notify::RecommendedWatcher,
        events: mpsc::UnboundedReceiver<Result<(), String>>,
        /// An event arrived and the file has not been quiet for [`SETTLE`] yet.
        pending: bool,
        path: PathBuf,
    },
    /// The fallback: every [`POLL_INTERVAL`].
    Poll(tokio::time::Interval),
}

impl UserTomlWatch {
    /// Watches `path`'s directory, or falls back to polling (logged with the reason).
    pub(crate) fn new(path: &Path) -> UserTomlWatch {
        match watch(path) {
            Ok(w) => w,
            Err(e) => {
                warn!(file = %path.display(), "cannot watch user.toml ({e}); reading it every second instead");
                poll()
            }
        }
    }

    /// Whether changes arrive from inotify (rather than a poll).
    pub(crate) fn is_notify(&self) -> bool {
        matches!(self, UserTomlWatch::Notify { .. })
    }

    /// Resolves when the file may have changed and has been quiet for [`SETTLE`]. Cancel-safe
    /// (for `select!`): an event seen before a cancellation is remembered, not lost.
    pub(crate) async fn changed(&mut self) {
        let failure = match self {
            UserTomlWatch::Poll(interval) => {
                interval.tick().await;
                return;
            }
            UserTomlWatch::Notify {
                events, pending, ..
            } => settle(events, pending).await,
        };
        if let Err(why) = failure {
            if let UserTomlWatch::Notify { path, .. } = self {
                warn!(file = %path.display(), "{why}; reading user.toml every second instead");
            }
            // Read once now: whatever the failure hid is picked up.
            *self = poll();
        }
    }
}

/// Waits for an event (unless one is `pending` already), then until no event came for
/// [`SETTLE`]. A writer that truncates, then writes, raises several events in a row; reading
/// after the first would see the empty file in between (and an empty user.toml is a valid,
/// different configuration).
async fn settle(
    events: &mut mpsc::UnboundedReceiver<Result<(), String>>,
    pending: &mut bool,
) -> Result<(), String> {
    if !*pending {
        match events.recv().await {
            Some(Ok(())) => *pending = true,
            Some(Err(e)) => return Err(format!("watching user.toml failed ({e})")),
            None => return Err("the user.toml watcher stopped".to_owned()),
        }
    }
    loop {
        match tokio::time::timeout(SETTLE, events.recv()).await {
            Err(_) => break,
            Ok(Some(Ok(()))) => {}
            Ok(Some(Err(e))) => return Err(format!("watching user.toml failed ({e})")),
            Ok(None) => return Err("the user.toml watcher stopped".to_owned()),
        }
    }
    *pending = false;
    Ok(())
}

fn poll() -> UserTomlWatch {
    let mut interval = tokio::time::interval(POLL_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    UserTomlWatch::Poll(interval)
}

fn watch(path: &Path) -> Result<UserTomlWatch, String> {
    let dir = path
        .parent()
        .ok_or_else(|| format!("{} has no directory", path.display()))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let (tx, events) = mpsc::unbounded_channel();
    let name = path.file_name().map(ToOwned::to_owned);
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let msg = match res {
            // Events about other files of the directory are not ours; a rescan request
            // (events were lost) is.
            Ok(ev) if ev.need_rescan() => Ok(()),
            Ok(ev)
                if !ev.paths.is_empty()
                    && ev.paths.iter().all(|p| p.file_name() != name.as_deref()) =>
            {
                return;
            }
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        };
        let _ = tx.send(msg);
    })
    .map_err(|e| e.to_string())?;
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(|e| format!("watching {}: {e}", dir.display()))?;
    Ok(UserTomlWatch::Notify {
        _watcher: watcher,
        events,
        pending: false,
        path: path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_and_a_rename_into_place_are_seen_without_polling() {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = root.path().join("hab/user/redis/config/user.toml");
        let mut w = UserTomlWatch::new(&path);
        assert!(w.is_notify(), "inotify is not available here");
        assert!(path.parent().is_some_and(Path::is_dir));
        std::fs::write(&path, "a = 1\n").unwrap_or_else(|e| panic!("{e}"));
        let seen = tokio::time::timeout(Duration::from_secs(5), w.changed()).await;
        assert!(seen.is_ok(), "a write was not seen");
        // Drain what the write produced, then replace the file as editors do.
        while tokio::time::timeout(Duration::from_millis(200), w.changed())
            .await
            .is_ok()
        {}
        let tmp = root.path().join("hab/user/redis/config/.user.toml.tmp");
        std::fs::write(&tmp, "a = 2\n").unwrap_or_else(|e| panic!("{e}"));
        // A file that is not user.toml says nothing by itself …
        let other = tokio::time::timeout(Duration::from_millis(300), w.changed()).await;
        assert!(other.is_err(), "an unrelated file woke the watcher");
        std::fs::rename(&tmp, &path).unwrap_or_else(|e| panic!("{e}"));
        // … its rename onto user.toml does.
        let seen = tokio::time::timeout(Duration::from_secs(5), w.changed()).await;
        assert!(seen.is_ok(), "a rename into place was not seen");
        assert!(w.is_notify());
    }

    #[tokio::test]
    async fn a_directory_that_cannot_be_made_falls_back_to_polling() {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        // A file where the directory should be.
        std::fs::write(root.path().join("hab"), "").unwrap_or_else(|e| panic!("{e}"));
        let path = root.path().join("hab/user/redis/config/user.toml");
        let mut w = UserTomlWatch::new(&path);
        assert!(!w.is_notify());
        let tick = tokio::time::timeout(POLL_INTERVAL * 3, w.changed()).await;
        assert!(tick.is_ok(), "the poll never ticked");
    }
}
