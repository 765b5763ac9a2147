#!/usr/bin/env bash
# CPU and context switches per push, per process and per thread: the RF 1 local
# cluster (pushes through nginx) and a single binary take the same load one after
# the other; /proc is read for every Skald process and thread before and after,
# and bench/per_push.py prints what each process and its busiest threads spent per
# push. Small pushes at a fixed rate show the fixed cost of a push (each one split
# over three ingesters); Promtail's 1 MiB batch shows what is left of it at scale.
#   bench/per-push.sh                                   # 30 lines over 30 streams, 100 pushes/s
#   STREAMS=1000 SPR=500 BATCH=5000 RATE=0 CONC=4 bench/per-push.sh   # 1 MiB pushes, flat out
# Env: STREAMS (30), SPR (streams per request, 30), BATCH (lines per request, 30),
# RATE (lines/s, 3000; 0: as fast as it goes), CONC (clients, 2), DURATION (10s).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-3350}
source bench/lib.sh
OFF=${PORT_OFFSET:-760}
export RUN_DIR="$DIR/cluster" PORT_OFFSET=$OFF LOCAL_BIN="$BIN" REPLICATION_FACTOR=1
export "${BENCH_LIMITS[@]}"
trap_cluster
LOAD=(--streams "${STREAMS:-30}" --streams-per-request "${SPR:-30}" --batch "${BATCH:-30}"
    --concurrency "${CONC:-2}" --duration "${DURATION:-10s}" --rate "${RATE:-3000}")

# measure URL NAME=PID...: the load against URL, /proc before and after, the report
measure() {
    local url=$1 out
    shift
    python3 bench/per_push.py snapshot "$@" >"$DIR/before"
    out=$("$BIN" loadgen push --url "$url" "${LOAD[@]}")
    python3 bench/per_push.py snapshot "$@" >"$DIR/after"
    python3 bench/per_push.py report "$DIR/before" "$DIR/after" "$out"
}

deploy/local/cluster.sh up >&2
mapfile -t procs < <(skald_procs)
start_skald
echo "== cluster, replication factor 1 (through the gateway)"
measure "http://127.0.0.1:$((8080 + OFF))" "${procs[@]}"
echo "== single binary"
measure "http://127.0.0.1:$PORT" "single=$PID"
