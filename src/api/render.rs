//! Loki's JSON response shapes: stream results (plain or categorize-labels) and
//! the `stats` object.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::actors::ingester::{ScanStats, StreamEntries};
use crate::model::Labels;

/// The request header Grafana sends to get labels split by origin.
pub const ENCODING_FLAGS_HEADER: &str = "X-Loki-Response-Encoding-Flags";
pub const CATEGORIZE_LABELS: &str = "categorize-labels";

fn label_map(pairs: &[(String, String)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()
}

/// Renders `resultType: streams` results. Without categorize-labels each entry's
/// structured metadata joins its stream's labels (one result stream per distinct
/// full label set); with it, stream labels stay alone and metadata goes into a
/// third element of each value.
pub fn streams_json(streams: &[StreamEntries], categorize: bool) -> Value {
    let mut out: BTreeMap<String, (Map<String, Value>, Vec<Value>)> = BTreeMap::new();
    for s in streams {
        for e in &s.entries {
            let ts = Value::String(e.ts.to_string());
            let line = Value::String(e.line_str().to_string());
            if categorize {
                let slot = out.entry(s.labels.to_string()).or_insert_with(|| (label_map(s.labels.pairs()), Vec::new()));
                let mut cat = Map::new();
                if !e.metadata.is_empty() {
                    cat.insert("structuredMetadata".into(), Value::Object(label_map(&e.metadata)));
                }
                slot.1.push(Value::Array(vec![ts, line, Value::Object(cat)]));
            } else {
                let full = if e.metadata.is_empty() {
                    s.labels.clone()
                } else {
                    let mut pairs = s.labels.pairs().to_vec();
                    for (k, v) in &e.metadata {
                        let name = if s.labels.get(k).is_some() { format!("{k}_extracted") } else { k.clone() };
                        pairs.push((name, v.clone()));
                    }
                    Labels::from_pairs(pairs)
                };
                let slot = out.entry(full.to_string()).or_insert_with(|| (label_map(full.pairs()), Vec::new()));
                slot.1.push(Value::Array(vec![ts, line]));
            }
        }
    }
    Value::Array(
        out.into_values().map(|(labels, values)| json!({"stream": Value::Object(labels), "values": values})).collect(),
    )
}

fn store_stats(s: &ScanStats, head: bool) -> Value {
    let (head_bytes, head_lines, dec_bytes, dec_lines) =
        if head { (s.bytes, s.lines, 0, 0) } else { (0, 0, s.bytes, s.lines) };
    json!({
        "totalChunksRef": 0, "totalChunksDownloaded": 0, "chunksDownloadTime": 0,
        "queryReferencedStructuredMetadata": false, "queryUsedV2Engine": false,
        "chunk": {
            "headChunkBytes": head_bytes, "headChunkLines": head_lines,
            "decompressedBytes": dec_bytes, "decompressedLines": dec_lines,
            "compressedBytes": 0, "totalDuplicates": 0, "postFilterLines": 0,
            "headChunkStructuredMetadataBytes": 0, "decompressedStructuredMetadataBytes": 0
        },
        "chunkRefsFetchTime": 0, "congestionControlLatency": 0, "pipelineWrapperFilteredLines": 0
    })
}

fn cache_stats() -> Value {
    json!({"entriesFound": 0, "entriesRequested": 0, "entriesStored": 0, "bytesReceived": 0,
           "bytesSent": 0, "requests": 0, "downloadTime": 0, "queryLengthServed": 0})
}

/// The `stats` object with every key Loki emits; figures from the ingester scan.
pub fn stats_json(exec_secs: f64, returned: usize, scan: &ScanStats, post_filter_lines: usize) -> Value {
    let per_sec = |v: u64| if exec_secs > 0.0 { (v as f64 / exec_secs) as u64 } else { 0 };
    let c = cache_stats();
    json!({
        "summary": {
            "bytesProcessedPerSecond": per_sec(scan.bytes), "linesProcessedPerSecond": per_sec(scan.lines),
            "totalBytesProcessed": scan.bytes, "totalLinesProcessed": scan.lines,
            "execTime": exec_secs, "queueTime": 0, "subqueries": 0, "totalEntriesReturned": returned,
            "splits": 0, "shards": 0, "totalPostFilterLines": post_filter_lines,
            "totalStructuredMetadataBytesProcessed": 0
        },
        "querier": {"store": store_stats(&ScanStats::default(), false), "querierExecTime": exec_secs},
        "ingester": {
            "totalReached": 1, "totalChunksMatched": scan.chunks, "totalBatches": 1,
            "totalLinesSent": returned, "store": store_stats(scan, true)
        },
        "cache": {
            "chunk": c, "index": c, "result": c, "statsResult": c, "volumeResult": c, "seriesResult": c,
            "labelResult": c, "instantMetricResult": c, "logResult": c, "taskResult": c
        },
        "index": {"totalChunks": 0, "postFilterChunks": 0, "shardsDuration": 0, "usedBloomFilters": false,
                  "totalStreams": 0, "chunkRefsLookupTime": 0, "bloomFilterTime": 0}
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Entry;

    #[test]
    fn metadata_splits_streams_unless_categorized() {
        let mut e2 = Entry::new(2, "b");
        e2.metadata = vec![("trace_id".into(), "t".into())];
        let s = vec![StreamEntries {
            labels: Labels::parse(r#"{app="x"}"#).unwrap(),
            entries: vec![Entry::new(1, "a"), e2],
        }];
        let plain = streams_json(&s, false);
        assert_eq!(plain.as_array().unwrap().len(), 2);
        assert!(plain.as_array().unwrap().iter().any(|s| s["stream"]["trace_id"] == "t" && s["values"][0][1] == "b"));
        let cat = streams_json(&s, true);
        assert_eq!(cat.as_array().unwrap().len(), 1);
        assert_eq!(cat[0]["values"][1][2]["structuredMetadata"]["trace_id"], "t");
        assert_eq!(cat[0]["values"][0][2], json!({}));
        assert_eq!(cat[0]["values"][0][0], "1");
    }
}
