//! The `skald` binary: every role in one executable (see `skald -help`).

fn main() -> std::process::ExitCode {
    skald::cli::main()
}

/// mimalloc: the ingest path allocates many small buffers; measured in docs/benchmarks.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
