//! What to do when a re-render changed files (spec §8.6), as Habitat decides it: restart when
//! a hook that shapes the process (`init`, `run`, `post-run`) changed, or when configuration
//! changed and the package has no `reconfigure` hook; run `reconfigure` when configuration or
//! the `reconfigure` hook itself changed and the package has one; otherwise nothing (a new
//! `health-check` or `post-stop` is simply used next time).
//!
//! Pure: it reads a list of changed outputs and answers; it runs nothing.

use std::path::Path;

use crate::hooks::HookKind;
use crate::render::{OutputKind, WrittenFile};

/// What changed in one render, reduced to what the decision needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// A file under `config/` was written.
    pub config: bool,
    /// `init`, `run` or `post-run` was written.
    pub process_hooks: bool,
    /// `reconfigure` was written.
    pub reconfigure_hook: bool,
}

impl Changes {
    /// Reads [`WrittenFile`]s (from [`crate::render::write_outputs`]).
    pub fn from_written(files: &[WrittenFile]) -> Changes {
        let mut changes = Changes::default();
        for file in files.iter().filter(|f| f.changed) {
            match file.kind {
                OutputKind::Config => changes.config = true,
                OutputKind::Hook => match hook_of(&file.path) {
                    Some(HookKind::Init | HookKind::Run | HookKind::PostRun) => {
                        changes.process_hooks = true;
                    }
                    Some(HookKind::Reconfigure) => changes.reconfigure_hook = true,
                    _ => {}
                },
            }
        }
        changes
    }

    /// Whether anything at all changed.
    pub fn any(self) -> bool {
        self.config || self.process_hooks || self.reconfigure_hook
    }
}

fn hook_of(path: &Path) -> Option<HookKind> {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(HookKind::from_file_name)
}

/// The action a change calls for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing to do.
    Nothing,
    /// Stop the service and start it again (init, run, post-run).
    Restart,
    /// Run the `reconfigure` hook, then a health check; the process keeps running.
    Reconfigure,
}

/// Habitat's decision (§8.6) for `changes`, given whether the package has a `reconfigure` hook.
pub fn decide(changes: Changes, has_reconfigure_hook: bool) -> Action {
    if changes.process_hooks || (changes.config && !has_reconfigure_hook) {
        Action::Restart
    } else if has_reconfigure_hook && (changes.config || changes.reconfigure_hook) {
        Action::Reconfigure
    } else {
        Action::Nothing
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::path::PathBuf;

    use super::*;

    fn written(kind: OutputKind, path: &str, changed: bool) -> WrittenFile {
        WrittenFile {
            kind,
            path: PathBuf::from("/hab/svc/x").join(path),
            changed,
        }
    }

    #[test]
    fn reads_changed_files_only() {
        let files = [
            written(OutputKind::Config, "config/a.conf", false),
            written(OutputKind::Hook, "hooks/run", false),
            written(OutputKind::Hook, "hooks/health-check", true),
        ];
        assert_eq!(Changes::from_written(&files), Changes::default());
        let files = [
            written(OutputKind::Config, "config/nested/b.conf", true),
            written(OutputKind::Hook, "hooks/post-run", true),
            written(OutputKind::Hook, "hooks/reconfigure", true),
        ];
        assert_eq!(
            Changes::from_written(&files),
            Changes {
                config: true,
                process_hooks: true,
                reconfigure_hook: true
            }
        );
    }

    #[test]
    fn habitat_table() {
        let c = |config, process_hooks, reconfigure_hook| Changes {
            config,
            process_hooks,
            reconfigure_hook,
        };
        // (changes, has reconfigure hook) → action, row by row of spec §8.6.
        let table = [
            (c(false, false, false), false, Action::Nothing),
            (c(false, false, false), true, Action::Nothing),
            (c(false, true, false), false, Action::Restart),
            (c(false, true, false), true, Action::Restart),
            (c(true, false, false), false, Action::Restart),
            (c(true, false, false), true, Action::Reconfigure),
            (c(false, false, true), true, Action::Reconfigure),
            (c(true, true, true), true, Action::Restart),
            (c(true, false, true), true, Action::Reconfigure),
        ];
        for (changes, has_hook, want) in table {
            assert_eq!(
                decide(changes, has_hook),
                want,
                "{changes:?} hook={has_hook}"
            );
        }
    }

    #[test]
    fn each_process_hook_restarts() {
        for hook in ["init", "run", "post-run"] {
            let files = [written(OutputKind::Hook, &format!("hooks/{hook}"), true)];
            assert_eq!(
                decide(Changes::from_written(&files), true),
                Action::Restart,
                "{hook}"
            );
        }
        for hook in ["health-check", "suitability", "file-updated", "post-stop"] {
            let files = [written(OutputKind::Hook, &format!("hooks/{hook}"), true)];
            assert_eq!(
                decide(Changes::from_written(&files), true),
                Action::Nothing,
                "{hook}"
            );
        }
    }
}
