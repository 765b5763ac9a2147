//! Stream label resolution on the push path: parsing label strings, Loki 3's
//! `service_name` discovery, and a cache from label string to the resolved set.
//!
//! Clients send the same label strings over and over; a cache hit costs one hash
//! lookup instead of a parse and several allocations, and it hands out the same
//! `Labels` allocation each time, so the ingester compares label sets by pointer.

use dashmap::DashMap;

use super::PushError;
use crate::model::Labels;

/// Entries beyond this are dropped all at once (the cache refills with hot streams).
const MAX_ENTRIES: usize = 200_000;

pub struct LabelCache {
    map: DashMap<String, Labels, foldhash::fast::RandomState>,
    discover: Vec<String>,
}

impl LabelCache {
    /// `discover`: the `discover_service_name` label list (empty disables discovery).
    pub fn new(discover: Vec<String>) -> LabelCache {
        LabelCache { map: DashMap::with_hasher(foldhash::fast::RandomState::default()), discover }
    }

    /// Parses `raw` (or finds it in the cache) and applies service_name discovery.
    pub fn resolve(&self, raw: &str) -> Result<Labels, PushError> {
        if let Some(l) = self.map.get(raw) {
            return Ok(l.clone());
        }
        let parsed = Labels::parse(raw).map_err(|e| PushError::BadRequest(format!("couldn't parse labels: {e}")))?;
        let labels = self.discover(parsed);
        if self.map.len() >= MAX_ENTRIES {
            self.map.clear();
        }
        self.map.insert(raw.to_string(), labels.clone());
        Ok(labels)
    }

    /// Adds `service_name` from the first present discovery label, or
    /// `unknown_service`, as Loki 3 does; a set that has one is returned as is.
    pub fn discover(&self, labels: Labels) -> Labels {
        if self.discover.is_empty() || labels.get("service_name").is_some() {
            return labels;
        }
        let value = self.discover.iter().find_map(|n| labels.get(n)).unwrap_or("unknown_service").to_string();
        let mut pairs = labels.pairs().to_vec();
        pairs.push(("service_name".into(), value));
        Labels::from_pairs(pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_discovers_and_caches() {
        let c = LabelCache::new(vec!["app".into(), "job".into()]);
        let a = c.resolve(r#"{job="j", app="a"}"#).unwrap();
        assert_eq!(a.to_string(), r#"{app="a", job="j", service_name="a"}"#);
        let b = c.resolve(r#"{job="j", app="a"}"#).unwrap();
        assert!(a == b);
        assert_eq!(c.resolve("{x=\"1\"}").unwrap().get("service_name"), Some("unknown_service"));
        assert!(c.resolve("{x=").unwrap_err().to_string().starts_with("couldn't parse labels: "));
        let off = LabelCache::new(vec![]);
        assert!(off.discover(Labels::parse("{}").unwrap()).is_empty());
    }
}
