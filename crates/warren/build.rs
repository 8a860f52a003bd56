//! Asks the linker to place the functions an idle member runs (`hot-code.txt`, written by
//! `deploy/container/hot-code.sh`) together at the start of the `warren` binary's code, so that
//! the kernel's 64 KiB fault-around maps them and little else: an empty-mode member then keeps
//! about 4 MiB less code resident (BENCHMARKS.md, "Resident code").
//!
//! Only the layout changes, never the code. Only on x86_64 Linux with the GNU environment,
//! where Rust links with its own LLD (which reads `--symbol-ordering-file`); names in the list
//! that a build does not have (another profile, a renamed function) are skipped silently.
//! `WARREN_NO_HOT_CODE=1` turns it off, e.g. to link with another linker.

use std::env;
use std::path::Path;

fn main() {
    println!("cargo::rerun-if-changed=hot-code.txt");
    println!("cargo::rerun-if-env-changed=WARREN_NO_HOT_CODE");
    let is = |var: &str, want: &str| env::var(var).is_ok_and(|v| v == want);
    let lld_default = is("CARGO_CFG_TARGET_ARCH", "x86_64")
        && is("CARGO_CFG_TARGET_OS", "linux")
        && is("CARGO_CFG_TARGET_ENV", "gnu");
    let list = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("hot-code.txt");
    if !lld_default || is("WARREN_NO_HOT_CODE", "1") || !list.is_file() {
        return;
    }
    println!(
        "cargo::rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
        list.display()
    );
    println!("cargo::rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}
