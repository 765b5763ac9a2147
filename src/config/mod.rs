//! Configuration: Loki's YAML (section and key names), `-config.expand-env`,
//! environment overrides, and the split between keys Skald acts on, Loki keys it
//! does not act on yet (one warning naming them) and misspelt keys (an error).
//!
//! `main`/`cli` calls [`load`]; every other module receives the typed [`Config`].

pub mod cache;
pub mod cluster;
pub mod frontend;
mod limits;
pub mod overrides;
mod schema;
mod sections;
pub mod storage;
pub mod units;

use std::path::{Path, PathBuf};

pub use limits::Limits;
pub use overrides::Overrides;
pub use sections::{CommonConfig, Config, DistributorConfig, IngesterConfig, QuerierConfig, ServerConfig};

/// Prefix of environment overrides: `SKALD_SERVER__HTTP_LISTEN_PORT=3200` sets
/// `server.http_listen_port`.
pub const ENV_PREFIX: &str = "SKALD";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("failed parsing config: {0}")]
    Parse(String),
    #[error("failed parsing config: unknown config key {key:?}{hint}")]
    UnknownKey { key: String, hint: String },
    #[error("failed parsing config: {path}: {msg}")]
    Value { path: String, msg: String },
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// What was loaded: the typed config plus the Loki keys present but not acted on.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub ignored_keys: Vec<String>,
    /// Things worth one warning at start (e.g. index stores Skald maps onto its own).
    pub notes: Vec<String>,
}

/// Options from the command line that decide how the file is read.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub file: Option<PathBuf>,
    pub expand_env: bool,
}

/// Reads, expands, overlays environment overrides, validates keys and types.
pub fn load(opts: &LoadOptions) -> Result<Loaded, ConfigError> {
    let text = match &opts.file {
        Some(p) => {
            std::fs::read_to_string(p).map_err(|source| ConfigError::Read { path: p.display().to_string(), source })?
        }
        None => String::new(),
    };
    let text = if opts.expand_env { expand_env(&text) } else { text };
    load_str(&text)
}

/// Loads a config from YAML text (already env-expanded) plus environment overrides.
pub fn load_str(yaml: &str) -> Result<Loaded, ConfigError> {
    let tree: serde_json::Value = config::Config::builder()
        .add_source(config::File::from_str(yaml, config::FileFormat::Yaml))
        .add_source(
            config::Environment::with_prefix(ENV_PREFIX).prefix_separator("_").separator("__").try_parsing(true),
        )
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| ConfigError::Parse(e.to_string()))?;
    let ignored_keys = schema::check(&tree)?;
    let config: Config = serde_path_to_error::deserialize(&tree)
        .map_err(|e| ConfigError::Value { path: e.path().to_string(), msg: e.inner().to_string() })?;
    validate(&config)?;
    let notes = config
        .schema_config
        .configs
        .iter()
        .filter(|p| matches!(p.store.as_str(), "boltdb-shipper" | "boltdb"))
        .map(|p| {
            format!("schema_config period from {} uses store {:?}: Skald serves it with its own index", p.from, p.store)
        })
        .collect();
    Ok(Loaded { config, ignored_keys, notes })
}

fn validate(c: &Config) -> Result<(), ConfigError> {
    crate::storage::chunk::Encoding::parse(&c.ingester.chunk_encoding).map_err(ConfigError::Invalid)?;
    if c.ingester.chunk_block_size.0 == 0 || c.ingester.chunk_target_size.0 == 0 {
        return Err(ConfigError::Invalid("ingester.chunk_block_size and chunk_target_size must be positive".into()));
    }
    Ok(())
}

impl Config {
    /// Root directory for local data: `common.path_prefix`, else `./data`.
    pub fn data_dir(&self) -> PathBuf {
        if self.common.path_prefix.is_empty() {
            Path::new("data").to_path_buf()
        } else {
            PathBuf::from(&self.common.path_prefix)
        }
    }

    /// The effective config rendered as YAML (for `GET /config`).
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).unwrap_or_default()
    }
}

/// Expands `${VAR}` and `${VAR:-default}` as Loki's `-config.expand-env` does.
/// An unset variable without a default becomes the empty string.
pub fn expand_env(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        match std::env::var(name) {
            Ok(v) if !v.is_empty() || default.is_none() => out.push_str(&v),
            _ => out.push_str(default.unwrap_or("")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
