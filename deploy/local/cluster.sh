#!/usr/bin/env bash
# The local microservices cluster: every Skald role as its own process on
# 127.0.0.1, s3s-fs as the object store, memcached as the chunk cache and
# Debian's nginx as the gateway (the seed deployment's routing table).
#
#   deploy/local/cluster.sh up            build (release) and start everything; prints the gateway URL
#   deploy/local/cluster.sh down          stop everything (SIGTERM, then SIGKILL after 30 s)
#   deploy/local/cluster.sh status        one line per process: pid, ports, /ready
#   deploy/local/cluster.sh kill NAME     SIGKILL one process (e.g. ingester-1)
#   deploy/local/cluster.sh stop NAME     SIGTERM one process and wait for its exit
#   deploy/local/cluster.sh start NAME    start one process again (same ports and data)
#
# Environment: RUN_DIR (default ./.local-cluster: data, logs, pids), PORT_OFFSET
# (added to every port, default 0), LOCAL_BIN (a skald binary; default: build
# target/release/skald), REPLICATION_FACTOR (default 3). Ports with offset 0:
# gateway 8080, HTTP 3101.., gRPC 9101.., gossip 7101.., s3s-fs 9000, memcached
# 11211. Other environment (SKALD_* config overrides) reaches every process.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RUN_DIR=$(mkdir -p "${RUN_DIR:-$ROOT/.local-cluster}" && cd "${RUN_DIR:-$ROOT/.local-cluster}" && pwd)
OFF=${PORT_OFFSET:-0}
GATEWAY_PORT=$((8080 + OFF))
S3_PORT=$((9000 + OFF))
MEMCACHED_PORT=$((11211 + OFF))

# name:target, in start order (ingesters first: the others join through them)
PROCS=(
    ingester-0:ingester ingester-1:ingester ingester-2:ingester
    distributor-0:distributor distributor-1:distributor
    query-scheduler-0:query-scheduler
    querier-0:querier querier-1:querier
    query-frontend-0:query-frontend query-frontend-1:query-frontend
    index-gateway-0:index-gateway compactor-0:compactor ruler-0:ruler
)

index_of() {
    local i=0
    for p in "${PROCS[@]}"; do
        [ "${p%%:*}" = "$1" ] && { echo $i; return; }
        i=$((i + 1))
    done
    echo "unknown process: $1 (one of: ${PROCS[*]%%:*})" >&2
    exit 2
}
http_port() { echo $((3101 + OFF + $(index_of "$1"))); }
grpc_port() { echo $((9101 + OFF + $(index_of "$1"))); }
gossip_port() { echo $((7101 + OFF + $(index_of "$1"))); }
target_of() { local p=${PROCS[$(index_of "$1")]}; echo "${p#*:}"; }
pid_of() { cat "$RUN_DIR/pids/$1.pid" 2>/dev/null || true; }
alive() { local p; p=$(pid_of "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

binary() {
    if [ -n "${LOCAL_BIN:-}" ]; then echo "$LOCAL_BIN"; return; fi
    (cd "$ROOT" && cargo build --release --locked -q)
    echo "${CARGO_TARGET_DIR:-$ROOT/target}/release/skald"
}

# Polls until `curl URL` succeeds or the deadline passes.
wait_http() {
    local url=$1 what=$2 deadline=$((SECONDS + ${3:-60}))
    until curl -fsS -o /dev/null "$url" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then
            echo "timed out waiting for $what ($url); see $RUN_DIR/logs" >&2
            return 1
        fi
        sleep 0.2
    done
}

wait_tcp() {
    local port=$1 what=$2 deadline=$((SECONDS + 30))
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        [ $SECONDS -ge $deadline ] && { echo "timed out waiting for $what on $port" >&2; return 1; }
        sleep 0.1
    done
}

start_one() {
    local name=$1 bin=$2
    if alive "$name"; then echo "$name already running (pid $(pid_of "$name"))"; return; fi
    local seeds
    seeds="127.0.0.1:$(gossip_port ingester-0), 127.0.0.1:$(gossip_port ingester-1), 127.0.0.1:$(gossip_port ingester-2)"
    mkdir -p "$RUN_DIR/data/$name"
    NODE_ID=$name DATA_DIR="$RUN_DIR/data/$name" GOSSIP_PORT=$(gossip_port "$name") SEEDS=$seeds \
        S3_PORT=$S3_PORT MEMCACHED_PORT=$MEMCACHED_PORT \
        SCHEDULER_GRPC=$(grpc_port query-scheduler-0) QUERIER_HTTP=$(http_port querier-0) \
        "$bin" -config.file="$HERE/skald.yaml" -config.expand-env=true -target="$(target_of "$name")" \
        -server.http-listen-port="$(http_port "$name")" -server.grpc-listen-port="$(grpc_port "$name")" \
        >>"$RUN_DIR/logs/$name.log" 2>&1 &
    echo $! >"$RUN_DIR/pids/$name.pid"
}

start_deps() {
    command -v s3s-fs >/dev/null || { echo "s3s-fs not found: cargo install s3s-fs --version 0.14.1 --features binary --locked" >&2; exit 1; }
    command -v memcached >/dev/null || { echo "memcached not found: apt-get install memcached" >&2; exit 1; }
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "nginx not found: apt-get install nginx-light" >&2; exit 1; }
    mkdir -p "$RUN_DIR/s3/skald"
    if ! alive s3s-fs; then
        s3s-fs --host 127.0.0.1 --port "$S3_PORT" --access-key skald --secret-key skald-local-secret \
            "$RUN_DIR/s3" >>"$RUN_DIR/logs/s3s-fs.log" 2>&1 &
        echo $! >"$RUN_DIR/pids/s3s-fs.pid"
    fi
    if ! alive memcached; then
        memcached -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 -m 64 -u "$(id -un)" >>"$RUN_DIR/logs/memcached.log" 2>&1 &
        echo $! >"$RUN_DIR/pids/memcached.pid"
    fi
    wait_tcp "$S3_PORT" s3s-fs
    wait_tcp "$MEMCACHED_PORT" memcached
}

upstreams() {
    local out="" p
    for p in "${PROCS[@]}"; do
        [ "${p#*:}" = "$1" ] && out="$out server 127.0.0.1:$(http_port "${p%%:*}");"
    done
    echo "$out"
}

start_gateway() {
    alive nginx && return
    mkdir -p "$RUN_DIR/nginx"
    # started as root, nginx's workers would run as nobody, who cannot enter a private RUN_DIR
    local user=""
    [ "$(id -u)" = 0 ] && user="user root;"
    sed -e "s|@RUN@|$RUN_DIR|g" -e "s|@USER@|$user|" -e "s|@GATEWAY_PORT@|$GATEWAY_PORT|g" \
        -e "s|@DISTRIBUTORS@|$(upstreams distributor)|" -e "s|@QUERIERS@|$(upstreams querier)|" \
        -e "s|@FRONTENDS@|$(upstreams query-frontend)|" -e "s|@RULERS@|$(upstreams ruler)|" \
        "$HERE/nginx.conf.in" >"$RUN_DIR/nginx.conf"
    local nginx
    nginx=$(command -v nginx || echo /usr/sbin/nginx)
    "$nginx" -p "$RUN_DIR/nginx" -c "$RUN_DIR/nginx.conf" >>"$RUN_DIR/logs/nginx.log" 2>&1 &
    echo $! >"$RUN_DIR/pids/nginx.pid"
    wait_http "http://127.0.0.1:$GATEWAY_PORT/" gateway 30
}

stop_pid() {
    local name=$1 sig=${2:-TERM} p
    p=$(pid_of "$name")
    [ -z "$p" ] && return 0
    kill -"$sig" "$p" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while kill -0 "$p" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then kill -KILL "$p" 2>/dev/null || true; fi
        sleep 0.1
    done
    rm -f "$RUN_DIR/pids/$name.pid"
}

cmd=${1:-}
mkdir -p "$RUN_DIR/logs" "$RUN_DIR/pids"
case "$cmd" in
up)
    bin=$(binary)
    start_deps
    for p in "${PROCS[@]}"; do start_one "${p%%:*}" "$bin"; done
    for p in "${PROCS[@]}"; do
        wait_http "http://127.0.0.1:$(http_port "${p%%:*}")/ready" "${p%%:*}" 120
    done
    for p in "${PROCS[@]}"; do # a port answered by someone else's process is not ours
        alive "${p%%:*}" || { tail -3 "$RUN_DIR/logs/${p%%:*}.log" >&2; echo "${p%%:*} exited" >&2; exit 1; }
    done
    deadline=$((SECONDS + 60))
    until [ "$(curl -s -H 'Accept: application/json' "http://127.0.0.1:$(http_port distributor-0)/ring" \
        | grep -o '"state":"ACTIVE"' | wc -l)" -ge 3 ]; do
        [ $SECONDS -ge $deadline ] && { echo "the ring never showed three ACTIVE ingesters" >&2; exit 1; }
        sleep 0.2
    done
    start_gateway
    echo "Skald cluster up: gateway http://127.0.0.1:$GATEWAY_PORT (logs and data in $RUN_DIR)"
    ;;
down)
    stop_pid nginx
    for ((i = ${#PROCS[@]} - 1; i >= 0; i--)); do
        n=${PROCS[$i]%%:*}
        stop_pid "$n" TERM &
    done
    wait
    stop_pid memcached
    stop_pid s3s-fs
    echo "Skald cluster down"
    ;;
status)
    for p in "${PROCS[@]}"; do
        n=${p%%:*}
        ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(http_port "$n")/ready" 2>/dev/null || true)
        printf '%-20s pid %-8s http %-6s grpc %-6s gossip %-6s ready %s\n' "$n" "$(pid_of "$n")" \
            "$(http_port "$n")" "$(grpc_port "$n")" "$(gossip_port "$n")" "$ready"
    done
    ;;
kill) stop_pid "${2:?process name}" KILL ;;
stop) stop_pid "${2:?process name}" TERM ;;
start)
    start_one "${2:?process name}" "$(binary)"
    wait_http "http://127.0.0.1:$(http_port "$2")/ready" "$2" 120
    ;;
*)
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
