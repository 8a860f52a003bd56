//! Warren's service layer, the parts that need no process or socket: what a package is
//! ([`plan`]: a plan directory read without running `plan.sh`, or an installed Habitat
//! package; [`ident`]: an installed package found by its identifier, in Habitat's version
//! order) and what configuration it runs with ([`config`]: Habitat's four layers, merged).
//!
//! [`render`] puts a package's rendered templates on disk (Habitat's modes, written only when
//! changed), and renders a plan as a supervisor alone in its group would (`warren plan render`).
//!
//! The runtime: [`hooks`] runs lifecycle hooks (exit codes read as Habitat reads them, with
//! timeouts), [`decision`] chooses between restart and reconfigure, [`backoff`] paces restarts,
//! [`census_view`] turns the ring's census into the template context and judges binds, [`spec`]
//! holds a service's load flags, and [`supervisor`] is the tokio task per service that ties
//! them together: render from the census, publish the Service rumor, wait for the election and
//! binds, run `init`/`run`/`post-run`, check health, restart or reconfigure on change, stop.
//!
//! What this crate does not do: sockets, the ring itself (it talks to it through
//! [`supervisor::RingPort`] and reads its census), or spawning processes directly
//! (`warren-process` does, so one reaper sees every child).

#![forbid(unsafe_code)]

pub mod backoff;
pub mod census_view;
pub mod config;
pub mod decision;
pub mod hooks;
pub mod ident;
pub mod plan;
pub mod render;
pub mod spec;
pub mod spec_file;
pub mod supervisor;
mod user_watch;

pub use config::{
    ConfigError, ConfigLayers, Layer, MAX_MERGE_DEPTH, TomlSyntax, deprecated_user_toml_path,
    env_var_name, exports, merge, user_toml_path,
};
pub use plan::{Package, PackageSource, PlanError};
pub use render::{
    LoneRender, LoneReport, OutputKind, PlanRenderer, RenderError, RenderedFile, WrittenFile,
    habitat_render_data, render_lone, render_template_file, write_outputs,
};
