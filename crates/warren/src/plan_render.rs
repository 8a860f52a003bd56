//! `warren plan render`: renders a plan's templates as a supervisor alone in its group would
//! and says where they went. The work is `warren_service::render_lone`; this file only picks
//! the output directory, reads `HAB_<PKG>` from the environment and prints.
//!
//! Given a template file instead of a plan directory, it is Habitat's `hab plan render
//! TEMPLATE [-d default.toml] [-u user.toml] [-m mock.json] [-p] [-r DIR] [-n] [-q]`: the
//! template alone, rendered with `warren_service::habitat_render_data` (no `sys`, `pkg` or
//! `svc` unless the mock data has them), written to `DIR/<template's file name>` exactly as
//! rendered, printed with a final newline by `-p`. The helper messages are Habitat's in
//! wording, not byte for byte (Habitat colours them); `-p -q` prints only the template.
//!
//! It does not run hooks or start anything. Errors are printed as one line naming the file
//! (and line, for a template or TOML error), with exit status 1.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use warren_service::{LoneRender, OutputKind};

use crate::cli::PlanRenderArgs;

/// Runs the command; prints the outputs (a `*` marks those written this time) on stdout.
pub(crate) fn main(args: &PlanRenderArgs) -> ExitCode {
    // What the libraries warn of while loading (a syntax error bash went past in plan.sh, a
    // deprecated hook name) goes to stderr, as the rest of the command's messages.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::WARN)
        .without_time()
        .with_target(false)
        .with_ansi(false)
        .try_init();
    match render(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warren: {}", one_line(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

fn render(args: &PlanRenderArgs) -> Result<()> {
    if args.plan.is_file() {
        return render_habitat_form(args);
    }
    let habitat_only = [
        (args.mock_data.is_some(), "-m/--mock-data"),
        (args.print, "-p/--print"),
        (args.no_render, "-n/--no-render"),
        (args.quiet, "-q/--quiet"),
        (
            args.default_toml != Path::new("./default.toml"),
            "-d/--default-toml",
        ),
        (args.render_dir != Path::new("./results"), "-r/--render-dir"),
    ];
    if let Some((_, flag)) = habitat_only.iter().find(|(set, _)| *set) {
        return Err(anyhow!(
            "{flag} is for Habitat's form, which renders one template file; {} is not a file \
             (for a plan directory use --out, --user-toml, --member-json, --strict)",
            args.plan.display()
        ));
    }
    // A temporary directory is removed again if the render fails, and kept if it succeeds.
    let (out, temp) = match &args.out {
        Some(dir) => (dir.clone(), None),
        None => {
            let temp = new_temp_dir()?;
            (temp.path().to_owned(), Some(temp))
        }
    };
    let mut opts = LoneRender {
        user_toml: args.user_toml.clone(),
        member_json: args.member_json.clone(),
        strict: args.strict,
        ..LoneRender::default()
    };
    opts.sys.version = env!("CARGO_PKG_VERSION").to_owned();
    // The library's errors carry their cause in their own text: keep them as one message.
    let report =
        warren_service::render_lone(&args.plan, &out, &opts, |name| std::env::var(name).ok())
            .map_err(|e| anyhow!("{e}"))?;
    for warning in &report.warnings {
        eprintln!("warren: warning: {}", one_line(warning));
    }
    if let Some(temp) = temp {
        // Its path is `out`, printed below; keeping it only stops the removal on drop.
        let _kept = temp.keep();
    }
    println!("rendered {} into {}", report.ident, out.display());
    for file in &report.files {
        let kind = match file.kind {
            OutputKind::Config => "config",
            OutputKind::Hook => "hook",
        };
        let mark = if file.changed { "*" } else { " " };
        println!("{mark} {kind:6} {}", file.path.display());
    }
    Ok(())
}

/// Habitat's form: one template file.
fn render_habitat_form(args: &PlanRenderArgs) -> Result<()> {
    if args.out.is_some() || args.member_json.is_some() || args.strict {
        return Err(anyhow!(
            "--out, --member-json and --strict are for a plan directory; {} is a template file \
             (Habitat's form: -r DIR, -m mock.json)",
            args.plan.display()
        ));
    }
    let template = &args.plan;
    let file_name = template
        .file_name()
        .ok_or_else(|| anyhow!("{}: not a file name", template.display()))?;
    let say = |line: String| {
        if !args.quiet {
            println!("{line}");
        }
    };
    say(format!(
        "» Rendering: {} into: {} as: {}",
        template.display(),
        args.render_dir.display(),
        Path::new(file_name).display()
    ));
    say(String::new());
    say(format!(
        "» Importing default.toml: {}",
        args.default_toml.display()
    ));
    if let Some(path) = &args.user_toml {
        say(format!("» Importing user.toml: {}", path.display()));
    }
    if let Some(path) = &args.mock_data {
        say(format!("» Importing override file: {}", path.display()));
    }
    let data = warren_service::habitat_render_data(
        &args.default_toml,
        args.user_toml.as_deref(),
        args.mock_data.as_deref(),
    )
    .map_err(|e| anyhow!("{e}"))?;
    let (text, warnings) =
        warren_service::render_template_file(template, data).map_err(|e| anyhow!("{e}"))?;
    for warning in &warnings {
        eprintln!("warren: warning: {}", one_line(warning));
    }
    if args.print {
        say(String::new());
        say(format!(
            "###======== Rendered template: {}",
            template.display()
        ));
        println!("{text}");
        say(format!(
            "========### End rendered template: {}",
            template.display()
        ));
    }
    if !args.no_render {
        let path = args.render_dir.join(file_name);
        say(format!("Ω Creating file: {}", path.display()));
        std::fs::create_dir_all(&args.render_dir)
            .map_err(|e| anyhow!("cannot create {}: {e}", args.render_dir.display()))?;
        std::fs::write(&path, text.as_bytes())
            .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
    }
    say(String::new());
    Ok(())
}

/// A fresh directory under the system's temporary directory.
fn new_temp_dir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("warren-render-")
        .tempdir()
        .map_err(|e| anyhow!("cannot create a temporary output directory ({e}); use --out DIR"))
}

/// Error text on one line: handlebars' syntax errors can span several (a caret diagram).
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
