//! Warren's service layer, the parts that need no process or socket: what a package is
//! ([`plan`]: a plan directory read without running `plan.sh`, or an installed Habitat
//! package) and what configuration it runs with ([`config`]: Habitat's four layers, merged).
//!
//! [`render`] puts a package's rendered templates on disk (Habitat's modes, written only when
//! changed), and renders a plan as a supervisor alone in its group would (`warren plan render`).
//!
//! What this crate does not do (yet, or ever): run hooks, supervise processes, check health,
//! watch files, or anything async. It knows nothing about sockets or the ring; the manager
//! feeds it gossiped config and reads back the exports to gossip.

#![forbid(unsafe_code)]

pub mod config;
pub mod plan;
pub mod render;

pub use config::{
    ConfigError, ConfigLayers, Layer, MAX_MERGE_DEPTH, TomlSyntax, deprecated_user_toml_path,
    env_var_name, exports, merge, user_toml_path,
};
pub use plan::{Package, PackageSource, PlanError};
pub use render::{
    LoneRender, LoneReport, OutputKind, PlanRenderer, RenderError, RenderedFile, WrittenFile,
    render_lone, write_outputs,
};
