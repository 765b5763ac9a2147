//! The load generator (`skald loadgen ...`): deterministic log lines and push
//! load against any Loki-compatible server, with figures per CPU-second of the
//! server process when its pid is given.
//!
//! Used by people measuring Skald (or Loki) and by the benchmark scripts in bench/.

pub mod flags;
pub mod gen;
pub mod procstat;
pub mod push;
pub mod query;

use std::process::ExitCode;

/// `skald loadgen <mode> [flags]`.
pub fn main(args: Vec<String>) -> ExitCode {
    let Some((mode, rest)) = args.split_first() else {
        eprintln!("usage: skald loadgen push|query [flags]   (skald loadgen <mode> -help for flags)");
        return ExitCode::from(2);
    };
    match mode.as_str() {
        "push" => push::main(rest),
        "query" => query::main(rest),
        other => {
            eprintln!("unknown loadgen mode {other:?}; available: push, query");
            ExitCode::from(2)
        }
    }
}
