//! The load generator (`skald loadgen ...`): deterministic log lines and push
//! load against any Loki-compatible server, live-tail latency, with figures per CPU-second of the
//! server process when its pid is given.
//!
//! Used by people measuring Skald (or Loki) and by the benchmark scripts in bench/.

pub mod flags;
pub mod gen;
pub mod procstat;
mod progress;
pub mod push;
pub mod query;
pub mod tail;
pub mod tail_client;

use std::process::ExitCode;
use std::time::Duration;

use flags::Flags;

/// `skald loadgen <mode> [flags]`.
pub fn main(args: Vec<String>) -> ExitCode {
    let Some((mode, rest)) = args.split_first() else {
        eprintln!("usage: skald loadgen push|query|tail [flags]   (skald loadgen <mode> -help for flags)");
        return ExitCode::from(2);
    };
    match mode.as_str() {
        "push" => push::main(rest),
        "query" => query::main(rest),
        "tail" => tail::main(rest),
        other => {
            eprintln!("unknown loadgen mode {other:?}; available: push, query, tail");
            ExitCode::from(2)
        }
    }
}

/// Runs one mode: parses its flags, prints its usage on `-help` or on an error.
fn run_mode(
    args: &[String],
    usage: &str,
    known: &[(&str, bool)],
    run: impl FnOnce(&Flags) -> Result<(), String>,
) -> ExitCode {
    let result = Flags::parse(args, known).and_then(|f| {
        if f.has("help") {
            print!("{usage}");
            return Ok(());
        }
        run(&f)
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}\n\n{usage}");
            ExitCode::from(2)
        }
    }
}

/// How long a run lasts: `--duration` and/or `--requests` (10 s when neither is given).
fn budget(f: &Flags) -> Result<(Duration, u64), String> {
    let requests: u64 = f.get("requests", u64::MAX)?;
    let duration = match f.str("duration") {
        Some(d) => crate::model::time::parse_duration(d)?,
        None if requests != u64::MAX => Duration::from_secs(86_400),
        None => Duration::from_secs(10),
    };
    Ok((duration, requests))
}

/// The server's pids from `--pid` (one, or a comma list), if given.
fn pid(f: &Flags) -> Result<Option<procstat::Procs>, String> {
    f.str("pid").map(procstat::Procs::parse).transpose()
}

/// The client runtime: two worker threads, like the machines this runs on.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| e.to_string())
}
