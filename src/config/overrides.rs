//! Per-tenant limits: `limits_config` is every tenant's default; the runtime
//! config file (`runtime_config.file`, Loki's `overrides: {<tenant>: {<limits>}}`)
//! overrides single keys per tenant. The file is re-read every
//! `runtime_config.period` and applied when its content changed; a bad file is
//! an error at start and a logged warning (old overrides kept) afterwards.
//!
//! The distributor, the ingester's tenant actors and the query API ask
//! [`Overrides::get`] for a tenant's limits on each request; `node` builds it
//! and starts the reloader.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::units::Dur;
use super::{ConfigError, Limits};

/// `runtime_config`: where per-tenant overrides live and how often they are re-read.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RuntimeConfig {
    pub file: String,
    pub period: Dur,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig { file: String::new(), period: Dur::secs(10) }
    }
}

/// The shape of a runtime config file; other top-level sections are ignored.
#[derive(Deserialize, Default)]
struct RuntimeFile {
    #[serde(default)]
    overrides: Option<HashMap<String, serde_yaml::Value>>,
}

pub struct Overrides {
    defaults: Arc<Limits>,
    tenants: RwLock<HashMap<String, Arc<Limits>>>,
    file: Option<PathBuf>,
    /// The file content last applied (reload only when it changes).
    applied: Mutex<Option<String>>,
}

impl Overrides {
    /// Every tenant gets `defaults`; no file.
    pub fn new(defaults: Limits) -> Overrides {
        Overrides {
            defaults: Arc::new(defaults),
            tenants: RwLock::new(HashMap::new()),
            file: None,
            applied: Mutex::new(None),
        }
    }

    /// Defaults from `limits_config`, overrides from `runtime_config.file` (read now).
    pub fn from_config(limits: &Limits, rc: &RuntimeConfig) -> Result<Overrides, ConfigError> {
        let mut o = Overrides::new(limits.clone());
        if !rc.file.trim().is_empty() {
            o.file = Some(PathBuf::from(rc.file.trim()));
            o.reload()?;
        }
        Ok(o)
    }

    /// The limits of `tenant`: its override, else the defaults.
    pub fn get(&self, tenant: &str) -> Arc<Limits> {
        let map = self.tenants.read().unwrap_or_else(|e| e.into_inner());
        map.get(tenant).cloned().unwrap_or_else(|| self.defaults.clone())
    }

    pub fn defaults(&self) -> &Limits {
        &self.defaults
    }

    /// Re-reads the file; applies it if its content changed. `Ok(true)` when applied.
    pub fn reload(&self) -> Result<bool, ConfigError> {
        let Some(path) = &self.file else { return Ok(false) };
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        let mut applied = self.applied.lock().unwrap_or_else(|e| e.into_inner());
        if applied.as_deref() == Some(text.as_str()) {
            return Ok(false);
        }
        let parsed = parse(&self.defaults, &text)?;
        tracing::info!(file = %path.display(), tenants = parsed.len(), "runtime config loaded");
        *self.tenants.write().unwrap_or_else(|e| e.into_inner()) = parsed;
        *applied = Some(text);
        Ok(true)
    }

    /// Re-reads the file every `period` on a thread of its own (for the process lifetime).
    pub fn spawn_reloader(self: &Arc<Self>, period: Duration) {
        if self.file.is_none() {
            return;
        }
        let me = Arc::downgrade(self);
        let period = period.max(Duration::from_millis(100));
        let spawned = std::thread::Builder::new().name("runtime-config".into()).spawn(move || loop {
            std::thread::sleep(period);
            let Some(o) = me.upgrade() else { return };
            if let Err(e) = o.reload() {
                tracing::warn!(error = %e, "runtime config not reloaded; keeping the previous overrides");
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the runtime config reloader");
        }
    }
}

/// Each tenant's override laid over the defaults, key by key.
fn parse(defaults: &Limits, text: &str) -> Result<HashMap<String, Arc<Limits>>, ConfigError> {
    let file: RuntimeFile = if text.trim().is_empty() {
        RuntimeFile::default()
    } else {
        serde_yaml::from_str(text).map_err(|e| ConfigError::Parse(format!("runtime config: {e}")))?
    };
    let base = serde_json::to_value(defaults).map_err(|e| ConfigError::Parse(e.to_string()))?;
    let mut out = HashMap::new();
    for (tenant, v) in file.overrides.unwrap_or_default() {
        let over = serde_json::to_value(&v).map_err(|e| ConfigError::Parse(format!("runtime config: {e}")))?;
        let over = match over {
            Value::Object(m) => m,
            Value::Null => Default::default(),
            _ => return Err(ConfigError::Parse(format!("runtime config: overrides for {tenant:?} must be a map"))),
        };
        // unknown keys are errors, Loki keys Skald does not act on are ignored (as in limits_config)
        let check = serde_json::json!({ "limits_config": Value::Object(over.clone()) });
        let ignored = super::schema::check(&check)?;
        let mut merged = base.clone();
        if let Value::Object(m) = &mut merged {
            for (k, val) in over {
                if !ignored.contains(&format!("limits_config.{k}")) {
                    m.insert(k, val);
                }
            }
        }
        let limits: Limits = serde_path_to_error::deserialize(merged).map_err(|e| ConfigError::Value {
            path: format!("overrides.{tenant}.{}", e.path()),
            msg: e.inner().to_string(),
        })?;
        out.insert(tenant, Arc::new(limits));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_lay_over_defaults_and_reload_on_change() {
        let dir = std::env::temp_dir().join(format!("skald-overrides-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("runtime.yaml");
        std::fs::write(&file, "overrides:\n  a:\n    max_line_size: 10\n    max_query_parallelism: 16\n").unwrap();
        let defaults = Limits { max_query_series: 7, ..Limits::default() };
        let rc = RuntimeConfig { file: file.display().to_string(), period: Dur::secs(10) };
        let o = Overrides::from_config(&defaults, &rc).unwrap();
        assert_eq!(o.get("a").max_line_size.0, 10);
        assert_eq!(o.get("a").max_query_series, 7, "other keys keep the limits_config value");
        assert_eq!(o.get("b").max_line_size.0, 256_000);
        assert!(!o.reload().unwrap(), "unchanged file: nothing to apply");

        std::fs::write(&file, "overrides:\n  a:\n    max_line_size: 20\n").unwrap();
        assert!(o.reload().unwrap());
        assert_eq!(o.get("a").max_line_size.0, 20);

        std::fs::write(&file, "overrides:\n  a:\n    max_line_sise: 30\n").unwrap();
        let e = o.reload().unwrap_err().to_string();
        assert!(e.contains("max_line_sise"), "{e}");
        assert_eq!(o.get("a").max_line_size.0, 20, "a bad file keeps the previous overrides");
        std::fs::write(&file, "overrides:\n  a:\n    max_line_size: [1]\n").unwrap();
        assert!(o.reload().unwrap_err().to_string().contains("overrides.a.max_line_size"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
