//! Rendering a package's templates to disk (spec §8.5): every file under `config/` to
//! `<out>/config/<relpath>` (mode 0740, new directories 0770) and every known hook under
//! `hooks/` to `<out>/hooks/<hook>` (mode 0755). A file is written only when its content
//! differs from what is already there (Habitat compares Blake2b hashes; comparing the bytes is
//! the same decision), atomically (temporary file, then rename), and the caller learns which
//! files changed, which is what decides between reconfigure and restart (§8.6).
//!
//! [`PlanRenderer`] loads the templates once and renders them with any [`RenderContext`];
//! [`write_outputs`] puts the result on disk. Everything is rendered before anything is
//! written, so a template error leaves the output directory as it was. [`render_lone`] is the
//! one-shot behind `warren plan render`: it reads the plan, layers the configuration
//! (`default.toml` < `HAB_<PKG>` < a `user.toml` file), builds the context a supervisor alone in
//! its group would give it ([`lone_context`]; override `sys` values and the group with
//! [`apply_member_overrides`]) and renders. [`habitat_render_data`] and
//! [`render_template_file`] are the other form, Habitat's `hab plan render TEMPLATE`: one
//! template, rendered with `{"cfg": default.toml ⊕ user.toml}` ⊕ mock data and nothing else.
//!
//! What this module does not do: change file ownership (Habitat chowns to `svc_user:svc_group`;
//! that needs privileges a render does not have), copy the `run` hook to `<svc>/run`, remove
//! outputs whose template was deleted, decide when to re-render, run hooks or build a census
//! from the ring.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write as _};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use warren_template::{
    CensusGroup, ContextError, LegacySyntaxWarning, PlanTemplates, PreparedContext, RenderContext,
    Renderer, SvcContext, SysInfo, TemplateError,
};

use crate::config::{ConfigError, ConfigLayers, TomlSyntax, parse_table};
use crate::plan::{Package, PlanError};

/// Mode of a rendered configuration file (Habitat's `CONFIG_PERMISSIONS`, §8.5).
pub const CONFIG_FILE_MODE: u32 = 0o740;
/// Mode of a directory created under `config/` for nested templates (§8.5).
pub const CONFIG_DIR_MODE: u32 = 0o770;
/// Mode of a rendered hook (§8.5).
pub const HOOK_FILE_MODE: u32 = 0o755;
/// Mode of the `hooks/` directory itself.
pub const HOOKS_DIR_MODE: u32 = 0o755;

/// The member id of a lone render unless overridden: shaped like a real one (32 hex digits),
/// obviously not one.
pub const PLACEHOLDER_MEMBER_ID: &str = "00000000000000000000000000000000";

/// The keys [`apply_member_overrides`] accepts: every `sys` field, and `group`.
pub const MEMBER_OVERRIDE_KEYS: [&str; 12] = [
    "version",
    "member_id",
    "ip",
    "hostname",
    "gossip_ip",
    "gossip_port",
    "http_gateway_ip",
    "http_gateway_port",
    "ctl_gateway_ip",
    "ctl_gateway_port",
    "permanent",
    "group",
];

/// Why a plan could not be rendered. Every variant names the file it is about; none leaves a
/// partly written output (files already written are complete, the failing one is untouched).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The plan (`plan.sh`, `default.toml`) could not be loaded.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The `HAB_<PKG>` environment layer is invalid, or a layer nests too deep.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An input file (`user.toml`, the member overrides) could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A TOML input (`user.toml`; for Habitat's form also `default.toml`) is not valid TOML.
    #[error("{}: invalid TOML {syntax}", path.display())]
    UserToml {
        /// The file.
        path: PathBuf,
        /// Where and what.
        syntax: TomlSyntax,
    },
    /// The member overrides are not a JSON object of known keys with values of the right type.
    #[error("{}: {message}", path.display())]
    MemberOverrides {
        /// The file they came from.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The mock data of Habitat's form (`-m FILE`) is not JSON.
    #[error("{}: invalid JSON mock data: {message}", path.display())]
    MockData {
        /// The file.
        path: PathBuf,
        /// What is wrong, from the JSON parser.
        message: String,
    },
    /// The render context could not be built.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// A template does not parse or does not render; the error names its file and line.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// An output file or directory could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// Whether an output is a configuration file or a hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutputKind {
    /// A template from `config/`.
    Config,
    /// A hook from `hooks/`.
    Hook,
}

impl OutputKind {
    /// The file mode Habitat gives this kind of output.
    pub fn mode(self) -> u32 {
        match self {
            OutputKind::Config => CONFIG_FILE_MODE,
            OutputKind::Hook => HOOK_FILE_MODE,
        }
    }
}

/// One rendered template, not yet on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedFile {
    /// Configuration file or hook.
    pub kind: OutputKind,
    /// Path relative to the output directory: `config/<relpath>` or `hooks/<hook>`.
    pub path: PathBuf,
    /// The rendered text.
    pub content: String,
}

/// One output after [`write_outputs`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenFile {
    /// Configuration file or hook.
    pub kind: OutputKind,
    /// Where it is (the output directory joined with [`RenderedFile::path`]).
    pub path: PathBuf,
    /// Whether it was written: new, or its content changed. `false` means it was left alone.
    pub changed: bool,
}

/// One notice for each hook loaded from a deprecated file name.
fn deprecated_hooks(templates: &PlanTemplates) -> impl Iterator<Item = String> + '_ {
    templates.hooks.iter().filter_map(|hook| {
        hook.deprecated_from.as_ref().map(|old| {
            format!(
                "deprecated hook file name hooks/{old}: loaded as hooks/{} (rename it; Habitat \
                 deprecates the old name too)",
                hook.output.display()
            )
        })
    })
}

/// A package's templates, loaded once, rendered with any context.
#[derive(Debug)]
pub struct PlanRenderer {
    renderer: Renderer,
    templates: PlanTemplates,
}

impl PlanRenderer {
    /// Loads `pkg`'s `config/` and `hooks/` templates. With `strict`, a reference to a value
    /// missing from the context is an error naming it; without, it renders empty (Habitat).
    /// `pkgPathFor` resolves under `fs_root`.
    pub fn new(pkg: &Package, fs_root: &Path, strict: bool) -> Result<Self, RenderError> {
        let mut renderer = Renderer::with_fs_root(fs_root);
        renderer.set_strict(strict);
        let templates = PlanTemplates {
            config: match &pkg.config_dir {
                Some(dir) => renderer.register_config_dir(dir)?,
                None => Vec::new(),
            },
            hooks: match &pkg.hooks_dir {
                Some(dir) => renderer.register_hooks_dir(dir)?,
                None => Vec::new(),
            },
        };
        for notice in deprecated_hooks(&templates) {
            tracing::warn!(pkg = %pkg.ident, "{notice}");
        }
        Ok(PlanRenderer {
            renderer,
            templates,
        })
    }

    /// The templates loaded.
    pub fn templates(&self) -> &PlanTemplates {
        &self.templates
    }

    /// Legacy-syntax warnings found while loading (once), for the caller to show.
    pub fn take_warnings(&mut self) -> Vec<LegacySyntaxWarning> {
        self.renderer.take_warnings()
    }

    /// Renders every template with `ctx`: configuration files in path order, then hooks in
    /// name order. Stops at the first error.
    pub fn render(&self, ctx: &RenderContext) -> Result<Vec<RenderedFile>, RenderError> {
        let prepared = PreparedContext::new(ctx)?;
        let config = self
            .templates
            .config
            .iter()
            .map(|t| (OutputKind::Config, Path::new("config").join(&t.output), t));
        let hooks = self
            .templates
            .hooks
            .iter()
            .map(|t| (OutputKind::Hook, Path::new("hooks").join(&t.output), t));
        config
            .chain(hooks)
            .map(|(kind, path, t)| {
                Ok(RenderedFile {
                    kind,
                    path,
                    content: self.renderer.render_prepared(&t.name, &prepared)?,
                })
            })
            .collect()
    }
}

/// Writes `files` under `out_dir` (creating it and the directories the files need), each only
/// if its content differs from the file already there, with its kind's mode.
pub fn write_outputs(
    out_dir: &Path,
    files: &[RenderedFile],
) -> Result<Vec<WrittenFile>, RenderError> {
    let mut written = Vec::with_capacity(files.len());
    for file in files {
        let path = out_dir.join(&file.path);
        if let Some(parent) = path.parent() {
            let dir_mode = match file.kind {
                OutputKind::Config => CONFIG_DIR_MODE,
                OutputKind::Hook => HOOKS_DIR_MODE,
            };
            create_dirs(parent, dir_mode)?;
        }
        let changed = write_if_changed(&path, file.content.as_bytes(), file.kind.mode())?;
        written.push(WrittenFile {
            kind: file.kind,
            path,
            changed,
        });
    }
    Ok(written)
}

/// The context of a supervisor alone in `group`: one member, itself (from `sys`), leader after
/// a finished election, no update election, no binds; `pkg` with Habitat's paths under
/// `fs_root`; `cfg` as given. This is what a lone supervisor gives a plan's templates.
pub fn lone_context(
    pkg: &Package,
    fs_root: &Path,
    cfg: toml::Table,
    sys: SysInfo,
    group: &str,
) -> Result<RenderContext, RenderError> {
    let pkg_info = pkg.pkg_info(fs_root);
    let census = CensusGroup::lone(&sys, &pkg_info, &cfg, group);
    let svc = SvcContext::new(&census, &sys.member_id)?;
    Ok(RenderContext {
        sys,
        pkg: pkg_info,
        cfg,
        svc,
        bind: BTreeMap::new(),
    })
}

/// Applies a JSON object of overrides to the lone member: each key of [`MEMBER_OVERRIDE_KEYS`]
/// replaces that `sys` field (and so the same field of `svc.me.sys`, and `svc.me.member_id`
/// for `member_id`), or the service group name for `group`. IP fields take an address string,
/// ports a number from 0 to 65535, `permanent` a boolean, the rest strings. Anything else (an
/// unknown key, a wrong type, not an object) is refused with a message naming the key; nothing
/// is changed then.
pub fn apply_member_overrides(
    sys: &mut SysInfo,
    group: &mut String,
    overrides: &serde_json::Value,
) -> Result<(), String> {
    let Some(object) = overrides.as_object() else {
        return Err("member overrides must be a JSON object".to_owned());
    };
    let mut new_sys = sys.clone();
    let mut new_group = group.clone();
    for (key, value) in object {
        let string = || {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("`{key}` must be a string, not {value}"))
        };
        let ip = || -> Result<IpAddr, String> {
            string()?
                .parse()
                .map_err(|_| format!("`{key}` must be an IP address, not {value}"))
        };
        let port = || -> Result<u16, String> {
            value
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| format!("`{key}` must be a port number (0-65535), not {value}"))
        };
        match key.as_str() {
            "version" => new_sys.version = string()?,
            "member_id" => new_sys.member_id = string()?,
            "ip" => new_sys.ip = ip()?,
            "hostname" => new_sys.hostname = string()?,
            "gossip_ip" => new_sys.gossip_ip = ip()?,
            "gossip_port" => new_sys.gossip_port = port()?,
            "http_gateway_ip" => new_sys.http_gateway_ip = ip()?,
            "http_gateway_port" => new_sys.http_gateway_port = port()?,
            "ctl_gateway_ip" => new_sys.ctl_gateway_ip = ip()?,
            "ctl_gateway_port" => new_sys.ctl_gateway_port = port()?,
            "permanent" => {
                new_sys.permanent = value
                    .as_bool()
                    .ok_or_else(|| format!("`{key}` must be true or false, not {value}"))?;
            }
            "group" => new_group = string()?,
            _ => {
                return Err(format!(
                    "unknown key `{key}`; the keys that can be overridden are {}",
                    MEMBER_OVERRIDE_KEYS.join(", ")
                ));
            }
        }
    }
    *sys = new_sys;
    *group = new_group;
    Ok(())
}

/// What [`render_lone`] is asked to do besides the plan and output directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoneRender {
    /// A `user.toml` to layer over `default.toml` and `HAB_<PKG>`.
    pub user_toml: Option<PathBuf>,
    /// A JSON file of member overrides ([`apply_member_overrides`]).
    pub member_json: Option<PathBuf>,
    /// Strict mode: a missing value is an error naming it.
    pub strict: bool,
    /// The `sys` values before overrides. Default: Habitat's (`ip` 127.0.0.1, host name
    /// `localhost`, listeners on their default ports), with [`PLACEHOLDER_MEMBER_ID`].
    pub sys: SysInfo,
    /// Prefix for the `/hab/...` paths in `pkg` and for `pkgPathFor`.
    pub fs_root: PathBuf,
}

impl Default for LoneRender {
    fn default() -> Self {
        LoneRender {
            user_toml: None,
            member_json: None,
            strict: false,
            sys: SysInfo {
                member_id: PLACEHOLDER_MEMBER_ID.to_owned(),
                ..SysInfo::default()
            },
            fs_root: PathBuf::from("/"),
        }
    }
}

/// What [`render_lone`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoneReport {
    /// The package rendered (`origin/name[/version]`).
    pub ident: String,
    /// Every output, in render order, with whether it changed.
    pub files: Vec<WrittenFile>,
    /// Legacy-syntax warnings from the templates.
    pub warnings: Vec<String>,
}

/// Renders the plan in `plan_dir` into `out_dir` as a supervisor alone in its group would:
/// configuration `default.toml` < `HAB_<PKG>` (looked up with `env`) < `opts.user_toml`, the
/// context of [`lone_context`] in group `default` after `opts.member_json` overrides.
pub fn render_lone(
    plan_dir: &Path,
    out_dir: &Path,
    opts: &LoneRender,
    env: impl Fn(&str) -> Option<String>,
) -> Result<LoneReport, RenderError> {
    let pkg = Package::from_plan_dir(plan_dir)?;
    let mut layers = ConfigLayers::for_package(&pkg, &opts.fs_root);
    if let Some(value) = env(layers.env_var()) {
        layers.set_env(&value)?;
    }
    if let Some(path) = &opts.user_toml {
        let text = read(path)?;
        layers.set_user_toml(&text).map_err(|e| match e {
            ConfigError::InvalidToml { syntax, .. } => RenderError::UserToml {
                path: path.clone(),
                syntax,
            },
            ConfigError::TooDeep { path: at, .. } => RenderError::Config(ConfigError::TooDeep {
                source_name: path.display().to_string(),
                path: at,
            }),
            other => RenderError::Config(other),
        })?;
    }

    let mut sys = opts.sys.clone();
    let mut group = "default".to_owned();
    if let Some(path) = &opts.member_json {
        let overrides_error = |message: String| RenderError::MemberOverrides {
            path: path.clone(),
            message,
        };
        let value: serde_json::Value = serde_json::from_str(&read(path)?)
            .map_err(|e| overrides_error(format!("invalid JSON: {e}")))?;
        apply_member_overrides(&mut sys, &mut group, &value).map_err(overrides_error)?;
    }
    let ctx = lone_context(&pkg, &opts.fs_root, layers.merged().clone(), sys, &group)?;

    let mut renderer = PlanRenderer::new(&pkg, &opts.fs_root, opts.strict)?;
    let warnings = renderer
        .take_warnings()
        .iter()
        .map(ToString::to_string)
        .chain(deprecated_hooks(&renderer.templates))
        .collect();
    let rendered = renderer.render(&ctx)?;
    let files = write_outputs(out_dir, &rendered)?;
    Ok(LoneReport {
        ident: pkg.ident.to_string(),
        files,
        warnings,
    })
}

/// The data `hab plan render` renders a template with: `{"cfg": default.toml}`, then
/// `{"cfg": user.toml}` and then the mock data (any JSON, usually with `cfg`, `svc`, `sys`,
/// `pkg` or `bind` keys) merged over it as Habitat merges them: objects key by key,
/// recursively; anything else (arrays included) replaces what was there. There is no `sys`,
/// `pkg` or `svc` unless the mock data provides it, exactly as in Habitat.
pub fn habitat_render_data(
    default_toml: &Path,
    user_toml: Option<&Path>,
    mock_data: Option<&Path>,
) -> Result<serde_json::Value, RenderError> {
    let toml_layer = |path: &Path| -> Result<serde_json::Value, RenderError> {
        let table = parse_table(&read(path)?).map_err(|syntax| RenderError::UserToml {
            path: path.to_owned(),
            syntax,
        })?;
        let cfg =
            warren_template::toml_document_to_json(&table).map_err(|e| RenderError::UserToml {
                path: path.to_owned(),
                syntax: TomlSyntax {
                    line: None,
                    column: None,
                    message: e.to_string(),
                },
            })?;
        Ok(serde_json::json!({ "cfg": cfg }))
    };
    let mut data = serde_json::json!({});
    habitat_merge(&mut data, toml_layer(default_toml)?);
    if let Some(path) = user_toml {
        habitat_merge(&mut data, toml_layer(path)?);
    } else {
        habitat_merge(&mut data, serde_json::json!({ "cfg": {} }));
    }
    if let Some(path) = mock_data {
        let mock = serde_json::from_str(&read(path)?).map_err(|e| RenderError::MockData {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        habitat_merge(&mut data, mock);
    }
    Ok(data)
}

/// Habitat's merge for `hab plan render`: `b` into `a`.
fn habitat_merge(a: &mut serde_json::Value, b: serde_json::Value) {
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                habitat_merge(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

/// Renders one template file with `data` (from [`habitat_render_data`]), non-strict, with
/// Habitat's helpers; returns the text and any legacy-syntax warnings.
pub fn render_template_file(
    template: &Path,
    data: serde_json::Value,
) -> Result<(String, Vec<String>), RenderError> {
    let mut renderer = Renderer::new();
    let name = template.display().to_string();
    renderer.register_file(&name, template)?;
    let text = renderer.render_prepared(&name, &PreparedContext::from_json(data))?;
    let warnings = renderer
        .take_warnings()
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok((text, warnings))
}

fn read(path: &Path) -> Result<String, RenderError> {
    fs::read_to_string(path).map_err(|source| RenderError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Creates `dir` and its missing parents; the ones it creates get `mode` (less the umask).
fn create_dirs(dir: &Path, mode: u32) -> Result<(), RenderError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    builder.create(dir).map_err(|source| RenderError::Write {
        path: dir.to_owned(),
        source,
    })
}

/// Writes `content` to `path` with `mode` unless the file already holds exactly `content`;
/// returns whether it wrote. The write goes to a temporary file next to `path`, renamed over
/// it, so a reader never sees half a file.
fn write_if_changed(path: &Path, content: &[u8], mode: u32) -> Result<bool, RenderError> {
    let write_error = |path: &Path| {
        let path = path.to_owned();
        move |source| RenderError::Write { path, source }
    };
    match fs::read(path) {
        Ok(existing) if existing == content => return Ok(false),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(write_error(path)(e)),
    }
    let file_name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{file_name}.warren-tmp"));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(content)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            file.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        #[cfg(not(unix))]
        let _ = mode;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        // Best effort: the temporary file is useless now; the error that matters is `e`.
        let _ = fs::remove_file(&tmp);
        return Err(write_error(path)(e));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::os::unix::fs::PermissionsExt as _;

    use warren_template::{CensusMember, ElectionStatus, Health, PackageIdent};

    use super::*;

    fn plan(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../plans")
            .join(name)
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn content<'a>(files: &'a [RenderedFile], path: &str) -> &'a str {
        &files
            .iter()
            .find(|f| f.path == Path::new(path))
            .unwrap_or_else(|| panic!("no {path} in {files:?}"))
            .content
    }

    /// A minimal plan in a temporary directory with the given `config/` templates.
    fn temp_plan(config: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("plan.sh"), "pkg_origin=test\npkg_name=t\n").unwrap();
        fs::write(dir.path().join("default.toml"), "port = 1\n").unwrap();
        for (name, text) in config {
            let path = dir.path().join("config").join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        dir
    }

    /// A redis group of two: member 1 (10.0.0.1) leads, and the context is member 2's.
    fn redis_follower_context(pkg: &Package) -> RenderContext {
        let pkg_info = pkg.pkg_info(Path::new("/"));
        let cfg = pkg.default_cfg.clone();
        let member = |n: u8| CensusMember {
            member_id: format!("{n:032x}"),
            pkg: Some(PackageIdent::new("warren", "redis", "7.2.4", "0")),
            service: "redis".into(),
            group: "default".into(),
            persistent: true,
            leader: n == 1,
            follower: n != 1,
            election: ElectionStatus::Finished,
            sys: SysInfo {
                ip: IpAddr::from([10, 0, 0, n]),
                ..SysInfo::default()
            }
            .member_sys(),
            health: Health::Alive,
            cfg: warren_template::exported_cfg(&pkg_info.exports, &cfg),
            ..CensusMember::default()
        };
        let group = CensusGroup {
            service: "redis".into(),
            group: "default".into(),
            election: ElectionStatus::Finished,
            leader_id: Some(format!("{:032x}", 1)),
            population: vec![member(1), member(2)],
            ..CensusGroup::default()
        };
        let sys = SysInfo {
            member_id: format!("{:032x}", 2),
            ip: IpAddr::from([10, 0, 0, 2]),
            ..SysInfo::default()
        };
        RenderContext {
            svc: SvcContext::new(&group, &sys.member_id).unwrap(),
            sys,
            pkg: pkg_info,
            cfg,
            bind: BTreeMap::new(),
        }
    }

    #[test]
    fn hello_renders_as_a_lone_leader_with_habitats_modes() {
        let out = tempfile::tempdir().unwrap();
        let report =
            render_lone(&plan("hello"), out.path(), &LoneRender::default(), no_env).unwrap();
        assert_eq!(report.ident, "warren/hello/0.1.0");
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        let written: Vec<(OutputKind, PathBuf, bool)> = report
            .files
            .iter()
            .map(|f| {
                (
                    f.kind,
                    f.path.strip_prefix(out.path()).unwrap().into(),
                    f.changed,
                )
            })
            .collect();
        assert_eq!(
            written,
            [
                (OutputKind::Config, "config/hello.conf".into(), true),
                (OutputKind::Hook, "hooks/health-check".into(), true),
                (OutputKind::Hook, "hooks/run".into(), true),
            ]
        );
        let conf = fs::read_to_string(out.path().join("config/hello.conf")).unwrap();
        assert!(conf.contains("message = \"Hello from Warren\"\n"), "{conf}");
        assert!(conf.contains("role = \"leader\"\n"), "{conf}");
        assert!(conf.contains("members = [\"127.0.0.1:8080\"]\n"), "{conf}");
        let run = fs::read_to_string(out.path().join("hooks/run")).unwrap();
        assert!(run.starts_with("#!/bin/sh\n"), "{run}");
        assert!(run.contains(&format!(
            "member {PLACEHOLDER_MEMBER_ID} at 127.0.0.1 is leader"
        )));
        assert!(
            run.contains("cat \"/hab/svc/hello/config/hello.conf\""),
            "{run}"
        );
        assert!(run.contains("sleep 5\n"), "{run}");
        let check = fs::read_to_string(out.path().join("hooks/health-check")).unwrap();
        assert!(
            check.contains("[ -f \"/hab/svc/hello/config/hello.conf\" ]"),
            "{check}"
        );
        assert_eq!(
            mode(&out.path().join("config/hello.conf")),
            CONFIG_FILE_MODE
        );
        assert_eq!(mode(&out.path().join("hooks/run")), HOOK_FILE_MODE);
        assert_eq!(mode(&out.path().join("hooks/health-check")), HOOK_FILE_MODE);
    }

    #[test]
    fn both_plans_render_in_strict_mode() {
        for name in ["hello", "redis"] {
            let out = tempfile::tempdir().unwrap();
            let opts = LoneRender {
                strict: true,
                ..LoneRender::default()
            };
            let report = render_lone(&plan(name), out.path(), &opts, no_env);
            assert!(report.is_ok(), "{name}: {}", report.unwrap_err());
        }
    }

    #[test]
    fn redis_leader_has_no_replicaof_and_a_follower_replicates_from_the_leader() {
        let pkg = Package::from_plan_dir(&plan("redis")).unwrap();
        assert_eq!(pkg.exports.get("port").map(String::as_str), Some("port"));
        assert_eq!(pkg.exports.get("host").map(String::as_str), Some("bind"));
        let renderer = PlanRenderer::new(&pkg, Path::new("/"), true).unwrap();
        let names: Vec<&str> = renderer
            .templates()
            .config
            .iter()
            .chain(&renderer.templates().hooks)
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(
            names,
            ["labels", "redis.conf", "hooks/health-check", "hooks/run"]
        );

        let lone = lone_context(
            &pkg,
            Path::new("/"),
            pkg.default_cfg.clone(),
            SysInfo::default(),
            "default",
        )
        .unwrap();
        let leader = renderer.render(&lone).unwrap();
        let conf = content(&leader, "config/redis.conf");
        assert!(!conf.contains("replicaof"), "{conf}");
        assert!(conf.contains("\nbind 0.0.0.0\nport 6379\n"), "{conf}");
        assert!(conf.contains("\nprotected-mode no\n"), "{conf}");
        assert!(conf.contains("\nsave 900 1\nsave 300 10\n"), "{conf}");
        assert_eq!(content(&leader, "config/labels"), "role=leader\n");
        let check = content(&leader, "hooks/health-check");
        assert!(
            check.contains("redis-cli -h 127.0.0.1 -p 6379 PING"),
            "{check}"
        );
        let run = content(&leader, "hooks/run");
        assert!(
            run.contains("exec redis-server \"/hab/svc/redis/config/redis.conf\""),
            "{run}"
        );

        let follower = renderer.render(&redis_follower_context(&pkg)).unwrap();
        let conf = content(&follower, "config/redis.conf");
        assert!(conf.contains("\nreplicaof 10.0.0.1 6379\n"), "{conf}");
        assert_eq!(conf.matches("replicaof").count(), 1, "{conf}");
        assert_eq!(content(&follower, "config/labels"), "role=follower\n");
    }

    #[test]
    fn outputs_are_rewritten_only_when_their_content_changes() {
        let out = tempfile::tempdir().unwrap();
        let hello = plan("hello");
        let first = render_lone(&hello, out.path(), &LoneRender::default(), no_env).unwrap();
        assert!(first.files.iter().all(|f| f.changed));
        let mtimes = |files: &[WrittenFile]| -> Vec<std::time::SystemTime> {
            files
                .iter()
                .map(|f| fs::metadata(&f.path).unwrap().modified().unwrap())
                .collect()
        };
        let before = mtimes(&first.files);

        let again = render_lone(&hello, out.path(), &LoneRender::default(), no_env).unwrap();
        assert!(again.files.iter().all(|f| !f.changed), "{:?}", again.files);
        assert_eq!(mtimes(&again.files), before);

        // A new message changes hello.conf and the run hook (which echoes it), not the check.
        let user = out.path().join("user.toml");
        fs::write(&user, "message = \"hi\"\n").unwrap();
        let opts = LoneRender {
            user_toml: Some(user),
            ..LoneRender::default()
        };
        let changed = render_lone(&hello, out.path(), &opts, no_env).unwrap();
        let flags: Vec<bool> = changed.files.iter().map(|f| f.changed).collect();
        assert_eq!(flags, [true, false, true]);
        let conf = fs::read_to_string(out.path().join("config/hello.conf")).unwrap();
        assert!(conf.contains("message = \"hi\"\n"), "{conf}");
        assert!(!out.path().join("config/.hello.conf.warren-tmp").exists());
    }

    #[test]
    fn layers_are_default_then_env_then_user_toml() {
        let out = tempfile::tempdir().unwrap();
        let user = out.path().join("user.toml");
        fs::write(&user, "port = 9000\n").unwrap();
        let opts = LoneRender {
            user_toml: Some(user),
            ..LoneRender::default()
        };
        let env =
            |name: &str| (name == "HAB_HELLO").then(|| "port = 7000\ninterval = 2\n".to_owned());
        render_lone(&plan("hello"), out.path(), &opts, env).unwrap();
        let conf = fs::read_to_string(out.path().join("config/hello.conf")).unwrap();
        assert!(conf.contains("port = 9000\ninterval = 2\n"), "{conf}");
    }

    #[test]
    fn a_syntax_error_names_file_and_line_and_writes_nothing() {
        let dir = temp_plan(&[
            ("a.conf", "port {{cfg.port}}\n"),
            (
                "sub/broken.conf",
                "one\n{{#if cfg.port}}\nthree\n{{/each}}\n",
            ),
        ]);
        let out = tempfile::tempdir().unwrap();
        let err = render_lone(dir.path(), out.path(), &LoneRender::default(), no_env).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(
                err,
                RenderError::Template(TemplateError::Syntax { line: Some(4), .. })
            ),
            "{err:?}"
        );
        assert!(text.contains("config/sub/broken.conf:4:"), "{text}");
        assert!(!text.contains('\n'), "{text}");
        assert_eq!(fs::read_dir(out.path()).unwrap().count(), 0);
    }

    #[test]
    fn strict_mode_names_the_missing_key_and_otherwise_it_renders_empty() {
        let dir = temp_plan(&[("x.conf", "port {{cfg.port}}\nname {{cfg.nope}}\n")]);
        let out = tempfile::tempdir().unwrap();
        render_lone(dir.path(), out.path(), &LoneRender::default(), no_env).unwrap();
        let x = fs::read_to_string(out.path().join("config/x.conf")).unwrap();
        assert_eq!(x, "port 1\nname \n");

        let strict = LoneRender {
            strict: true,
            ..LoneRender::default()
        };
        let err = render_lone(dir.path(), out.path(), &strict, no_env).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(
                err,
                RenderError::Template(TemplateError::Render { line: Some(2), .. })
            ),
            "{err:?}"
        );
        assert!(text.contains("config/x.conf:2:"), "{text}");
        assert!(text.contains("\"cfg.nope\""), "{text}");
    }

    #[test]
    fn bad_user_toml_and_bad_overrides_name_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user.toml");
        fs::write(&user, "port = 1\nmessage = \n").unwrap();
        let opts = LoneRender {
            user_toml: Some(user.clone()),
            ..LoneRender::default()
        };
        let text = render_lone(&plan("hello"), dir.path(), &opts, no_env)
            .unwrap_err()
            .to_string();
        assert!(
            text.starts_with(&format!("{}: invalid TOML at line 2", user.display())),
            "{text}"
        );

        let json = dir.path().join("member.json");
        fs::write(&json, "{\"ip\": \"nope\"}").unwrap();
        let opts = LoneRender {
            member_json: Some(json.clone()),
            ..LoneRender::default()
        };
        let text = render_lone(&plan("hello"), dir.path(), &opts, no_env)
            .unwrap_err()
            .to_string();
        assert!(text.starts_with(&json.display().to_string()), "{text}");
        assert!(text.contains("`ip` must be an IP address"), "{text}");
    }

    #[test]
    fn member_overrides_set_sys_and_group_or_change_nothing() {
        let mut sys = SysInfo::default();
        let mut group = "default".to_owned();
        let ok = serde_json::json!({
            "member_id": "abc", "ip": "10.1.2.3", "hostname": "h", "gossip_port": 1,
            "permanent": true, "group": "blue"
        });
        apply_member_overrides(&mut sys, &mut group, &ok).unwrap();
        assert_eq!(sys.member_id, "abc");
        assert_eq!(sys.ip, IpAddr::from([10, 1, 2, 3]));
        assert_eq!((sys.hostname.as_str(), sys.gossip_port), ("h", 1));
        assert!(sys.permanent);
        assert_eq!(group, "blue");

        let before = (sys.clone(), group.clone());
        for (bad, says) in [
            (
                serde_json::json!({ "hostname": "x", "leader": true }),
                "unknown key `leader`",
            ),
            (
                serde_json::json!({ "gossip_port": 70000 }),
                "`gossip_port` must be a port",
            ),
            (
                serde_json::json!({ "permanent": "yes" }),
                "`permanent` must be true or false",
            ),
            (
                serde_json::json!({ "group": 1 }),
                "`group` must be a string",
            ),
            (serde_json::json!([1]), "must be a JSON object"),
        ] {
            let err = apply_member_overrides(&mut sys, &mut group, &bad).unwrap_err();
            assert!(err.contains(says), "{err}");
            assert_eq!((sys.clone(), group.clone()), before);
        }

        let pkg = Package::from_plan_dir(&plan("hello")).unwrap();
        let ctx = lone_context(&pkg, Path::new("/"), pkg.default_cfg.clone(), sys, &group)
            .unwrap()
            .to_json()
            .unwrap();
        assert_eq!(ctx["svc"]["group"], "blue");
        assert_eq!(ctx["svc"]["me"]["member_id"], "abc");
        assert_eq!(ctx["svc"]["me"]["sys"]["ip"], "10.1.2.3");
        assert_eq!(ctx["svc"]["leader"]["member_id"], "abc");
        assert_eq!(ctx["sys"]["permanent"], true);
    }

    #[test]
    fn a_plan_without_templates_renders_nothing() {
        let dir = temp_plan(&[]);
        let out = tempfile::tempdir().unwrap();
        let report = render_lone(dir.path(), out.path(), &LoneRender::default(), no_env).unwrap();
        assert!(report.files.is_empty());
    }

    #[test]
    fn habitats_form_merges_default_user_and_mock_data_as_habitat_does() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let default_toml = write(
            "default.toml",
            "port = 6379\nlist = [1, 2, 3]\n[tls]\nport = 6380\nenabled = false\n",
        );
        let user_toml = write("user.toml", "[tls]\nenabled = true\n");
        let mock = write(
            "mock.json",
            r#"{"cfg": {"list": [9], "tls": {"port": 7000}},
                "sys": {"ip": "10.0.0.5"},
                "bind": {"db": {"members": [
                    {"alive": true, "sys": {"ip": "10.0.0.1"}},
                    {"alive": false, "sys": {"ip": "10.0.0.2"}}]}}}"#,
        );
        let template = write(
            "redis.config",
            concat!(
                "port {{cfg.port}} tls {{cfg.tls.port}} {{cfg.tls.enabled}} list {{cfg.list}}\n",
                "ip {{sys.ip}} missing [{{pkg.name}}]\n",
                "{{#eachAlive bind.db.members as |m|}}peer {{m.sys.ip}}\n{{/eachAlive}}",
            ),
        );
        let data = habitat_render_data(&default_toml, Some(&user_toml), Some(&mock)).unwrap();
        let (text, warnings) = render_template_file(&template, data).unwrap();
        assert_eq!(
            text,
            "port 6379 tls 7000 true list [9]\nip 10.0.0.5 missing []\npeer 10.0.0.1\n"
        );
        assert!(warnings.is_empty(), "{warnings:?}");

        // Without user.toml or mock data: default.toml alone, under `cfg`.
        let data = habitat_render_data(&default_toml, None, None).unwrap();
        assert_eq!(
            data,
            serde_json::json!({"cfg": {"port": 6379, "list": [1, 2, 3],
            "tls": {"port": 6380, "enabled": false}}})
        );

        let bad_json = write("bad.json", "{");
        let err = habitat_render_data(&default_toml, None, Some(&bad_json))
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.json: invalid JSON mock data"), "{err}");
        let bad_toml = write("bad.toml", "a = = 1\n");
        let err = habitat_render_data(&bad_toml, None, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.toml: invalid TOML at line 1"), "{err}");
        let err = habitat_render_data(&dir.path().join("none.toml"), None, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot read") && err.contains("none.toml"),
            "{err}"
        );
    }

    /// `hab plan render` keeps default.toml's key order (tables after values) and appends the
    /// keys a user.toml adds; `{{#each}}` walks that order.
    #[test]
    fn habitat_form_walks_tables_in_document_order() {
        let dir = tempfile::tempdir().unwrap();
        let default = dir.path().join("default.toml");
        let user = dir.path().join("user.toml");
        fs::write(&default, "[limits]\nsoft = 1\nhard = 2\n").unwrap();
        fs::write(&user, "[limits]\nburst = 3\nsoft = 9\n").unwrap();
        let tmpl = dir.path().join("t.conf");
        fs::write(&tmpl, "{{#each cfg.limits}}{{@key}}={{this}};{{/each}}").unwrap();
        let data = habitat_render_data(&default, Some(&user), None).unwrap();
        let (text, _) = render_template_file(&tmpl, data).unwrap();
        assert_eq!(text, "soft=9;hard=2;burst=3;");
    }
}
