//! Reads over several tenants at once (`X-Scope-OrgID: a|b` with
//! `querier.multi_tenant_queries_enabled`), as Loki's multi-tenant querier does:
//! each tenant is asked alone, `__tenant_id__` matchers pick the tenants (and are
//! removed before the tenant's own selection), and every result stream, series
//! and sample set carries `__tenant_id__="<tenant>"` (a label of that name already
//! present becomes `original___tenant_id__`). With one tenant these are the plain
//! single-tenant calls, unchanged.
//!
//! The query handlers call these instead of the single-tenant `Querier` methods.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{apply_global_limit, merge_streams, Querier, QueryError};
use crate::actors::ingester::{
    LogRequest, LogResult, SampleRequest, SampleResult, TimeRange, VolumeRequest, VolumeResult,
};
use crate::logql::metric::{RangeAgg, RangeSelect};
use crate::logql::{LogExpr, Matcher};
use crate::model::Labels;

pub const TENANT_LABEL: &str = "__tenant_id__";
const ORIGINAL_TENANT_LABEL: &str = "original___tenant_id__";

/// The matchers without `__tenant_id__` ones, or `None` when those reject `tenant`.
fn for_tenant(matchers: &[Matcher], tenant: &str) -> Option<Vec<Matcher>> {
    let (own, rest): (Vec<&Matcher>, Vec<&Matcher>) = matchers.iter().partition(|m| m.name == TENANT_LABEL);
    own.iter().all(|m| m.matches(tenant)).then(|| rest.into_iter().cloned().collect())
}

/// `pairs` with `__tenant_id__="<tenant>"`, sorted.
fn tag_pairs(pairs: &[(String, String)], tenant: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = pairs
        .iter()
        .map(
            |(k, v)| if k == TENANT_LABEL { (ORIGINAL_TENANT_LABEL.into(), v.clone()) } else { (k.clone(), v.clone()) },
        )
        .collect();
    out.push((TENANT_LABEL.into(), tenant.into()));
    out.sort();
    out
}

fn tag(labels: &Labels, tenant: &str) -> Labels {
    Labels::from_pairs(tag_pairs(labels.pairs(), tenant))
}

impl Querier {
    /// Log entries of every tenant, limit and direction applied across all of them.
    pub async fn logs_for(&self, tenants: &[String], req: LogRequest) -> Result<LogResult, QueryError> {
        if let [tenant] = tenants {
            return self.select_logs(tenant, req).await;
        }
        let mut out = LogResult::default();
        for tenant in tenants {
            let Some(matchers) = for_tenant(&req.expr.matchers, tenant) else { continue };
            let expr = LogExpr { matchers, ..(*req.expr).clone() };
            let mut r = self.select_logs(tenant, LogRequest { expr: Arc::new(expr), ..req.clone() }).await?;
            for s in &mut r.streams {
                s.labels = tag(&s.labels, tenant);
                s.stream = tag(&s.stream, tenant);
            }
            out.stats.add(r.stats);
            out.warnings.extend(r.warnings);
            out.streams = merge_streams(std::mem::take(&mut out.streams), r.streams, req.direction);
        }
        out.streams = apply_global_limit(out.streams, req.limit, req.direction);
        Ok(out)
    }

    /// Samples of one range aggregation over every tenant, series tagged by tenant.
    pub async fn samples_for(
        &self,
        tenants: &[String],
        r: &RangeAgg,
        start: i64,
        end: i64,
    ) -> Result<SampleResult, QueryError> {
        if let [tenant] = tenants {
            let select = Arc::new(RangeSelect::new(r)?);
            return self.select_samples(tenant, SampleRequest { select, start, end }).await;
        }
        let mut out = SampleResult::default();
        for tenant in tenants {
            let Some(matchers) = for_tenant(&r.range.log.matchers, tenant) else { continue };
            let mut own = r.clone();
            own.range.log.matchers = matchers;
            let select = Arc::new(RangeSelect::new(&own)?);
            let mut res = self.select_samples(tenant, SampleRequest { select, start, end }).await?;
            res.series = std::mem::take(&mut res.series).into_iter().map(|(k, v)| (tag_pairs(&k, tenant), v)).collect();
            out.merge(res);
        }
        Ok(out)
    }

    /// Label names, or one label's values (`__tenant_id__`'s values are the tenants).
    pub async fn labels_for(
        &self,
        tenants: &[String],
        name: Option<&str>,
        matchers: Vec<Matcher>,
        range: TimeRange,
    ) -> Result<Vec<String>, QueryError> {
        if let [tenant] = tenants {
            return self.label_values_or_names(tenant, name, matchers, range).await;
        }
        let mut out = BTreeSet::new();
        for tenant in tenants {
            let Some(own) = for_tenant(&matchers, tenant) else { continue };
            if name == Some(TENANT_LABEL) {
                out.insert(tenant.clone());
                continue;
            }
            let range = TimeRange { start: range.start, end: range.end };
            out.extend(self.label_values_or_names(tenant, name, own, range).await?);
        }
        Ok(out.into_iter().collect())
    }

    /// Per-stream counts (index stats, volume) of every tenant, streams tagged.
    pub async fn volume_for(&self, tenants: &[String], req: VolumeRequest) -> Result<VolumeResult, QueryError> {
        if let [tenant] = tenants {
            return self.volume(tenant, req).await;
        }
        let mut out = VolumeResult::default();
        for tenant in tenants {
            let Some(matchers) = for_tenant(&req.matchers, tenant) else { continue };
            let mut r = self.volume(tenant, VolumeRequest { matchers, ..req.clone() }).await?;
            for s in &mut r.streams {
                s.labels = tag(&s.labels, tenant);
            }
            out.streams.extend(r.streams);
        }
        Ok(out)
    }

    /// Series of every tenant, each tagged with its tenant.
    pub async fn series_for(
        &self,
        tenants: &[String],
        groups: Vec<Vec<Matcher>>,
        range: TimeRange,
    ) -> Result<Vec<Labels>, QueryError> {
        if let [tenant] = tenants {
            return self.series(tenant, groups, range).await;
        }
        let mut out = BTreeSet::new();
        for tenant in tenants {
            let own: Vec<Vec<Matcher>> = groups.iter().filter_map(|g| for_tenant(g, tenant)).collect();
            if own.is_empty() && !groups.is_empty() {
                continue;
            }
            // a group that was only `__tenant_id__` matchers selects every series
            let own = if own.iter().any(Vec::is_empty) { Vec::new() } else { own };
            let range = TimeRange { start: range.start, end: range.end };
            out.extend(self.series(tenant, own, range).await?.iter().map(|l| tag(l, tenant)));
        }
        Ok(out.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logql::MatchOp;

    #[test]
    fn tenant_matchers_pick_tenants_and_labels_are_tagged() {
        let m = vec![
            Matcher::new(TENANT_LABEL, MatchOp::Re, "a|b").unwrap(),
            Matcher::new("app", MatchOp::Eq, "x").unwrap(),
        ];
        assert_eq!(for_tenant(&m, "a").map(|v| v.len()), Some(1));
        assert!(for_tenant(&m, "c").is_none());
        let l = Labels::parse(r#"{app="x", __tenant_id__="old"}"#).unwrap();
        assert_eq!(tag(&l, "a").to_string(), r#"{__tenant_id__="a", app="x", original___tenant_id__="old"}"#);
    }
}
