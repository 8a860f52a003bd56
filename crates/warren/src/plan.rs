//! Just enough of a plan directory to announce its service to the ring: the package ident read
//! from `plan.sh` (parsed, never executed). The service runtime (plans, config, hooks,
//! processes) replaces this with `warren-service`; until then `warren run PLAN_DIR` joins the
//! service's group and its election but runs nothing.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// A plan's package identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PlanIdent {
    pub origin: String,
    pub name: String,
    pub version: String,
}

impl PlanIdent {
    /// `origin/name/version/release`; a plan that was not built has no release: `0`.
    pub(crate) fn fully_qualified(&self) -> String {
        format!("{}/{}/{}/0", self.origin, self.name, self.version)
    }
}

/// Reads `pkg_origin`, `pkg_name` and `pkg_version` from `DIR/plan.sh`. Values that need the
/// shell (`$var`, command substitution) are refused with the file and line.
pub(crate) fn read_ident(dir: &Path) -> Result<PlanIdent> {
    let file = dir.join("plan.sh");
    if !dir.is_dir() {
        bail!("plan directory {} does not exist", dir.display());
    }
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let (mut origin, mut name, mut version) = (None, None, None);
    for (n, line) in text.lines().enumerate() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        let slot = match key.trim() {
            "pkg_origin" => &mut origin,
            "pkg_name" => &mut name,
            "pkg_version" => &mut version,
            _ => continue,
        };
        let v = value.trim().trim_matches(|c| c == '"' || c == '\'');
        if v.is_empty() || v.contains(['$', '`', ' ', '/']) {
            bail!(
                "{}:{}: {} must be a plain value, got {:?}",
                file.display(),
                n + 1,
                key.trim(),
                value.trim()
            );
        }
        *slot = Some(v.to_owned());
    }
    let Some(name) = name else {
        bail!("{}: no pkg_name", file.display());
    };
    Ok(PlanIdent {
        origin: origin.unwrap_or_else(|| "local".to_owned()),
        name,
        version: version.unwrap_or_else(|| "0.0.0".to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_assignments_and_refuses_shell() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join("plan.sh"),
            "pkg_origin=core\npkg_name=\"redis\"\npkg_version='7.2.4'\npkg_svc_run=\"redis-server\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let id = read_ident(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id.fully_qualified(), "core/redis/7.2.4/0");
        std::fs::write(
            dir.path().join("plan.sh"),
            "pkg_name=redis\npkg_version=$(date)\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let err = read_ident(dir.path()).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("plan.sh:2"), "{err}");
        assert!(read_ident(&dir.path().join("nope")).is_err());
    }
}
