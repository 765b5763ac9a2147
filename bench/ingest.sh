#!/usr/bin/env bash
# Ingest benchmarks of the foundation: lines accepted per CPU-second of the skald
# process (utime+stime from /proc) and RSS per active stream.
#   bench/ingest.sh            # all three scenarios
# Starts a release skald on 127.0.0.1:3320 with default settings for each scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN=target/release/skald
PORT=${PORT:-3320}
DIR=$(mktemp -d)
# stop skald and wait for it to exit (it writes a last WAL checkpoint) before removing its data
trap 'pkill -f "server.http-listen-port=$PORT" || true; while pgrep -f "server.http-listen-port=$PORT" >/dev/null; do sleep 0.1; done; rm -rf "$DIR"' EXIT

run() {
    local name=$1; shift
    pkill -f "server.http-listen-port=$PORT" || true
    rm -rf "$DIR/data"
    SKALD_LIMITS_CONFIG__INGESTION_RATE_MB=100000 SKALD_LIMITS_CONFIG__INGESTION_BURST_SIZE_MB=100000 \
    SKALD_LIMITS_CONFIG__MAX_GLOBAL_STREAMS_PER_USER=0 SKALD_LIMITS_CONFIG__PER_STREAM_RATE_LIMIT=0 \
    "$BIN" -server.http-listen-port=$PORT -server.grpc-listen-port=$((PORT + 1)) -server.http-listen-address=127.0.0.1 \
        -common.path-prefix="$DIR/data" -log.level=warn 2>"$DIR/skald.log" &
    local pid=$!
    for _ in $(seq 100); do curl -sf "127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.1; done
    echo "== $name" >&2
    "$BIN" loadgen push --url "http://127.0.0.1:$PORT" --pid "$pid" "$@" | sed "s/^{/{\"scenario\":\"$name\",/"
    kill "$pid"; wait "$pid" || true
}

run ingest-100-streams --streams 100 --batch 1000 --concurrency 4 --duration 20s
run ingest-10k-streams --streams 10000 --streams-per-request 1000 --batch 1000 --concurrency 4 --duration 20s
run rss-100k-streams --streams 100000 --streams-per-request 1000 --batch 1000 --concurrency 4 --requests 100
