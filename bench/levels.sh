#!/usr/bin/env bash
# What `limits_config.discover_log_levels` costs at ingest: lines accepted per
# CPU-second of the skald process with level discovery off and on, alternated.
#   bench/levels.sh            # 3 pairs of logfmt lines; PAIRS=5 for more
#   KIND=plain bench/levels.sh # the load generator's other line shapes: nginx, json, apache, plain
# Starts a release skald on 127.0.0.1:3350 for each run.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-3350}
PAIRS=${PAIRS:-3}
KIND=${KIND:-logfmt}
source bench/lib.sh

run() { # $1: true | false
    rm -rf "$DIR/data"
    start_skald SKALD_LIMITS_CONFIG__DISCOVER_LOG_LEVELS="$1"
    "$BIN" loadgen push --url "http://127.0.0.1:$PORT" --pid "$PID" --streams 100 --batch 1000 --concurrency 4 \
        --requests 2000 --kind "$KIND" | sed "s/^{/{\"scenario\":\"discover-log-levels-$KIND-$1\",/"
    kill "$PID"; wait "$PID" || true
}

for _ in $(seq "$PAIRS"); do
    run false
    run true
done
