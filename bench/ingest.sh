#!/usr/bin/env bash
# Ingest benchmarks of the foundation: lines accepted per CPU-second of the skald
# process (utime+stime from /proc) and RSS per active stream.
#   bench/ingest.sh            # all three scenarios
# Starts a release skald on 127.0.0.1:3320 with default settings for each scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-3320}
source bench/lib.sh

run() {
    local name=$1; shift
    rm -rf "$DIR/data"
    start_skald
    echo "== $name" >&2
    "$BIN" loadgen push --url "http://127.0.0.1:$PORT" --pid "$PID" "$@" | sed "s/^{/{\"scenario\":\"$name\",/"
    kill "$PID"; wait "$PID" || true
}

run ingest-100-streams --streams 100 --batch 1000 --concurrency 4 --duration 20s
run ingest-10k-streams --streams 10000 --streams-per-request 1000 --batch 1000 --concurrency 4 --duration 20s
run rss-100k-streams --streams 100000 --streams-per-request 1000 --batch 1000 --concurrency 4 --requests 100
