#!/usr/bin/env bash
# Where the microservices overhead goes, per line: the RF 1 local cluster and a
# single binary take the same load (Promtail's 1 MiB batch, 14 s); `perf record
# --call-graph dwarf` samples every Skald process for 8 s of each run's steady
# state, and bench/overhead_profile.py sorts the samples into categories (WAL
# thread, chunk compression, snappy, protobuf, gRPC, kernel network, scheduler,
# page faults, ...) in µs of CPU per line pushed, cluster against single binary.
#   bench/overhead-profile.sh        # needs perf (Debian: linux-perf) and root or perf_event_paranoid <= 1
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-3350}
source bench/lib.sh
command -v perf >/dev/null || { echo "perf is not installed" >&2; exit 1; }
OFF=${PORT_OFFSET:-760}
export RUN_DIR="$DIR/cluster" PORT_OFFSET=$OFF LOCAL_BIN="$BIN" REPLICATION_FACTOR=1
export "${BENCH_LIMITS[@]}"
trap_cluster
LOAD=(--streams 1000 --streams-per-request 500 --batch 5000 --concurrency 4 --duration 14s)
SECS=8

# profile NAME URL PIDS: the load against URL, perf over PIDS in its middle
profile() {
    "$BIN" loadgen push --url "$2" "${LOAD[@]}" >"$DIR/$1.json" 2>/dev/null &
    local load=$!
    sleep 4 # past the start-up of the load: streams created, buffers warm
    perf record -q -F 499 --call-graph dwarf,16384 -p "$3" -o "$DIR/$1.data" -- sleep $SECS >/dev/null 2>&1
    wait $load
    perf script -i "$DIR/$1.data" -F comm,pid,tid,ip,sym 2>/dev/null >"$DIR/$1.txt"
}

deploy/local/cluster.sh up >&2
skald_procs | tr = ' ' >"$DIR/pids.txt"
profile cluster "http://127.0.0.1:$((8080 + OFF))" "$(skald_pids)"
deploy/local/cluster.sh down >&2
start_skald
echo "single $PID" >>"$DIR/pids.txt"
profile single "http://127.0.0.1:$PORT" "$PID"
python3 bench/overhead_profile.py "$DIR" $SECS 499
