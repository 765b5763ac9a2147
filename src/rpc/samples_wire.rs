//! The samples of a range aggregation on the wire (`QuerySamples`): one sample
//! per entry, each with its entry's identity so that replicas count once. A
//! metric query over millions of lines sends millions of them, so the querier
//! asks for the compact columns (`SamplesRequest.compact`): timestamps as
//! differences (a few bytes each instead of nine), identities as fixed 8 bytes
//! (copied, not varint-coded) and a single value when every sample has it
//! (`count_over_time`'s 1). It still reads the plain columns an ingester of an
//! earlier version answers with.
//!
//! Used by `ingester_read` (the querier's side) and `service` (the ingester's).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::wire::{pairs, stats, unpairs, unstats, WireError};
use crate::actors::ingester::{SampleQuery, SampleRequest, SampleResult};
use crate::logql::metric::{RangeSelect, Sample};
use crate::proto::ingester as pb;

pub fn samples_request(q: &SampleQuery) -> pb::SamplesRequest {
    pb::SamplesRequest {
        tenant: q.tenant.clone(),
        query: q.req.select.text(),
        start: q.req.start,
        end: q.req.end,
        compact: true,
    }
}

/// The query, and whether the answer may use the compact columns.
pub fn samples_query(r: pb::SamplesRequest) -> Result<(SampleQuery, bool), WireError> {
    let select = RangeSelect::parse(&r.query).map_err(|e| WireError(format!("{}: {e}", r.query)))?;
    let q =
        SampleQuery { tenant: r.tenant, req: SampleRequest { select: Arc::new(select), start: r.start, end: r.end } };
    Ok((q, r.compact))
}

fn plain(labels: Vec<pb::Pair>, s: &[Sample]) -> pb::WireSeries {
    pb::WireSeries {
        labels,
        ts: s.iter().map(|x| x.ts).collect(),
        values: s.iter().map(|x| x.value).collect(),
        keys: s.iter().map(|x| x.key).collect(),
        ..Default::default()
    }
}

fn compact(labels: Vec<pb::Pair>, s: &[Sample]) -> pb::WireSeries {
    let mut prev = 0i64;
    let ts_deltas = s
        .iter()
        .map(|x| {
            let d = x.ts.wrapping_sub(prev);
            prev = x.ts;
            d
        })
        .collect();
    // bitwise, so that NaNs (and -0.0 against 0.0) are kept as they are
    let same = s.first().is_some_and(|f| s.iter().all(|x| x.value.to_bits() == f.value.to_bits()));
    let values = if same { vec![s[0].value] } else { s.iter().map(|x| x.value).collect() };
    pb::WireSeries { labels, ts_deltas, values, keys_fixed: s.iter().map(|x| x.key).collect(), ..Default::default() }
}

pub fn samples_response(r: SampleResult, compact_columns: bool) -> pb::SamplesResponse {
    let series = r
        .series
        .into_iter()
        .map(|(l, s)| if compact_columns { compact(pairs(&l), &s) } else { plain(pairs(&l), &s) })
        .collect();
    pb::SamplesResponse { series, stats: stats(r.stats), warnings: r.warnings }
}

fn series_samples(s: &pb::WireSeries) -> Result<Vec<Sample>, WireError> {
    let bad = || WireError("sample columns of different lengths".into());
    if s.ts_deltas.is_empty() {
        if s.ts.len() != s.values.len() || s.ts.len() != s.keys.len() {
            return Err(bad());
        }
        return Ok(s
            .ts
            .iter()
            .zip(&s.values)
            .zip(&s.keys)
            .map(|((&ts, &value), &key)| Sample { ts, value, key })
            .collect());
    }
    let n = s.ts_deltas.len();
    if s.keys_fixed.len() != n || !(s.values.len() == n || s.values.len() == 1) {
        return Err(bad());
    }
    let mut ts = 0i64;
    Ok((0..n)
        .map(|i| {
            ts = ts.wrapping_add(s.ts_deltas[i]);
            Sample { ts, value: s.values[if s.values.len() == 1 { 0 } else { i }], key: s.keys_fixed[i] }
        })
        .collect())
}

pub fn samples_result(r: pb::SamplesResponse) -> Result<SampleResult, WireError> {
    let mut series = BTreeMap::new();
    for s in r.series {
        let samples = series_samples(&s)?;
        series.insert(unpairs(s.labels), samples);
    }
    Ok(SampleResult { series, stats: unstats(r.stats), warnings: r.warnings })
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    fn result(samples: Vec<Sample>) -> SampleResult {
        let mut series = BTreeMap::new();
        series.insert(vec![("a".to_string(), "1".to_string())], samples);
        SampleResult { series, ..Default::default() }
    }

    #[test]
    fn both_forms_round_trip_and_the_compact_one_is_smaller() {
        let t0 = 1_700_000_000_123_456_789i64;
        let ones: Vec<Sample> = (0..1000)
            .map(|i| Sample { ts: t0 + i * 1_000_003, value: 1.0, key: 0x9e37_79b9_7f4a_7c15 ^ i as u64 })
            .collect();
        // out of order, negative, NaN and both zeros: each value kept bit for bit
        let odd = vec![
            Sample { ts: 5, value: f64::NAN, key: u64::MAX },
            Sample { ts: -7, value: -0.0, key: 0 },
            Sample { ts: i64::MAX, value: 0.0, key: 1 },
        ];
        for samples in [ones.clone(), odd, vec![], vec![Sample { ts: 3, value: 2.5, key: 9 }]] {
            for compact_columns in [false, true] {
                let back = samples_result(samples_response(result(samples.clone()), compact_columns)).unwrap();
                let got = &back.series[&vec![("a".to_string(), "1".to_string())]];
                let bits = |v: &[Sample]| v.iter().map(|s| (s.ts, s.value.to_bits(), s.key)).collect::<Vec<_>>();
                assert_eq!(bits(got), bits(&samples), "compact: {compact_columns}");
            }
        }
        let size = |c: bool| samples_response(result(ones.clone()), c).encoded_len();
        assert!(size(true) * 2 < size(false), "compact {} bytes, plain {}", size(true), size(false));
    }

    #[test]
    fn columns_of_different_lengths_are_refused() {
        let bad = |s: pb::WireSeries| samples_result(pb::SamplesResponse { series: vec![s], ..Default::default() });
        assert!(bad(pb::WireSeries { ts: vec![1], ..Default::default() }).is_err());
        let short_keys =
            pb::WireSeries { ts_deltas: vec![1, 2], values: vec![1.0], keys_fixed: vec![1], ..Default::default() };
        assert!(bad(short_keys).is_err());
        let two_values = pb::WireSeries {
            ts_deltas: vec![1, 2, 3],
            values: vec![1.0, 2.0],
            keys_fixed: vec![1, 2, 3],
            ..Default::default()
        };
        assert!(bad(two_values).is_err());
    }
}
