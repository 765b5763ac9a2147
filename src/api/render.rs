//! Loki's JSON response shapes: stream results (plain or categorize-labels) and
//! the `stats` object.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::actors::ingester::{ScanStats, StreamEntries};

/// The request header Grafana sends to get labels split by origin.
pub const ENCODING_FLAGS_HEADER: &str = "X-Loki-Response-Encoding-Flags";
pub const CATEGORIZE_LABELS: &str = "categorize-labels";

pub fn label_map(pairs: &[(String, String)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()
}

/// Renders `resultType: streams` results. Without categorize-labels each
/// result stream is one full result label set (stream labels + structured
/// metadata + extracted labels); with it, `stream` holds the stream labels and
/// each value carries `{"structuredMetadata": {...}, "parsed": {...}}`.
/// Values are ordered by timestamp in the query's direction.
/// Result streams being built, by label string: labels and `(ts, value)` pairs.
type Building = BTreeMap<String, (Map<String, Value>, Vec<(i64, Value)>)>;

pub fn streams_json(streams: &[StreamEntries], categorize: bool, backward: bool) -> Value {
    let mut out: Building = BTreeMap::new();
    for s in streams {
        let labels = if categorize { &s.stream } else { &s.labels };
        let slot = out.entry(labels.to_string()).or_insert_with(|| (label_map(labels.pairs()), Vec::new()));
        let mut cat = Map::new();
        if categorize {
            if !s.structured.is_empty() {
                cat.insert("structuredMetadata".into(), Value::Object(label_map(&s.structured)));
            }
            if !s.parsed.is_empty() {
                cat.insert("parsed".into(), Value::Object(label_map(&s.parsed)));
            }
        }
        for e in &s.entries {
            let ts = Value::String(e.ts.to_string());
            let line = Value::String(e.line_str().to_string());
            let v = if categorize { vec![ts, line, Value::Object(cat.clone())] } else { vec![ts, line] };
            slot.1.push((e.ts, Value::Array(v)));
        }
    }
    Value::Array(
        out.into_values()
            .map(|(labels, mut values)| {
                // stable: same-timestamp entries keep their order
                if backward {
                    values.sort_by_key(|v| std::cmp::Reverse(v.0));
                } else {
                    values.sort_by_key(|v| v.0);
                }
                let values: Vec<Value> = values.into_iter().map(|(_, v)| v).collect();
                json!({"stream": Value::Object(labels), "values": values})
            })
            .collect(),
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
    use crate::model::{Entry, Labels};

    #[test]
    fn groups_split_streams_unless_categorized() {
        let app = Labels::parse(r#"{app="x"}"#).unwrap();
        let mut e2 = Entry::new(2, "b");
        e2.metadata = vec![("trace_id".into(), "t".into())];
        let s = vec![
            StreamEntries::plain(app.clone(), vec![Entry::new(1, "a")]),
            StreamEntries {
                labels: Labels::parse(r#"{app="x", trace_id="t", n="1"}"#).unwrap(),
                stream: app,
                structured: vec![("trace_id".into(), "t".into())],
                parsed: vec![("n".into(), "1".into())],
                entries: vec![e2],
            },
        ];
        let plain = streams_json(&s, false, false);
        assert_eq!(plain.as_array().unwrap().len(), 2);
        assert!(plain.as_array().unwrap().iter().any(|s| s["stream"]["trace_id"] == "t" && s["values"][0][1] == "b"));
        let cat = streams_json(&s, true, false);
        assert_eq!(cat.as_array().unwrap().len(), 1);
        assert_eq!(cat[0]["values"][1][2]["structuredMetadata"]["trace_id"], "t");
        assert_eq!(cat[0]["values"][1][2]["parsed"]["n"], "1");
        assert_eq!(cat[0]["values"][0][2], json!({}));
        assert_eq!(cat[0]["values"][0][0], "1");
        let back = streams_json(&s, true, true);
        assert_eq!(back[0]["values"][0][0], "2");
    }
}
