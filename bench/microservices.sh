#!/usr/bin/env bash
# Microservices overhead: lines ingested per CPU-second summed over every Skald
# process of the local cluster (deploy/local/cluster.sh: 13 processes, pushes
# through the nginx gateway) against one single-binary process, same load.
# Also query latency through the query-frontend against a querier directly (one
# stream's lines and counts; a count over every stream), and
# live-tail push-to-client latency through the gateway (RF=3).
#   bench/microservices.sh            # RF=1 and RF=3 cluster runs, single binary
# Env: DURATION (default 20s). nginx, s3s-fs and memcached CPU are reported apart.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-3340}
source bench/lib.sh
DURATION=${DURATION:-20s}
OFF=${PORT_OFFSET:-740}
export RUN_DIR="$DIR/cluster" PORT_OFFSET=$OFF LOCAL_BIN="$BIN"
export "${BENCH_LIMITS[@]}" SKALD_LIMITS_CONFIG__MAX_CONCURRENT_TAIL_REQUESTS=1000
trap_cluster
LOAD=(--streams 1000 --streams-per-request 100 --batch 1000 --concurrency 4 --duration "$DURATION")
# Promtail's default batch (batchsize 1 MiB: ~5,000 of these ~200-byte lines), sent after LOAD on RF 1 and single
LOAD_1MIB=(--streams 1000 --streams-per-request 500 --batch 5000 --concurrency 4 --duration "$DURATION")

other_cpu() { # nginx's workers are children of the master whose pid is recorded
    local t=0 p
    for p in $(cat "$RUN_DIR/pids/nginx.pid" "$RUN_DIR/pids/s3s-fs.pid" "$RUN_DIR/pids/memcached.pid") \
        $(pgrep -P "$(cat "$RUN_DIR/pids/nginx.pid")"); do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    echo "$t"
}

cluster_run() {
    local rf=$1
    rm -rf "$RUN_DIR"
    REPLICATION_FACTOR=$rf deploy/local/cluster.sh up >&2
    local o0 out
    o0=$(other_cpu)
    echo "== cluster RF=$rf (13 processes, through nginx)" >&2
    out=$("$BIN" loadgen push --url "http://127.0.0.1:$((8080 + OFF))" --pid "$(skald_pids)" "${LOAD[@]}")
    echo "$out" | sed "s/^{/{\"scenario\":\"cluster-rf$rf\",\"gateway_and_deps_cpu_seconds\":$(($(other_cpu) - o0))e-2,/"
    if [ "$rf" = 1 ]; then
        echo "== cluster RF=1, 1 MiB pushes" >&2
        "$BIN" loadgen push --url "http://127.0.0.1:$((8080 + OFF))" --pid "$(skald_pids)" "${LOAD_1MIB[@]}" \
            | sed 's/^{/{"scenario":"cluster-rf1-1mib",/'
    fi
    # one stream's lines and counts (1h split into 1h pieces: the frontend's queue and merge, not the scan, dominate)
    local q1='{app="loadgen", stream="s7"}' q2='sum(count_over_time({app="loadgen", stream="s7"}[1m]))' where
    # and a dashboard's metric query over every stream (millions of lines: one sample per line from the ingesters)
    local q3='sum(count_over_time({app="loadgen"}[1m]))'
    for where in "query-frontend:$((8080 + OFF))" "querier-direct:$((3101 + OFF + 6))"; do
        "$BIN" loadgen query --url "http://127.0.0.1:${where#*:}" --query "$q1" --query "$q2" --requests 200 2>/dev/null \
            | sed "s/^{/{\"scenario\":\"${where%%:*}-rf$rf\",/" || true
        "$BIN" loadgen query --url "http://127.0.0.1:${where#*:}" --query "$q3" --requests 10 --concurrency 1 2>/dev/null \
            | sed "s/^{/{\"scenario\":\"${where%%:*}-all-streams-rf$rf\",/" || true
    done
    if [ "$rf" = 3 ]; then
        local t
        for t in "tail-100-lps --rate 100 --tails 1" "tail-10k-lps --rate 10000 --tails 1" "tail-100-tails --rate 100 --tails 100"; do
            set -- $t
            local name=$1; shift
            echo "== cluster $name (through nginx, RF=3)" >&2
            "$BIN" loadgen tail --url "http://127.0.0.1:$((8080 + OFF))" \
                --duration 10s "$@" | sed "s/^{/{\"scenario\":\"cluster-$name\",/"
        done
    fi
    deploy/local/cluster.sh down >&2
}

cluster_run 1
cluster_run 3
rm -rf "$DIR/data"
start_skald
echo "== single binary" >&2
"$BIN" loadgen push --url "http://127.0.0.1:$PORT" --pid "$PID" "${LOAD[@]}" | sed 's/^{/{"scenario":"single-binary",/'
echo "== single binary, 1 MiB pushes" >&2
"$BIN" loadgen push --url "http://127.0.0.1:$PORT" --pid "$PID" "${LOAD_1MIB[@]}" \
    | sed 's/^{/{"scenario":"single-binary-1mib",/'
"$BIN" loadgen query --url "http://127.0.0.1:$PORT" --query 'sum(count_over_time({app="loadgen"}[1m]))' \
    --requests 10 --concurrency 1 2>/dev/null | sed 's/^{/{"scenario":"single-binary-all-streams",/'
