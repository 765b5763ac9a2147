//! A small flag parser for the loadgen subcommands: `--name value`,
//! `-name=value` and bare boolean `--name`.

use std::collections::HashMap;
use std::str::FromStr;

pub struct Flags {
    values: HashMap<String, String>,
    repeated: Vec<(String, String)>,
}

impl Flags {
    /// `known`: flag names with whether they take a value.
    pub fn parse(args: &[String], known: &[(&str, bool)]) -> Result<Flags, String> {
        let mut values = HashMap::new();
        let mut repeated = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let name = a
                .strip_prefix("--")
                .or_else(|| a.strip_prefix('-'))
                .ok_or_else(|| format!("unexpected argument {a:?}"))?;
            let (name, inline) = match name.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (name, None),
            };
            let takes_value = known
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| *v)
                .ok_or_else(|| format!("unknown flag -{name}"))?;
            let v = match (takes_value, inline) {
                (_, Some(v)) => v,
                (true, None) => it.next().cloned().ok_or_else(|| format!("flag -{name} needs a value"))?,
                (false, None) => "true".into(),
            };
            repeated.push((name.to_string(), v.clone()));
            values.insert(name.to_string(), v);
        }
        Ok(Flags { values, repeated })
    }

    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.values.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("invalid value {v:?} for -{name}")),
        }
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Every value of a repeatable flag, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.repeated.iter().filter(|(n, _)| n == name).map(|(_, v)| v.clone()).collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
}
