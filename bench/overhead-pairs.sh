#!/usr/bin/env bash
# The microservices overhead figure, measured in alternated pairs: the RF 1 local
# cluster (13 processes, pushes through nginx) and one single-binary process are
# both up; PAIRS times, the same load runs against the cluster, then against the
# single binary. Prints each pair's lines per CPU-second (summed over every Skald
# process; nginx, s3s-fs and memcached not counted) and the median ratio, so that
# a slow minute of a noisy machine lands on both sides of one pair.
#   bench/overhead-pairs.sh                 # 6 pairs of 10 s, Promtail's 1 MiB batch
# Env: PAIRS (6), DURATION (10s), BATCH (5000 lines), SPR (500 streams per request),
# RATE (lines/s over all clients; default 0: as fast as each side goes).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-3350}
source bench/lib.sh
PAIRS=${PAIRS:-6}
DURATION=${DURATION:-10s}
OFF=${PORT_OFFSET:-760}
export RUN_DIR="$DIR/cluster" PORT_OFFSET=$OFF LOCAL_BIN="$BIN" REPLICATION_FACTOR=1
export "${BENCH_LIMITS[@]}"
trap_cluster
LOAD=(--streams 1000 --streams-per-request "${SPR:-500}" --batch "${BATCH:-5000}" --concurrency 4 --duration "$DURATION" --rate "${RATE:-0}")

deploy/local/cluster.sh up >&2
pids=$(skald_pids)
start_skald
runs=()
for i in $(seq "$PAIRS"); do
    echo "== pair $i of $PAIRS" >&2
    runs+=("$("$BIN" loadgen push --url "http://127.0.0.1:$((8080 + OFF))" --pid "$pids" "${LOAD[@]}")")
    runs+=("$("$BIN" loadgen push --url "http://127.0.0.1:$PORT" --pid "$PID" "${LOAD[@]}")")
done
python3 - "${runs[@]}" <<'PY'
import json, statistics, sys
runs = [json.loads(r) for r in sys.argv[1:]]
cluster = [r["lines_per_server_cpu_sec"] for r in runs[0::2]]
single = [r["lines_per_server_cpu_sec"] for r in runs[1::2]]
ratios = [s / c for c, s in zip(cluster, single)]
for c, s, r in zip(cluster, single, ratios):
    print(f"cluster {c:9.0f}  single {s:9.0f}  lines per CPU-second, ratio {r:.2f}")
print(json.dumps({"bench": "overhead-pairs", "pairs": len(ratios),
                  "cluster_median": round(statistics.median(cluster)),
                  "single_median": round(statistics.median(single)),
                  "median_ratio": round(statistics.median(ratios), 3)}))
PY
