//! Command line: Loki's flags in single-dash (`-config.file=x`) and double-dash
//! (`--config.file x`) form. `main` calls [`main`].

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{self, LoadOptions};

#[derive(Debug, Default, Clone)]
pub struct Cli {
    pub config_file: Option<PathBuf>,
    pub expand_env: bool,
    pub target: Option<String>,
    pub log_level: Option<String>,
    pub verify_config: bool,
    pub print_config: bool,
    pub version: bool,
    pub help: bool,
    pub http_port: Option<u16>,
    pub grpc_port: Option<u16>,
    pub http_address: Option<String>,
    pub path_prefix: Option<String>,
}

const USAGE: &str = "Usage: skald [flags]

Runs Skald, a log aggregation system that speaks Grafana Loki's API.
With no flags it runs every role (-target=all) on :3100 (HTTP) and :9095 (gRPC).

Flags (single or double dash; -flag=value or -flag value):
  -config.file <path>            Loki-style YAML config file
  -config.expand-env[=true]      expand ${VAR} and ${VAR:-default} in the config
  -target <list>                 comma list of targets: all, distributor, ingester, querier,
                                 query-frontend, query-scheduler, index-gateway, ruler,
                                 compactor, read, write, backend
  -log.level <level>             debug, info, warn, error
  -server.http-listen-port <n>   HTTP port (server.http_listen_port)
  -server.grpc-listen-port <n>   gRPC port (server.grpc_listen_port)
  -server.http-listen-address <a>
  -common.path-prefix <dir>      data directory (common.path_prefix)
  -verify-config                 check the config and exit
  -print-config-stderr           print the effective config to stderr at start
  -version                       print the version and exit
Subcommands:
  skald loadgen push [flags]     push generated load at a Loki-compatible server
  skald loadgen query [flags]    run LogQL queries against it and report latencies
  skald canary [flags]           write, tail and query-check lines; report missing/duplicated ones
Environment overrides: SKALD_<SECTION>__<KEY>=value (e.g. SKALD_SERVER__HTTP_LISTEN_PORT=3200).
";

fn parse_bool(v: Option<&str>) -> Result<bool, String> {
    match v {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(o) => Err(format!("invalid boolean value {o:?}")),
    }
}

impl Cli {
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Cli, String> {
        let mut c = Cli::default();
        let mut it = args.into_iter().peekable();
        while let Some(arg) = it.next() {
            let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
                return Err(format!("unexpected argument {arg:?}"));
            };
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (flag, None),
            };
            let is_bool = matches!(
                name,
                "config.expand-env" | "verify-config" | "print-config-stderr" | "version" | "help" | "h"
            );
            let value = if is_bool {
                inline
            } else {
                match inline {
                    Some(v) => Some(v),
                    None => Some(it.next().ok_or_else(|| format!("flag needs an argument: -{name}"))?),
                }
            };
            let v = value.as_deref();
            let port =
                |v: Option<&str>| v.unwrap_or("").parse::<u16>().map_err(|_| format!("invalid port for -{name}"));
            match name {
                "config.file" => c.config_file = v.map(PathBuf::from),
                "config.expand-env" => c.expand_env = parse_bool(v)?,
                "target" => c.target = v.map(str::to_string),
                "log.level" => c.log_level = v.map(str::to_string),
                "verify-config" => c.verify_config = parse_bool(v)?,
                "print-config-stderr" => c.print_config = parse_bool(v)?,
                "version" => c.version = parse_bool(v)?,
                "help" | "h" => c.help = true,
                "server.http-listen-port" => c.http_port = Some(port(v)?),
                "server.grpc-listen-port" => c.grpc_port = Some(port(v)?),
                "server.http-listen-address" => c.http_address = v.map(str::to_string),
                "common.path-prefix" => c.path_prefix = v.map(str::to_string),
                other => return Err(format!("flag provided but not defined: -{other}")),
            }
        }
        Ok(c)
    }
}

fn init_tracing(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("skald={level},warn")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

pub fn main() -> ExitCode {
    crate::tls::ensure_crypto_provider();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("loadgen") {
        return crate::loadgen::main(args[1..].to_vec());
    }
    if args.first().map(String::as_str) == Some("canary") {
        return crate::canary::main(&args[1..]);
    }
    let cli = match Cli::parse(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if cli.help {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if cli.version {
        println!("skald, version {}", crate::VERSION);
        return ExitCode::SUCCESS;
    }
    let loaded = match config::load(&LoadOptions { file: cli.config_file.clone(), expand_env: cli.expand_env }) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut cfg = loaded.config;
    if let Some(t) = &cli.target {
        cfg.target = t.split(',').map(|s| s.trim().to_string()).collect();
    }
    if let Some(l) = &cli.log_level {
        cfg.server.log_level = l.clone();
    }
    if let Some(p) = cli.http_port {
        cfg.server.http_listen_port = p;
    }
    if let Some(p) = cli.grpc_port {
        cfg.server.grpc_listen_port = p;
    }
    if let Some(a) = &cli.http_address {
        cfg.server.http_listen_address = a.clone();
    }
    if let Some(p) = &cli.path_prefix {
        cfg.common.path_prefix = p.clone();
    }
    if let Err(e) = crate::node::targets(&cfg) {
        eprintln!("invalid config: {e}");
        return ExitCode::FAILURE;
    }
    init_tracing(&cfg.server.log_level);
    for note in &loaded.notes {
        tracing::warn!("{note}");
    }
    if !loaded.ignored_keys.is_empty() {
        tracing::warn!(keys = %loaded.ignored_keys.join(", "), "config keys Skald does not act on yet (ignored)");
    }
    if cli.verify_config {
        eprintln!("config is valid");
        return ExitCode::SUCCESS;
    }
    if cli.print_config {
        eprintln!("{}", cfg.to_yaml());
    }
    match crate::node::run(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "Skald failed");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Cli, String> {
        Cli::parse(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn single_and_double_dash() {
        let c =
            args(&["-config.file=/x.yaml", "--target", "querier,ingester", "-config.expand-env", "-log.level=debug"])
                .unwrap();
        assert_eq!(c.config_file.unwrap().to_str(), Some("/x.yaml"));
        assert_eq!(c.target.as_deref(), Some("querier,ingester"));
        assert!(c.expand_env);
        assert_eq!(c.log_level.as_deref(), Some("debug"));
        assert!(!args(&["-config.expand-env=false"]).unwrap().expand_env);
        assert!(args(&["-verify-config"]).unwrap().verify_config);
        assert!(args(&["-nope=1"]).unwrap_err().contains("not defined"));
        assert!(args(&["-target"]).unwrap_err().contains("needs an argument"));
    }
}
