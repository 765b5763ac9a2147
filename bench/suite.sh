#!/usr/bin/env bash
# The standard benchmark suite: every scenario of bench/*.sh at a size that fits
# 15 minutes on a 2-core machine, each against a fresh release skald, with figures
# per CPU-second of the skald process (utime+stime from /proc) and per wall second.
# Prints a table and, last, one JSON line with every figure.
#   bench/suite.sh            # LINES=2500000 (~0.5 GB per storage/scan scenario)
# Scenarios: ingest with 100 and 10k streams, RSS per active stream at 100k streams,
# flush and storage ratio with the scan speed from the store, LogQL scans, WAL size,
# replay and time to ready, live-tail latency.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
LINES=${LINES:-2500000}
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
START=$(date +%s)
step() { echo "=== $*" >&2; "$@" | grep '^{' >>"$OUT"; }

step bench/ingest.sh
ENCODING=snappy step bench/storage.sh "$LINES" logfmt
step bench/logql.sh "$LINES" store
REQUESTS=$((LINES / 1000)) step bench/wal.sh
DURATION=10s step bench/tail.sh

python3 - "$OUT" "$(( $(date +%s) - START ))" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'PY'
import json, sys
rows, records = [], [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def add(name, what, wall=None, cpu=None, unit=""):
    rows.append((name, what, wall, cpu, unit))
for r in records:
    s = r.get("scenario") or "-".join(str(r.get(k)) for k in ("bench", "corpus", "encoding", "query") if r.get(k))
    if "lines_per_server_cpu_sec" in r and not s.startswith("rss"):
        add(s, "lines", r["lines_per_sec"], r["lines_per_server_cpu_sec"], "lines/s")
    if s.startswith("rss"):
        add(s, "RSS per active stream", r.get("server_rss_delta_per_stream"), None, "bytes")
    if r.get("bench") == "storage":
        add(s, "ratio raw/stored", r["ratio"], None, "x")
        add(s, "objects per GB", r["objects_per_gb"], None, "")
        add(s, "|= scan from store", r["scan_bytes"] / 1e9 / max(r["scan_wall_seconds"], 1e-9), r["scan_gb_per_cpu_second"], "GB/s")
    if r.get("bench") == "logql":
        add(s, "scan", r.get("gb_per_wall_second"), r.get("gb_per_cpu_second"), "GB/s")
    if s == "wal-size":
        add(s, "WAL bytes per raw byte", r["wal_per_raw"], None, "")
    if s.startswith("replay"):
        mbs = [p.split("=")[1] for p in r.get("log", "").split() if p.startswith("raw_mb_per_s=")]
        add(s, "start to ready", r["ready_seconds"], None, "s")
        if mbs and float(mbs[0]) > 0:
            add(s, "replay speed", float(mbs[0]), None, "raw MB/s")
    if s.startswith("tail"):
        add(s, "push-to-tail p50 / p99", r.get("p50_ms"), r.get("p99_ms"), "ms")
fmt = lambda v: "" if v is None else (f"{v:,.2f}" if isinstance(v, float) else str(v))
print(f"{'scenario':<28} {'figure':<26} {'per wall s':>14} {'per CPU-s':>14}  unit", file=sys.stderr)
for n, w, a, b, u in rows:
    print(f"{n:<28} {w:<26} {fmt(a):>14} {fmt(b):>14}  {u}", file=sys.stderr)
print(f"suite: {sys.argv[2]} s, commit {sys.argv[3]}", file=sys.stderr)
print(json.dumps({"suite": records, "seconds": int(sys.argv[2]), "commit": sys.argv[3]}))
PY
