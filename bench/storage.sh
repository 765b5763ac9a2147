#!/usr/bin/env bash
# Storage benchmarks: bytes stored per raw byte, objects per GB, and `|=` scan speed
# over flushed data in raw bytes per CPU-second of the skald process.
#   [ENCODING=lz4] bench/storage.sh [lines] [kind]     # defaults: 5000000 lines (~1 GB), logfmt, lz4
# Pushes with the load generator, flushes, restarts skald (so every byte is read
# back from the object store), then runs a needle query that scans everything.
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-5000000}
KIND=${2:-logfmt}
ENCODING=${ENCODING:-lz4}  # the default chunk_encoding
PORT=${PORT:-3330}
source bench/lib.sh

start() {
    start_skald SKALD_LIMITS_CONFIG__REJECT_OLD_SAMPLES=false SKALD_INGESTER__CHUNK_ENCODING=$ENCODING \
        SKALD_LIMITS_CONFIG__MAX_QUERY_LENGTH=0
}

start
START_NS=$(date +%s%N)
"$BIN" loadgen push --url "http://127.0.0.1:$PORT" --streams 100 --batch 1000 --concurrency 4 \
    --requests $((LINES / 1000)) --kind "$KIND" --pid "$PID" > "$DIR/push.json"
curl -sf -XPOST "127.0.0.1:$PORT/flush"
kill "$PID"; wait "$PID" || true
END_NS=$(date +%s%N)
RAW=$(python3 -c "import json;print(json.load(open('$DIR/push.json'))['bytes'])")
STORED=$(find "$DIR/data/chunks" -type f -path '*/chunks/*' -printf '%s\n' | awk '{s+=$1} END {print s}')
OBJECTS=$(find "$DIR/data/chunks" -type f | wc -l)

start
C0=$(cpu)
T0=$(date +%s.%N)
curl -sf -G "127.0.0.1:$PORT/loki/api/v1/query_range" -H 'X-Scope-OrgID: loadgen' \
    --data-urlencode 'query={app="loadgen"} |= "needle-that-never-matches"' \
    --data-urlencode "start=$START_NS" --data-urlencode "end=$END_NS" --data-urlencode 'limit=10' > "$DIR/q.json"
T1=$(date +%s.%N)
C1=$(cpu)
python3 - "$DIR/q.json" "$RAW" "$STORED" "$OBJECTS" "$C0" "$C1" "$T0" "$T1" "$KIND" "$ENCODING" <<'PY'
import json, sys
q = json.load(open(sys.argv[1]))
raw, stored, objects = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
cpu = (float(sys.argv[6]) - float(sys.argv[5])) / 100.0
wall = float(sys.argv[8]) - float(sys.argv[7])
scanned = q["data"]["stats"]["summary"]["totalBytesProcessed"]
out = {
    "bench": "storage", "corpus": sys.argv[9], "encoding": sys.argv[10],
    "raw_bytes": raw, "stored_bytes": stored, "ratio": raw / stored,
    "objects": objects, "objects_per_gb": objects / (raw / 1e9),
    "scan_bytes": scanned, "scan_cpu_seconds": cpu, "scan_wall_seconds": wall,
    "scan_gb_per_cpu_second": scanned / 1e9 / cpu if cpu > 0 else None,
}
print(f"{out['corpus']}/{out['encoding']}: ratio {out['ratio']:.2f}, {out['objects_per_gb']:.0f} objects/GB, "
      f"scan {scanned/1e9:.2f} GB in {cpu:.2f} CPU-s = {out['scan_gb_per_cpu_second']} GB/CPU-s", file=sys.stderr)
print(json.dumps(out))
PY
