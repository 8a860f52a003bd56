//! The [`Renderer`]: a handlebars registry set up as Habitat sets it up (no HTML escaping,
//! non-strict, Habitat's helpers), loaded from strings or from a plan's `config/` and `hooks/`,
//! and rendering by template name.
//!
//! Config templates are registered under their path relative to `config/` (so, as in Habitat,
//! one can include another as a partial by that path); hooks under `hooks/<hook name>`. Errors
//! name the template's file and line. The renderer does not write anything to disk and does not
//! decide when to re-render: that is the service layer's job.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use handlebars::{Context, Handlebars, RenderErrorReason};

use crate::context::RenderContext;
use crate::legacy::{self, LegacySyntaxWarning};

/// The hooks Habitat knows (§9); only these files of a plan's `hooks/` are templates.
pub const HOOK_NAMES: [&str; 10] = [
    "file-updated",
    "health-check",
    "init",
    "install",
    "post-run",
    "post-stop",
    "reconfigure",
    "run",
    "suitability",
    "uninstall",
];

/// The file name Habitat accepts, deprecated, for `hook`: the underscore form of a hyphenated
/// name (`health_check`, `post_run`, `file_updated`, `post_stop`), and `reload` for
/// `reconfigure` (Habitat's deprecated reload hook ran where reconfigure runs now).
fn deprecated_hook_name(hook: &str) -> Option<String> {
    match hook {
        "reconfigure" => Some("reload".to_owned()),
        h if h.contains('-') => Some(h.replace('-', "_")),
        _ => None,
    }
}

/// How deep `config/` may nest; deeper means a symlink loop more likely than a real plan.
const MAX_CONFIG_DEPTH: usize = 32;

/// Why a template could not be loaded or rendered. Loading errors leave the renderer as it was.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A template file or directory could not be read (or is not UTF-8).
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The template does not parse; nothing was registered.
    #[error("{}: template syntax error: {reason}", Location(file, *line, *column))]
    Syntax {
        /// The template file (or name, for a template registered from a string).
        file: String,
        /// 1-based line, when handlebars knows it.
        line: Option<usize>,
        /// Column, when handlebars knows it.
        column: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// No template of that name is registered.
    #[error("no template named {name:?} is registered")]
    NotFound {
        /// The name asked for.
        name: String,
    },
    /// Rendering failed: a helper error, or a missing value in strict mode.
    #[error("{}: cannot render: {reason}", Location(file, *line, *column))]
    Render {
        /// The template file (or name) where it failed; a partial's own file if it failed there.
        file: String,
        /// 1-based line, when handlebars knows it.
        line: Option<usize>,
        /// Column, when handlebars knows it.
        column: Option<usize>,
        /// What went wrong.
        reason: String,
    },
    /// The render context could not be turned into JSON (a non-UTF-8 path, for instance).
    #[error("the render context cannot be turned into JSON: {0}")]
    Context(#[source] serde_json::Error),
}

/// `file:line:column`, or as much of it as is known.
struct Location<'a>(&'a str, Option<usize>, Option<usize>);

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.1, self.2) {
            (Some(line), Some(column)) => write!(f, "{}:{line}:{column}", self.0),
            (Some(line), None) => write!(f, "{}:{line}", self.0),
            _ => write!(f, "{}", self.0),
        }
    }
}

/// A render context turned into the JSON handlebars works on, once, so that every template of
/// a plan can be rendered with it without serializing the census again.
#[derive(Clone, Debug)]
pub struct PreparedContext(Context);

impl PreparedContext {
    /// Serializes `ctx`.
    pub fn new(ctx: &RenderContext) -> Result<Self, TemplateError> {
        ctx.to_json()
            .map(Self::from_json)
            .map_err(TemplateError::Context)
    }

    /// Any JSON value as a context (for tests and contexts other than Habitat's, such as a
    /// plain `{"cfg": ...}`).
    pub fn from_json(value: serde_json::Value) -> Self {
        PreparedContext(Context::from(value))
    }

    /// The JSON templates see.
    pub fn json(&self) -> &serde_json::Value {
        self.0.data()
    }
}

/// One template loaded from a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredTemplate {
    /// The name to render it by.
    pub name: String,
    /// Where its output goes: the path relative to `config/` for a config template, the hook
    /// name for a hook.
    pub output: PathBuf,
    /// A hook loaded from the file name Habitat still accepts but deprecates (`health_check`
    /// for `health-check`, `reload` for `reconfigure`): that file name, for the caller to warn.
    pub deprecated_from: Option<String>,
}

/// What [`Renderer::register_plan`] loaded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanTemplates {
    /// Every file under `config/`, in path order.
    pub config: Vec<RegisteredTemplate>,
    /// Every known hook present in `hooks/`, in name order.
    pub hooks: Vec<RegisteredTemplate>,
}

/// Habitat's template engine. Build it, register templates, then render them by name.
pub struct Renderer {
    registry: Handlebars<'static>,
    /// Template name → the file it came from, for error messages.
    files: HashMap<String, String>,
    warnings: Vec<LegacySyntaxWarning>,
}

impl fmt::Debug for Renderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.registry.get_templates().keys().collect();
        names.sort();
        f.debug_struct("Renderer")
            .field("templates", &names)
            .field("strict", &self.registry.strict_mode())
            .finish()
    }
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    /// A renderer whose `pkgPathFor` paths are under `/`.
    pub fn new() -> Self {
        Self::with_fs_root("/")
    }

    /// A renderer whose `pkgPathFor` paths are under `fs_root` (`--fs-root`).
    pub fn with_fs_root(fs_root: impl Into<PathBuf>) -> Self {
        let mut registry = Handlebars::new();
        registry.register_escape_fn(handlebars::no_escape);
        crate::helpers::register(&mut registry, fs_root.into());
        Renderer {
            registry,
            files: HashMap::new(),
            warnings: Vec::new(),
        }
    }

    /// Strict mode makes a reference to a missing value an error naming it, instead of an empty
    /// string. Habitat renders non-strict (the default); strict is for checking a plan.
    pub fn set_strict(&mut self, strict: bool) {
        self.registry.set_strict_mode(strict);
    }

    /// Registers (or replaces) the template `name` from a string; errors name it `name`.
    pub fn register_template(&mut self, name: &str, source: &str) -> Result<(), TemplateError> {
        self.register_source(name, name, source)
    }

    /// Registers (or replaces) the template `name` from a file; errors name the file.
    pub fn register_file(&mut self, name: &str, path: &Path) -> Result<(), TemplateError> {
        let source = fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.to_owned(),
            source,
        })?;
        self.register_source(name, &path.display().to_string(), &source)
    }

    /// Registers every file under `config_dir`, recursively, each named by its path relative to
    /// `config_dir` (`/`-separated). A missing directory registers nothing.
    pub fn register_config_dir(
        &mut self,
        config_dir: &Path,
    ) -> Result<Vec<RegisteredTemplate>, TemplateError> {
        if !config_dir.exists() {
            return Ok(Vec::new());
        }
        let mut files = Vec::new();
        collect_files(config_dir, &PathBuf::new(), 0, &mut files)?;
        let mut registered = Vec::with_capacity(files.len());
        for rel in files {
            let name = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            self.register_file(&name, &config_dir.join(&rel))?;
            registered.push(RegisteredTemplate {
                name,
                output: rel,
                deprecated_from: None,
            });
        }
        Ok(registered)
    }

    /// Registers each file of `hooks_dir` named after a known hook ([`HOOK_NAMES`]) as
    /// `hooks/<hook>`. A missing directory registers nothing.
    pub fn register_hooks_dir(
        &mut self,
        hooks_dir: &Path,
    ) -> Result<Vec<RegisteredTemplate>, TemplateError> {
        let mut registered = Vec::new();
        for hook in HOOK_NAMES {
            let path = hooks_dir.join(hook);
            // Habitat still loads a hook from its old file name when the current one is absent
            // (with a deprecation notice), and renders it under the current name.
            let (path, deprecated_from) = match deprecated_hook_name(hook) {
                Some(old) if !path.is_file() && hooks_dir.join(&old).is_file() => {
                    (hooks_dir.join(&old), Some(old))
                }
                _ => (path, None),
            };
            if path.is_file() {
                let name = format!("hooks/{hook}");
                self.register_file(&name, &path)?;
                registered.push(RegisteredTemplate {
                    name,
                    output: PathBuf::from(hook),
                    deprecated_from,
                });
            }
        }
        Ok(registered)
    }

    /// Registers a plan's (or `--config-from` directory's) `config/` and `hooks/` templates.
    pub fn register_plan(&mut self, plan_dir: &Path) -> Result<PlanTemplates, TemplateError> {
        Ok(PlanTemplates {
            config: self.register_config_dir(&plan_dir.join("config"))?,
            hooks: self.register_hooks_dir(&plan_dir.join("hooks"))?,
        })
    }

    /// Whether a template of that name is registered.
    pub fn has_template(&self, name: &str) -> bool {
        self.registry.has_template(name)
    }

    /// Legacy-syntax warnings gathered since the last call, for the caller to log.
    pub fn take_warnings(&mut self) -> Vec<LegacySyntaxWarning> {
        std::mem::take(&mut self.warnings)
    }

    /// Renders `name` with `ctx` (serializing `ctx`; prefer [`Renderer::render_prepared`] when
    /// rendering several templates with one context).
    pub fn render(&self, name: &str, ctx: &RenderContext) -> Result<String, TemplateError> {
        self.render_prepared(name, &PreparedContext::new(ctx)?)
    }

    /// Renders `name` with an already serialized context.
    pub fn render_prepared(
        &self,
        name: &str,
        ctx: &PreparedContext,
    ) -> Result<String, TemplateError> {
        if !self.registry.has_template(name) {
            return Err(TemplateError::NotFound {
                name: name.to_owned(),
            });
        }
        self.registry
            .render_with_context(name, &ctx.0)
            .map_err(|e| {
                let template = e.template_name.as_deref().unwrap_or(name);
                TemplateError::Render {
                    file: self.file_of(template),
                    line: e.line_no,
                    column: e.column_no,
                    reason: describe(e.reason()),
                }
            })
    }

    fn file_of(&self, name: &str) -> String {
        self.files
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_owned())
    }

    fn register_source(
        &mut self,
        name: &str,
        file: &str,
        source: &str,
    ) -> Result<(), TemplateError> {
        let rewritten = legacy::rewrite(source);
        let parsed = self
            .registry
            .register_template_string(name, rewritten.as_deref().unwrap_or(source));
        if let Err(e) = parsed {
            let (line, column) = e.pos().unzip();
            return Err(TemplateError::Syntax {
                file: file.to_owned(),
                line,
                column,
                reason: e.reason().to_string(),
            });
        }
        if let Some(rewritten) = &rewritten {
            self.warnings
                .extend(legacy::warnings(file, source, rewritten));
        }
        self.files.insert(name.to_owned(), file.to_owned());
        Ok(())
    }
}

/// A render failure in words a plan author can act on.
fn describe(reason: &RenderErrorReason) -> String {
    match reason {
        RenderErrorReason::MissingVariable(Some(path)) => {
            format!("{path:?} is not in the render context (strict mode)")
        }
        RenderErrorReason::MissingVariable(None) => {
            "a value is not in the render context (strict mode)".to_owned()
        }
        RenderErrorReason::HelperNotFound(helper) => format!("no helper named {helper:?}"),
        RenderErrorReason::PartialNotFound(partial) => {
            format!("no template named {partial:?} to include as a partial")
        }
        other => other.to_string(),
    }
}

/// Appends every file under `dir/rel` to `out` (relative to the walk's root), in name order.
fn collect_files(
    root: &Path,
    rel: &Path,
    depth: usize,
    out: &mut Vec<PathBuf>,
) -> Result<(), TemplateError> {
    let dir = root.join(rel);
    let read_error = |path: &Path| {
        let path = path.to_owned();
        move |source| TemplateError::Read { path, source }
    };
    if depth > MAX_CONFIG_DEPTH {
        return Err(TemplateError::Read {
            path: dir,
            source: io::Error::other(format!(
                "nested more than {MAX_CONFIG_DEPTH} directories deep (a symlink loop?)"
            )),
        });
    }
    let mut names = Vec::new();
    for entry in fs::read_dir(&dir).map_err(read_error(&dir))? {
        names.push(entry.map_err(read_error(&dir))?.file_name());
    }
    names.sort();
    for name in names {
        let child = rel.join(&name);
        let path = root.join(&child);
        // `metadata` follows symlinks, as reading the file would.
        let meta = fs::metadata(&path).map_err(read_error(&path))?;
        if meta.is_dir() {
            collect_files(root, &child, depth + 1, out)?;
        } else {
            out.push(child);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeMap;
    use std::net::IpAddr;

    use expect_test::expect_file;
    use serde_json::json;

    use super::*;
    use crate::context::{
        BindContext, CensusGroup, CensusMember, ElectionStatus, Health, MemberSys, PackageIdent,
        PkgInfo, SvcContext, SysInfo,
    };

    fn plan_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/redis")
    }

    fn default_toml() -> toml::Table {
        let text = fs::read_to_string(plan_dir().join("default.toml")).unwrap();
        toml::from_str(&text).unwrap()
    }

    fn redis_member(n: u8, leader: bool, cfg: &toml::Table) -> CensusMember {
        CensusMember {
            member_id: format!("{n:032x}"),
            pkg: Some(PackageIdent::new(
                "core",
                "redis",
                "7.2.4",
                "20240101000000",
            )),
            service: "redis".into(),
            group: "default".into(),
            persistent: true,
            leader,
            follower: !leader,
            election: ElectionStatus::Finished,
            sys: MemberSys {
                ip: format!("10.0.0.{n}"),
                hostname: format!("redis-{n}"),
                gossip_ip: "0.0.0.0".into(),
                gossip_port: 9638,
                http_gateway_ip: "0.0.0.0".into(),
                http_gateway_port: 9631,
                ctl_gateway_ip: "127.0.0.1".into(),
                ctl_gateway_port: 9632,
            },
            health: Health::Alive,
            cfg: crate::context::exported_cfg(
                &BTreeMap::from([("port".to_owned(), "port".to_owned())]),
                cfg,
            ),
            ..CensusMember::default()
        }
    }

    /// A three-member redis group led by member 1, seen from member `me`.
    fn census_context(me: u8) -> RenderContext {
        let cfg = default_toml();
        let group = CensusGroup {
            service: "redis".into(),
            group: "default".into(),
            election: ElectionStatus::Finished,
            leader_id: Some(format!("{:032x}", 1)),
            population: (1..=3).map(|n| redis_member(n, n == 1, &cfg)).collect(),
            ..CensusGroup::default()
        };
        let me_id = format!("{me:032x}");
        let sys = SysInfo {
            member_id: me_id.clone(),
            ip: IpAddr::from([10, 0, 0, me]),
            hostname: format!("redis-{me}"),
            ..SysInfo::default()
        };
        let mut pkg = PkgInfo::new(
            PackageIdent::new("core", "redis", "7.2.4", "20240101000000"),
            Path::new("/"),
        );
        pkg.exports.insert("port".into(), "port".into());
        RenderContext {
            sys,
            pkg,
            cfg,
            svc: SvcContext::new(&group, &me_id).unwrap(),
            bind: BTreeMap::new(),
        }
    }

    fn plan_renderer() -> (Renderer, PlanTemplates) {
        let mut r = Renderer::new();
        let loaded = r.register_plan(&plan_dir()).unwrap();
        (r, loaded)
    }

    #[test]
    fn deprecated_hook_file_names_load_under_the_current_name() {
        let dir = tempfile::tempdir().unwrap();
        let hooks = dir.path();
        std::fs::write(hooks.join("health_check"), "echo {{cfg.x}}").unwrap();
        std::fs::write(hooks.join("reload"), "echo reload").unwrap();
        // Both forms present: the current one wins, as in Habitat.
        std::fs::write(hooks.join("post-run"), "echo new").unwrap();
        std::fs::write(hooks.join("post_run"), "echo old").unwrap();
        std::fs::write(hooks.join("no_such_hook"), "echo x").unwrap();
        let mut r = Renderer::new();
        let got = r.register_hooks_dir(hooks).unwrap();
        let summary: Vec<(String, Option<String>)> = got
            .iter()
            .map(|t| (t.output.display().to_string(), t.deprecated_from.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                ("health-check".to_owned(), Some("health_check".to_owned())),
                ("post-run".to_owned(), None),
                ("reconfigure".to_owned(), Some("reload".to_owned())),
            ]
        );
        let ctx = PreparedContext::from_json(serde_json::json!({"cfg": {"x": 7}}));
        let out = r.render_prepared("hooks/health-check", &ctx);
        assert_eq!(out.ok().as_deref(), Some("echo 7"));
        assert_eq!(
            r.render_prepared("hooks/post-run", &ctx).ok().as_deref(),
            Some("echo new")
        );
    }

    #[test]
    fn redis_plan_renders_leader_and_follower_configs() {
        let (r, loaded) = plan_renderer();
        assert_eq!(
            loaded.config,
            [RegisteredTemplate {
                name: "redis.config".into(),
                output: "redis.config".into(),
                deprecated_from: None,
            }]
        );
        let follower = r.render("redis.config", &census_context(2)).unwrap();
        expect_file!["../testdata/expected/redis.config.follower"].assert_eq(&follower);
        let leader = r.render("redis.config", &census_context(1)).unwrap();
        expect_file!["../testdata/expected/redis.config.leader"].assert_eq(&leader);
        assert!(follower.contains("\nreplicaof 10.0.0.1 6379\n"));
        assert!(!leader.contains("replicaof"));
    }

    #[test]
    fn redis_plan_hooks_render_and_legacy_indexing_is_rewritten_with_a_warning() {
        let (mut r, loaded) = plan_renderer();
        let hooks: Vec<&str> = loaded.hooks.iter().map(|h| h.name.as_str()).collect();
        // README.txt is not a hook (and does not parse): it is ignored.
        assert_eq!(hooks, ["hooks/init", "hooks/run"]);
        let init = r.render("hooks/init", &census_context(3)).unwrap();
        expect_file!["../testdata/expected/init.follower"].assert_eq(&init);
        let run = r.render("hooks/run", &census_context(3)).unwrap();
        assert_eq!(
            run,
            "#!/bin/sh\nexec redis-server /hab/svc/redis/config/redis.config 2>&1\n"
        );
        let warnings = r.take_warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].file.ends_with("hooks/init"), "{}", warnings[0]);
        assert_eq!(warnings[0].line, 7);
        assert!(r.take_warnings().is_empty());
    }

    #[test]
    fn lone_context_from_default_toml_renders_the_plan() {
        let (r, _) = plan_renderer();
        let mut pkg = PkgInfo::new(
            PackageIdent::new("core", "redis", "7.2.4", "20240101000000"),
            Path::new("/"),
        );
        pkg.exports.insert("port".into(), "port".into());
        let ctx = RenderContext::lone(SysInfo::default(), pkg, default_toml());
        let out = r.render("redis.config", &ctx).unwrap();
        assert!(!out.contains("replicaof"), "{out}");
        assert!(out.ends_with("# Peers: 127.0.0.1:6379 (leader)\n"), "{out}");
        let init = r.render("hooks/init", &ctx).unwrap();
        assert!(init.contains(" leads redis.default"), "{init}");
    }

    #[test]
    fn missing_values_render_empty_unless_strict() {
        let mut r = Renderer::new();
        r.register_template(
            "t",
            "a={{cfg.nope}};b={{svc.leader.sys.ip}};\n{{cfg.deeper.still}}|",
        )
        .unwrap();
        let ctx = PreparedContext::from_json(json!({ "cfg": {}, "svc": { "leader": null } }));
        assert_eq!(r.render_prepared("t", &ctx).unwrap(), "a=;b=;\n|");

        r.set_strict(true);
        let err = r.render_prepared("t", &ctx).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, TemplateError::Render { line: Some(1), .. }),
            "{err:?}"
        );
        assert!(text.starts_with("t:1:"), "{text}");
        assert!(
            text.contains("\"cfg.nope\" is not in the render context"),
            "{text}"
        );
    }

    #[test]
    fn syntax_errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config/sub");
        fs::create_dir_all(&config).unwrap();
        fs::write(config.join("ok.conf"), "port {{cfg.port}}\n").unwrap();
        fs::write(
            config.join("broken.conf"),
            "port {{cfg.port}}\n{{#if cfg.tls}}\ntls yes\n{{/each}}\n",
        )
        .unwrap();
        let mut r = Renderer::new();
        let err = r.register_plan(dir.path()).unwrap_err();
        let text = err.to_string();
        let TemplateError::Syntax { file, line, .. } = &err else {
            panic!("not a syntax error: {err:?}");
        };
        assert!(file.ends_with("config/sub/broken.conf"), "{file}");
        assert_eq!(*line, Some(4), "{text}");
        assert!(text.contains("broken.conf:4:"), "{text}");
        assert!(
            text.contains("\"if\" was opened, but \"each\" is closing"),
            "{text}"
        );
    }

    #[test]
    fn config_dirs_register_by_relative_path_and_can_include_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        fs::create_dir_all(config.join("conf.d")).unwrap();
        fs::write(config.join("main.conf"), "main {{> conf.d/extra.conf}}").unwrap();
        fs::write(config.join("conf.d/extra.conf"), "extra {{cfg.x}}").unwrap();
        let mut r = Renderer::new();
        let loaded = r.register_config_dir(&config).unwrap();
        let names: Vec<&str> = loaded.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["conf.d/extra.conf", "main.conf"]);
        assert_eq!(loaded[0].output, Path::new("conf.d/extra.conf"));
        let ctx = PreparedContext::from_json(json!({ "cfg": { "x": 1 } }));
        assert_eq!(
            r.render_prepared("main.conf", &ctx).unwrap(),
            "main extra 1"
        );
        assert!(
            r.register_config_dir(&dir.path().join("nope"))
                .unwrap()
                .is_empty()
        );
        assert!(
            r.register_hooks_dir(&dir.path().join("nope"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn helper_errors_name_the_file_line_and_reason() {
        let mut r = Renderer::new();
        r.register_template("hooks/run", "#!/bin/sh\n\necho {{toUppercase cfg.port}}\n")
            .unwrap();
        let ctx = PreparedContext::from_json(json!({ "cfg": { "port": 6379 } }));
        let text = r
            .render_prepared("hooks/run", &ctx)
            .unwrap_err()
            .to_string();
        assert!(text.starts_with("hooks/run:3:"), "{text}");
        assert!(
            text.contains("Expected a string parameter for \"toUppercase\""),
            "{text}"
        );
    }

    #[test]
    fn unknown_templates_and_unreadable_files_are_reported() {
        let r = Renderer::new();
        let ctx = PreparedContext::from_json(json!({}));
        let err = r.render_prepared("nope", &ctx).unwrap_err();
        assert!(matches!(err, TemplateError::NotFound { .. }), "{err:?}");
        let mut r = Renderer::new();
        let err = r
            .register_file("x", Path::new("/no/such/file"))
            .unwrap_err();
        assert!(
            err.to_string().starts_with("cannot read /no/such/file"),
            "{err}"
        );
    }

    #[test]
    fn output_is_not_html_escaped() {
        let mut r = Renderer::new();
        r.register_template("t", "{{cfg.s}}|{{{cfg.s}}}").unwrap();
        let ctx = PreparedContext::from_json(json!({ "cfg": { "s": "<a href=\"x\">&'" } }));
        assert_eq!(
            r.render_prepared("t", &ctx).unwrap(),
            "<a href=\"x\">&'|<a href=\"x\">&'"
        );
    }

    #[test]
    fn handlebars_builtins_are_available() {
        let mut r = Renderer::new();
        let t = concat!(
            "{{#if a}}if{{/if}} {{#unless b}}unless{{/unless}} ",
            "{{#each l}}{{this}}{{/each}} {{#with o}}{{k}}{{/with}} {{lookup l 1}} ",
            "{{{{raw}}}}{{x}}{{{{/raw}}}} {{log \"hello\"}}",
            "{{#if (eq n 3)}}eq{{/if}} {{#if (ne n 4)}}ne{{/if}} {{#if (gt n 2)}}gt{{/if}} ",
            "{{#if (gte n 3)}}gte{{/if}} {{#if (lt n 4)}}lt{{/if}} {{#if (lte n 3)}}lte{{/if}} ",
            "{{#if (and a (not b))}}and-not{{/if}} {{#if (or b a)}}or{{/if}} {{len l}}",
        );
        r.register_template("t", t).unwrap();
        let ctx = PreparedContext::from_json(
            json!({ "a": true, "b": false, "l": [1, 2], "o": { "k": "v" }, "n": 3 }),
        );
        assert_eq!(
            r.render_prepared("t", &ctx).unwrap(),
            "if unless 12 v 2 {{x}} eq ne gt gte lt lte and-not or 2"
        );
    }

    #[test]
    fn binds_are_reachable_with_legacy_and_modern_indexing() {
        let mut ctx = census_context(2);
        let db = CensusGroup {
            service: "postgres".into(),
            group: "prod".into(),
            population: vec![redis_member(7, false, &toml::Table::new())],
            ..CensusGroup::default()
        };
        ctx.bind.insert("database".into(), BindContext::new(&db));
        let mut r = Renderer::new();
        r.register_template(
            "t",
            "{{bind.database.members[0].sys.ip}} {{bind.database.members.[0].sys.hostname}} \
             {{bind.database.first.member_id}}",
        )
        .unwrap();
        assert_eq!(
            r.render("t", &ctx).unwrap(),
            format!("10.0.0.7 redis-7 {:032x}", 7)
        );
        assert_eq!(r.take_warnings().len(), 1);
    }
}
