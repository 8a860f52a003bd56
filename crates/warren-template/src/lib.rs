//! Habitat-compatible templating for Warren.
//!
//! A plan written for Habitat renders here unchanged: the same engine (the `handlebars` crate,
//! HTML escaping off, non-strict by default), the same render context under the same key names
//! (`sys`, `pkg`, `cfg`, `svc`, `bind`; see [`RenderContext`]) and the same helpers (`eachAlive`,
//! `pkgPathFor`, `strConcat`, `strJoin`, `strReplace`, `toUppercase`, `toLowercase`, `toJson`,
//! `toToml`, `toYaml`, plus handlebars' built-ins). Habitat's legacy `obj[idx]` indexing, which
//! today's handlebars rejects, is rewritten to `obj.[idx]` when a template is registered, and a
//! [`LegacySyntaxWarning`] says where.
//!
//! Typical use: build a [`RenderContext`] from the census (or [`RenderContext::lone`] for a
//! supervisor alone in its group), turn it into a [`PreparedContext`] once, then render every
//! template of the plan with it through a [`Renderer`].
//!
//! What this crate does not do: it knows nothing about the ring, processes or the file system
//! beyond reading a plan's `config/` and `hooks/` templates. Building the census, layering the
//! configuration (§8.3), choosing which binds are satisfied, and writing rendered files to disk
//! belong to the service layer.

#![forbid(unsafe_code)]

mod context;
mod helpers;
mod legacy;
mod render;

pub use context::{
    BindContext, CensusGroup, CensusMember, ContextError, ElectionStatus, Health, KeyOrder,
    MemberSys, PackageIdent, PkgInfo, RenderContext, SvcContext, SysInfo, exported_cfg,
    ordered_entries, toml_document_to_json,
};
pub use legacy::LegacySyntaxWarning;
pub use render::{
    HOOK_NAMES, PlanTemplates, PreparedContext, RegisteredTemplate, Renderer, TemplateError,
};
