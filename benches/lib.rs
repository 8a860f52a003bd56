//! Holder crate for Warren's benchmarks (`benches/benches/*.rs`); it has no code of its own.
//! Run them with `cargo bench -p warren-benches`; see BENCHMARKS.md for recorded results.
