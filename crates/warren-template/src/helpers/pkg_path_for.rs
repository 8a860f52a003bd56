//! `pkgPathFor "origin/name"`: the install path of the first transitive dependency (in
//! `pkg.deps` order) that satisfies the identifier, or an empty string if none does.
//!
//! It reads `pkg.deps` from the root of the render context, wherever the helper is called. An
//! identifier that does not parse is an error (Habitat's message); a missing or malformed
//! `pkg.deps` counts as no dependencies (Habitat would panic).

use std::path::PathBuf;

use handlebars::{Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext};
use serde_json::Value as Json;

use super::fail;
use crate::context::PackageIdent;

pub(super) struct PkgPathFor {
    /// Prefix of every `/hab/pkgs/...` path (`--fs-root`).
    pub(super) fs_root: PathBuf,
}

fn ident_of(dep: &Json) -> Option<PackageIdent> {
    let part = |key: &str| dep.get(key).and_then(Json::as_str).map(str::to_owned);
    Some(PackageIdent {
        origin: part("origin")?,
        name: part("name")?,
        version: part("version"),
        release: part("release"),
    })
}

impl HelperDef for PkgPathFor {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let wanted = h
            .param(0)
            .and_then(|p| p.value().as_str())
            .and_then(PackageIdent::parse)
            .ok_or_else(|| fail("Invalid package identifier for \"pkgPathFor\""))?;
        let deps = ctx
            .data()
            .get("pkg")
            .and_then(|pkg| pkg.get("deps"))
            .and_then(Json::as_array);
        let found = deps
            .into_iter()
            .flatten()
            .filter_map(ident_of)
            .find(|dep| dep.satisfies(&wanted));
        if let Some(dep) = found {
            out.write(&dep.install_path(&self.fs_root).to_string_lossy())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use crate::helpers::test_support::render;

    fn data() -> serde_json::Value {
        json!({ "pkg": { "deps": [
            { "origin": "core", "name": "glibc", "version": "2.35", "release": "20230101000000" },
            { "origin": "core", "name": "acl", "version": "2.2.52", "release": "20161208223311" },
            { "origin": "core", "name": "acl", "version": "2.3.1", "release": "20230101000000" },
        ]}})
    }

    #[test]
    fn finds_the_first_satisfying_dependency() {
        assert_eq!(
            render("{{pkgPathFor \"core/acl\"}}", &data()).unwrap(),
            "/hab/pkgs/core/acl/2.2.52/20161208223311"
        );
        assert_eq!(
            render("{{pkgPathFor \"core/acl/2.3.1\"}}", &data()).unwrap(),
            "/hab/pkgs/core/acl/2.3.1/20230101000000"
        );
    }

    #[test]
    fn is_empty_when_nothing_matches_and_reads_the_root_context() {
        assert_eq!(render("{{pkgPathFor \"core/nope\"}}", &data()).unwrap(), "");
        assert_eq!(
            render("{{pkgPathFor \"core/acl\"}}", &json!({})).unwrap(),
            ""
        );
        let t = "{{#with pkg}}{{pkgPathFor \"core/glibc\"}}{{/with}}";
        assert_eq!(
            render(t, &data()).unwrap(),
            "/hab/pkgs/core/glibc/2.35/20230101000000"
        );
    }

    #[test]
    fn rejects_a_malformed_identifier() {
        for t in [
            "{{pkgPathFor \"acl\"}}",
            "{{pkgPathFor 3}}",
            "{{pkgPathFor}}",
        ] {
            let err = render(t, &data()).unwrap_err();
            assert!(
                err.contains("Invalid package identifier for \"pkgPathFor\""),
                "{t}: {err}"
            );
        }
    }
}
