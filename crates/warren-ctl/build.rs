//! Compiles `proto/warren/ctl/v1/ctl.proto` into prost messages and tonic client/server stubs,
//! and `proto/sup/*.proto` (Habitat's control messages) into prost messages.
//!
//! `protox` (a pure-Rust protobuf compiler) produces the file descriptor set and
//! `tonic-prost-build` generates code from it, so no system `protoc` is needed. Nothing else is
//! generated here.

use std::error::Error;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_dir = manifest.join("proto");
    // Warren's gRPC service, and Habitat's `sup.*` messages (no service: Habitat's own framing
    // carries them, see `src/hab`).
    let files = [
        "warren/ctl/v1/ctl.proto",
        "sup/ctl.proto",
        "sup/types.proto",
        "sup/net.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={}", proto_dir.join(file).display());
    }
    let fds = protox::compile(files, [&proto_dir])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .build_transport(false)
        .compile_fds(fds)?;
    Ok(())
}
