# Sourced by the bench scripts (after they set PORT): builds the release binary,
# makes a scratch directory removed on exit (after skald has exited: it writes a
# last WAL checkpoint), and starts skald with the limits a benchmark must not hit.
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/skald
DIR=$(mktemp -d)
trap 'pkill -f "server.http-listen-port=$PORT" || true; while pgrep -f "server.http-listen-port=$PORT" >/dev/null; do sleep 0.1; done; rm -rf "$DIR"' EXIT

# The limits a benchmark must not hit: start_skald passes them, the cluster scripts export them.
BENCH_LIMITS=(SKALD_LIMITS_CONFIG__INGESTION_RATE_MB=100000 SKALD_LIMITS_CONFIG__INGESTION_BURST_SIZE_MB=100000
    SKALD_LIMITS_CONFIG__MAX_GLOBAL_STREAMS_PER_USER=0 SKALD_LIMITS_CONFIG__PER_STREAM_RATE_LIMIT=0)

# For the scripts that also run the local cluster (deploy/local/cluster.sh, in $RUN_DIR):
# on exit the cluster goes down too, then the single binary as in the trap above.
trap_cluster() {
    trap 'deploy/local/cluster.sh down >/dev/null 2>&1 || true; pkill -f "server.http-listen-port=$PORT" || true
        while pgrep -f "server.http-listen-port=$PORT" >/dev/null; do sleep 0.1; done; rm -rf "$DIR"' EXIT
}

# The cluster's Skald processes (nginx, s3s-fs and memcached left out), one NAME=PID per line.
skald_procs() {
    local f name
    for f in "$RUN_DIR"/pids/*.pid; do
        name=$(basename "$f" .pid)
        case "$name" in s3s-fs | memcached | nginx) ;; *) echo "$name=$(cat "$f")" ;; esac
    done
}

# The same processes' pids, comma-separated.
skald_pids() {
    skald_procs | cut -d= -f2 | paste -sd,
}

# start_skald [VAR=value ...] [-- flag ...]: runs skald on $PORT with data in $DIR/data
# (extra config through SKALD_* variables or flags); sets PID once it is ready.
start_skald() {
    local env=() flags=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do env+=("$1"); shift; done
    [ "${1:-}" = "--" ] && shift
    flags=("$@")
    env "${BENCH_LIMITS[@]}" "${env[@]}" \
        "$BIN" -server.http-listen-port=$PORT -server.grpc-listen-port=$((PORT + 1)) -server.http-listen-address=127.0.0.1 \
        -common.path-prefix="$DIR/data" -log.level=warn "${flags[@]}" 2>>"$DIR/skald.log" &
    PID=$!
    for _ in $(seq 100); do curl -sf "127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.1; done
}

# wait_ready PID: polls $PORT's /ready every 20 ms until it answers 200 (false if PID
# exits first). Bash builtins only (/dev/tcp, read -t): a curl and a sleep per poll
# would take ~6% of a 2-core machine from a WAL replay being timed.
wait_ready() {
    local status nap sock pipe
    pipe=$(trap -p PIPE)
    trap '' PIPE # a reset between connect and write must not kill the script
    exec {nap}<> <(:)
    while kill -0 "$1" 2>/dev/null; do
        status=
        if exec {sock}<>"/dev/tcp/127.0.0.1/$PORT"; then
            if printf 'GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&"$sock"; then
                IFS= read -r -t 5 status <&"$sock" || status=
            fi
            exec {sock}>&-
            [[ $status == *" 200 "* ]] && break
        fi 2>/dev/null
        read -r -t 0.02 -u "$nap" || true
    done
    exec {nap}>&-
    trap - PIPE
    eval "$pipe"
    [[ $status == *" 200 "* ]]
}

# CPU ticks (1/100 s) the skald process has used.
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
