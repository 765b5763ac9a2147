#!/usr/bin/env bash
# Microservices overhead: lines ingested per CPU-second summed over every Skald
# process of the local cluster (deploy/local/cluster.sh: 13 processes, pushes
# through the nginx gateway) against one single-binary process, same load.
# Also query latency through the query-frontend against a querier directly.
#   bench/microservices.sh            # RF=1 and RF=3 cluster runs, single binary
# Env: DURATION (default 20s). nginx, s3s-fs and memcached CPU are reported apart.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-3340}
source bench/lib.sh
DURATION=${DURATION:-20s}
OFF=${PORT_OFFSET:-740}
export RUN_DIR="$DIR/cluster" PORT_OFFSET=$OFF LOCAL_BIN="$BIN"
export SKALD_LIMITS_CONFIG__INGESTION_RATE_MB=100000 SKALD_LIMITS_CONFIG__INGESTION_BURST_SIZE_MB=100000 \
    SKALD_LIMITS_CONFIG__MAX_GLOBAL_STREAMS_PER_USER=0 SKALD_LIMITS_CONFIG__PER_STREAM_RATE_LIMIT=0
trap 'deploy/local/cluster.sh down >/dev/null 2>&1 || true; pkill -f "server.http-listen-port=$PORT" || true; rm -rf "$DIR"' EXIT
LOAD=(--streams 1000 --streams-per-request 100 --batch 1000 --concurrency 4 --duration "$DURATION")

skald_pids() {
    local out=()
    for f in "$RUN_DIR"/pids/*.pid; do
        case "$(basename "$f" .pid)" in s3s-fs | memcached | nginx) ;; *) out+=("$(cat "$f")") ;; esac
    done
    (IFS=,; echo "${out[*]}")
}
other_cpu() {
    local t=0 n
    for n in nginx s3s-fs memcached; do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$(cat "$RUN_DIR/pids/$n.pid")/stat")))
    done
    echo "$t"
}

cluster_run() {
    local rf=$1
    rm -rf "$RUN_DIR"
    REPLICATION_FACTOR=$rf deploy/local/cluster.sh up >&2
    local o0
    o0=$(other_cpu)
    echo "== cluster RF=$rf (13 processes, through nginx)" >&2
    "$BIN" loadgen push --url "http://127.0.0.1:$((8080 + OFF))" --pid "$(skald_pids)" "${LOAD[@]}" \
        | sed "s/^{/{\"scenario\":\"cluster-rf$rf\",\"gateway_and_deps_cpu_seconds\":$(( ($(other_cpu) - o0) ))e-2,/"
    "$BIN" loadgen query --url "http://127.0.0.1:$((8080 + OFF))" --query 'sum(count_over_time({app="loadgen"}[1m]))' \
        --requests 50 2>/dev/null | sed "s/^{/{\"scenario\":\"query-frontend-rf$rf\",/" || true
    "$BIN" loadgen query --url "http://127.0.0.1:$((3101 + OFF + 6))" --query 'sum(count_over_time({app="loadgen"}[1m]))' \
        --requests 50 2>/dev/null | sed "s/^{/{\"scenario\":\"querier-direct-rf$rf\",/" || true
    deploy/local/cluster.sh down >&2
}

cluster_run 1
cluster_run 3
rm -rf "$DIR/data"
start_skald
echo "== single binary" >&2
"$BIN" loadgen push --url "http://127.0.0.1:$PORT" --pid "$PID" "${LOAD[@]}" | sed 's/^{/{"scenario":"single-binary",/'
