//! The `skald` binary: every role in one executable (see `skald -help`).

fn main() -> std::process::ExitCode {
    skald::cli::main()
}
