#!/usr/bin/env bash
# LogQL scan benchmarks over ~1 GB of logs: raw bytes per CPU-second of the skald
# process for `|= "x"`, `|~ "(?i)x"`, `| json | level="error"` and
# `sum by (app) (count_over_time({...}[5m]))`.
#   bench/logql.sh [lines] [memory|store]     # defaults: 5000000 (~1 GB of JSON lines), store
# `store` flushes and restarts first so everything is read back from the object store;
# `memory` keeps it in the ingester (chunk_retain_period 1h, no restart).
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-5000000}
MODE=${2:-store}
PORT=${PORT:-3350}
source bench/lib.sh

start() {
    start_skald SKALD_LIMITS_CONFIG__MAX_QUERY_SERIES=100000 SKALD_INGESTER__CHUNK_RETAIN_PERIOD=1h
}

start
START_NS=$(date +%s%N)
"$BIN" loadgen push --url "http://127.0.0.1:$PORT" --streams 100 --batch 1000 --concurrency 4 \
    --requests $((LINES / 1000)) --kind json --pid "$PID" > "$DIR/push.json"
END_NS=$(($(date +%s%N) + 1000000000))
RAW=$(python3 -c "import json;print(json.load(open('$DIR/push.json'))['bytes'])")
if [ "$MODE" = store ]; then
    curl -sf -XPOST "127.0.0.1:$PORT/flush"
    kill "$PID"; wait "$PID" || true
    SKALD_INGESTER__CHUNK_RETAIN_PERIOD=0s start
fi

run() {
    local name=$1 query=$2 end=${3:-$END_NS}
    local c0 c1 t0 t1
    c0=$(cpu); t0=$(date +%s.%N)
    curl -sf -G "127.0.0.1:$PORT/loki/api/v1/query_range" -H 'X-Scope-OrgID: loadgen' \
        --data-urlencode "query=$query" --data-urlencode "start=$START_NS" --data-urlencode "end=$end" \
        --data-urlencode 'limit=100' --data-urlencode 'step=60s' > "$DIR/q.json"
    c1=$(cpu); t1=$(date +%s.%N)
    python3 - "$name" "$RAW" "$c0" "$c1" "$DIR/q.json" "$MODE" "$t0" "$t1" <<'PY'
import json, sys
name, raw, c0, c1, path, mode = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
wall = float(sys.argv[8]) - float(sys.argv[7])
cpu = (c1 - c0) / 100.0
q = json.load(open(path))
ok = q.get("status") == "success"
print(json.dumps({"bench": "logql", "query": name, "from": mode, "raw_bytes": raw, "cpu_seconds": cpu,
                  "gb_per_cpu_second": raw / 1e9 / cpu if cpu > 0 else None, "wall_seconds": wall,
                  "gb_per_wall_second": raw / 1e9 / wall if wall > 0 else None, "status": q.get("status"),
                  "result_type": q.get("data", {}).get("resultType")}))
print(f"{name:<28} {raw/1e9:.2f} GB in {cpu:.2f} CPU-s = {raw/1e9/cpu if cpu else 0:.2f} GB/CPU-s, {wall:.3f} s ({'ok' if ok else 'FAILED'})", file=sys.stderr)
PY
}

run 'contains' '{app="loadgen"} |= "needle-that-never-matches"'
run 'regex-case-insensitive' '{app="loadgen"} |~ "(?i)needle-that-never-matches"'
# no line has this level: every line is parsed (the JSON parser's scan speed)
run 'json-no-match' '{app="loadgen"} | json | level="fatal"'
# 1 line in 7 matches: with limit=100 reading stops once each stream's newest 100
# are found, so this one measures time to answer more than scan speed
run 'json-level-error' '{app="loadgen"} | json | level="error"'
# steps every minute for 10 minutes from the first line: every line falls in some 5m window
run 'sum-count-over-time' 'sum by (app) (count_over_time({app="loadgen"}[5m]))' $((START_NS + 600000000000))
