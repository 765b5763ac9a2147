#!/usr/bin/env bash
# Live tail latency: push-to-client latency through real WebSocket tails
# (`skald loadgen tail`) at 100 and 10,000 lines/s, and with 100 concurrent tails.
#   bench/tail.sh              # all scenarios, 20 s each
# Starts a release skald on 127.0.0.1:3330 for each scenario (stopped by its pid).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/skald
PORT=${PORT:-3330}
DURATION=${DURATION:-20s}
DIR=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$DIR"' EXIT

run() {
    local name=$1; shift
    rm -rf "$DIR/data"
    SKALD_LIMITS_CONFIG__MAX_CONCURRENT_TAIL_REQUESTS=1000 \
    "$BIN" -server.http-listen-port=$PORT -server.grpc-listen-port=$((PORT + 1)) -server.http-listen-address=127.0.0.1 \
        -common.path-prefix="$DIR/data" -log.level=warn 2>"$DIR/skald.log" &
    pid=$!
    for _ in $(seq 100); do curl -sf "127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.1; done
    echo "== $name" >&2
    "$BIN" loadgen tail --url "http://127.0.0.1:$PORT" --duration "$DURATION" "$@" | sed "s/^{/{\"scenario\":\"$name\",/"
    kill "$pid"; wait "$pid" || true
    pid=
}

run tail-100-lps --rate 100 --tails 1
run tail-10k-lps --rate 10000 --tails 1
run tail-100-lps-100-tails --rate 100 --tails 100
run tail-10k-lps-10-tails --rate 10000 --tails 10
