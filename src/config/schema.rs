//! Key checking: every key in a config must be one Skald acts on (a field of
//! [`Config`]) or a Loki key listed in `loki_keys.txt` (collected and warned about).
//! Anything else is a misspelling and an error naming the key.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::Value;

use super::{Config, ConfigError};

const LOKI_KEYS: &str = include_str!("loki_keys.txt");

struct Known {
    acted: BTreeSet<String>,
    loki: BTreeSet<String>,
    loki_prefixes: Vec<String>,
}

fn known() -> &'static Known {
    static K: OnceLock<Known> = OnceLock::new();
    K.get_or_init(|| {
        let mut acted = BTreeSet::new();
        // one element in each list of objects, so the keys of list items count too
        let mut sample = Config::default();
        sample.schema_config.configs.push(Default::default());
        let defaults = serde_json::to_value(sample).unwrap_or(Value::Null);
        collect_paths(&defaults, "", &mut acted);
        let mut loki = BTreeSet::new();
        let mut loki_prefixes = Vec::new();
        for line in LOKI_KEYS.lines().map(str::trim).filter(|l| !l.is_empty()) {
            match line.strip_suffix(".*") {
                Some(p) => loki_prefixes.push(format!("{p}.")),
                None => {
                    loki.insert(line.to_string());
                }
            }
        }
        Known { acted, loki, loki_prefixes }
    })
}

fn collect_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = join(prefix, k);
                out.insert(p.clone());
                collect_paths(child, &p, out);
            }
        }
        Value::Array(items) => {
            if let Some(first) = items.first() {
                collect_paths(first, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn join(prefix: &str, k: &str) -> String {
    if prefix.is_empty() {
        k.to_string()
    } else {
        format!("{prefix}.{k}")
    }
}

/// True when Loki has keys below `path` (a section or a list of objects).
fn is_loki_section(k: &Known, path: &str) -> bool {
    let (dot, list) = (format!("{path}."), format!("{path}[]"));
    k.loki.iter().chain(k.loki_prefixes.iter()).any(|l| l.starts_with(&dot) || l.starts_with(&list))
}

/// Checks every key of `tree`; returns the Loki keys Skald ignores.
pub fn check(tree: &Value) -> Result<Vec<String>, ConfigError> {
    let mut ignored = Vec::new();
    walk(tree, "", &mut ignored)?;
    Ok(ignored)
}

fn walk(v: &Value, prefix: &str, ignored: &mut Vec<String>) -> Result<(), ConfigError> {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let path = join(prefix, k);
                let k_ = known();
                if k_.acted.contains(&path) {
                    walk(child, &path, ignored)?;
                } else if k_.loki.contains(&path) || k_.loki_prefixes.iter().any(|p| path.starts_with(p.as_str())) {
                    ignored.push(path);
                } else if is_loki_section(k_, &path) {
                    // a Loki section: its children must be Loki keys too
                    walk(child, &path, ignored)?;
                } else {
                    return Err(ConfigError::UnknownKey { hint: suggest(&path), key: path });
                }
            }
        }
        Value::Array(items) => {
            let path = format!("{prefix}[]");
            for item in items {
                if item.is_object() {
                    walk(item, &path, ignored)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// "did you mean" hint: the closest known sibling key, if it is close.
fn suggest(path: &str) -> String {
    let (parent, leaf) = path.rsplit_once('.').unwrap_or(("", path));
    let k = known();
    let siblings = k.acted.iter().chain(k.loki.iter()).filter_map(|p| {
        let (pp, l) = p.rsplit_once('.').unwrap_or(("", p.as_str()));
        (pp == parent).then_some(l)
    });
    let best = siblings.map(|s| (edit_distance(s, leaf), s)).min();
    match best {
        Some((d, s)) if d <= 3 && d < leaf.len() => format!(" (did you mean {s:?}?)"),
        _ => String::new(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
