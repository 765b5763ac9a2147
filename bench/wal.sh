#!/usr/bin/env bash
# WAL benchmarks (issue 4): ingest cost with the WAL on and off, WAL bytes per raw
# byte, replay speed and time to ready after a SIGKILL with ~1 GB (raw) unflushed,
# and time to ready after a graceful stop (from the shutdown checkpoint).
#   bench/wal.sh              # REQUESTS=5000 x 1000 lines x 200 B = 1 GB raw
# Starts a release skald on 127.0.0.1:3330; nothing is flushed during the run
# (flush_check_period 1h), so everything pushed stays unflushed in memory and WAL.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-3330}
REQUESTS=${REQUESTS:-5000}
source bench/lib.sh

config() { # $1: wal enabled
    cat >"$DIR/config.yaml" <<YAML
limits_config:
  ingestion_rate_mb: 100000
  ingestion_burst_size_mb: 100000
  per_stream_rate_limit: 100GB
  per_stream_rate_limit_burst: 100GB
ingester:
  flush_check_period: 1h
  chunk_idle_period: 1h
  max_chunk_age: 2h
  wal:
    enabled: $1
YAML
}

start() {
    local t0; t0=$(date +%s.%N)
    "$BIN" -config.file="$DIR/config.yaml" -server.http-listen-port=$PORT -server.grpc-listen-port=$((PORT + 1)) \
        -server.http-listen-address=127.0.0.1 -common.path-prefix="$DIR/data" -log.level=info 2>>"$DIR/skald.log" &
    PID=$!
    wait_ready "$PID" || { echo "skald exited before it was ready:" >&2; tail -n 50 "$DIR/skald.log" >&2; exit 1; }
    READY=$(echo "$(date +%s.%N) - $t0" | bc | awk '{printf "%.3f", $1}')
}

push() {
    "$BIN" loadgen push --url "http://127.0.0.1:$PORT" --pid "$PID" --streams 100 --batch 1000 --concurrency 4 \
        --requests "$REQUESTS" | sed "s/^{/{\"scenario\":\"$1\",/"
}

rss_mb() { echo $(( $(awk '/VmRSS/ {print $2}' /proc/"$PID"/status) / 1024 )); }

echo "== ingest, WAL off" >&2
config false; rm -rf "$DIR/data"; start
push wal-off
kill "$PID"; wait "$PID" || true

echo "== ingest, WAL on" >&2
config true; rm -rf "$DIR/data"; : >"$DIR/skald.log"; start
push wal-on
WAL_BYTES=$(du -sb "$DIR/data/wal" | cut -f1)
RAW=$(curl -s "127.0.0.1:$PORT/metrics" | awk '/^loki_distributor_bytes_received_total/ {s += $2} END {printf "%d", s}')
RSS_BEFORE=$(rss_mb)
echo "{\"scenario\":\"wal-size\",\"wal_bytes\":$WAL_BYTES,\"raw_bytes\":$RAW,\"wal_per_raw\":$(echo "scale=3; $WAL_BYTES / $RAW" | bc | awk '{printf "%.3f", $1}'),\"rss_mb\":$RSS_BEFORE}"

echo "== SIGKILL, replay from segments" >&2
kill -9 "$PID"; wait "$PID" || true
start
echo "{\"scenario\":\"replay-after-sigkill\",\"ready_seconds\":$READY,\"rss_mb\":$(rss_mb),\"log\":\"$(grep 'WAL replayed' "$DIR/skald.log" | tail -1 | sed 's/.*WAL replayed //; s/"/\\"/g')\"}"

echo "== SIGTERM (checkpoint), replay from the checkpoint" >&2
t0=$(date +%s.%N); kill "$PID"; wait "$PID" || true; STOP=$(echo "$(date +%s.%N) - $t0" | bc | awk '{printf "%.3f", $1}')
CKPT=$(du -sb "$DIR/data/wal" | cut -f1)
start
echo "{\"scenario\":\"replay-after-sigterm\",\"stop_seconds\":$STOP,\"wal_bytes\":$CKPT,\"ready_seconds\":$READY,\"rss_mb\":$(rss_mb),\"log\":\"$(grep 'WAL replayed' "$DIR/skald.log" | tail -1 | sed 's/.*WAL replayed //; s/"/\\"/g')\"}"
kill "$PID"; wait "$PID" || true
