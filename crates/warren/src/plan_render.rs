//! `warren plan render`: renders a plan's templates as a supervisor alone in its group would
//! and says where they went. The work is `warren_service::render_lone`; this file only picks
//! the output directory, reads `HAB_<PKG>` from the environment and prints.
//!
//! It does not run hooks or start anything. Errors are printed as one line naming the file
//! (and line, for a template or TOML error), with exit status 1.

use std::process::ExitCode;

use anyhow::{Result, anyhow};
use warren_service::{LoneRender, OutputKind};

use crate::cli::PlanRenderArgs;

/// Runs the command; prints the outputs (a `*` marks those written this time) on stdout.
pub(crate) fn main(args: &PlanRenderArgs) -> ExitCode {
    match render(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warren: {}", one_line(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

fn render(args: &PlanRenderArgs) -> Result<()> {
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
