use super::*;
use crate::storage::chunk::columnar;

#[test]
fn head_block_round_trip_and_sort() {
    let mut h = HeadBlock::default();
    let meta = vec![("trace_id".to_string(), "abc".to_string())];
    h.append(30, b"c", &[]);
    h.append(10, b"a", &meta);
    h.append(20, b"b", &[]);
    assert!(!h.sorted);
    assert!(h.contains(10, b"a"));
    assert!(!h.contains(10, b"x"));
    let in_time_order: Vec<i64> = h.iter().map(|e| e.ts).collect();
    assert_eq!(in_time_order, vec![10, 20, 30]);
    let b = h.cut(Encoding::Snappy);
    assert!(h.is_empty());
    let raw = b.decompress(Encoding::Snappy).unwrap();
    assert!(b.columnar, "cut blocks are columnar");
    #[allow(clippy::type_complexity)]
    let got: Vec<(i64, Vec<u8>, Vec<(String, String)>)> =
        b.iter(&raw).map(|e| (e.ts, e.line.to_vec(), e.metadata())).collect();
    assert_eq!(got, vec![(10, b"a".to_vec(), meta), (20, b"b".to_vec(), vec![]), (30, b"c".to_vec(), vec![])]);
    assert_eq!((b.min_ts, b.max_ts, b.count), (10, 30, 3));
}

#[test]
fn out_of_order_entries_are_cut_in_time_order() {
    let mut h = HeadBlock::default();
    let meta = [("k".to_string(), "v".repeat(300))];
    let order = [5i64, 1, 9, 3, 3, 7, 2, 8];
    for (i, ts) in order.iter().enumerate() {
        let m = if i % 2 == 0 { &meta[..] } else { &[] };
        h.append(*ts, format!("line-{ts}-{i}").as_bytes(), m);
    }
    assert!(h.contains(3, b"line-3-4") && h.contains(3, b"line-3-3") && !h.contains(3, b"line-3-9"));
    let b = h.cut(Encoding::Lz4);
    let raw = b.decompress(Encoding::Lz4).unwrap();
    let got: Vec<(i64, String, usize)> =
        b.iter(&raw).map(|e| (e.ts, String::from_utf8(e.line.to_vec()).unwrap(), e.metadata().len())).collect();
    let ts: Vec<i64> = got.iter().map(|g| g.0).collect();
    assert_eq!(ts, vec![1, 2, 3, 3, 5, 7, 8, 9]);
    assert_eq!(got[2].1, "line-3-3", "equal timestamps keep arrival order");
    assert_eq!(got[4], (5, "line-5-0".to_string(), 1));
}

/// What the cut must produce: the row export rewritten by `columnar::from_rows`
/// after ordering (the layout every reader knows).
fn expected_block(h: &HeadBlock) -> Vec<u8> {
    let mut rows: Vec<(i64, usize, Vec<u8>)> = Vec::new();
    let exported = h.rows();
    let mut it = RawIter::new(&exported);
    let mut start = 0;
    let mut arrival = 0;
    while let Some(e) = it.next() {
        let end = exported.len() - it.remaining();
        rows.push((e.ts, arrival, exported[start..end].to_vec()));
        (start, arrival) = (end, arrival + 1);
    }
    rows.sort_by_key(|r| (r.0, r.1));
    let sorted: Vec<u8> = rows.into_iter().flat_map(|r| r.2).collect();
    let mut out = Vec::new();
    columnar::from_rows(&sorted, h.count, &mut out).expect("rows decode");
    out
}

#[test]
fn every_cut_path_writes_the_same_columnar_block() {
    let meta = [("trace_id".to_string(), "t".repeat(20))];
    let mut h = HeadBlock::default();
    for block in 0..4 {
        let in_order = block != 2;
        for i in 0..300i64 {
            let ts = if in_order { 1_000_000 * i + block } else { 1_000_000 * ((i * 7) % 300) };
            let m = if i % 3 == 0 { &meta[..] } else { &[] };
            h.append(ts, format!("block {block} line {i} {}", "x".repeat((i % 17) as usize)).as_bytes(), m);
        }
        let want = expected_block(&h);
        let row_len = h.raw_len();
        let gap_before = h.gap;
        let b = h.cut(Encoding::Lz4);
        assert_eq!(b.decompress(Encoding::Lz4).unwrap(), want, "block {block}");
        assert_eq!(b.raw_len as usize, want.len());
        assert!(row_len > want.len(), "row size counts 8 bytes of timestamp per entry");
        if block == 0 {
            assert_eq!(gap_before, 0, "a stream's first block has no gap (assembled)");
        } else {
            assert!(gap_before > 0, "later blocks reserve one (in place when it fits)");
        }
    }
}

#[test]
fn rows_export_and_restore() {
    let mut h = HeadBlock::default();
    for ts in [5i64, 3, 9, 9, 1] {
        h.append(ts, format!("l{ts}").as_bytes(), &[("k".into(), ts.to_string())]);
    }
    let rows = h.rows();
    let back = HeadBlock::from_rows(&rows).unwrap();
    assert_eq!(back.rows(), rows, "arrival order survives");
    let (a, b): (Vec<_>, Vec<_>) =
        (h.iter().map(|e| e.to_entry()).collect(), back.iter().map(|e| e.to_entry()).collect());
    assert_eq!(a, b);
    assert_eq!((back.count, back.min_ts, back.max_ts, back.sorted, back.raw_len()), (5, 1, 9, false, h.raw_len()));
    assert!(HeadBlock::from_rows(&rows[..rows.len() - 1]).is_err());
}
