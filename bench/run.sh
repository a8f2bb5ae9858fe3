#!/usr/bin/env bash
# Closedloop benchmark on this machine. See bench/README.md.
#
# Phases (each on a fresh server process, loopback only, random free port):
#   1. SQLite, fresh database:    GET /healthz ceiling, POST /api/v1/tickets (-c64)
#   2. PostgreSQL, fresh database (createdb closedloop_bench_$$, dropped afterwards): same
#   3. SQLite, `closedloop seed --tickets $BENCH_TICKETS`: list latency for several filter mixes (-c4)
#   4. PostgreSQL seeded (only with BENCH_PG_SEED=1): same as 3
# Server RSS (VmRSS, VmHWM) is read from /proc/PID/status after every phase.
#
# Progress goes to stderr; the Markdown summary goes to stdout and bench/results/latest.md.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
cd "$REPO_ROOT"

# --- knobs -----------------------------------------------------------------------------------
BENCH_TICKETS="${BENCH_TICKETS:-1000000}"
BENCH_PG_SEED="${BENCH_PG_SEED:-0}"
BENCH_SKIP_PG="${BENCH_SKIP_PG:-0}"
BENCH_SKIP_SEED="${BENCH_SKIP_SEED:-0}"
BENCH_SKIP_BUILD="${BENCH_SKIP_BUILD:-0}"   # or BENCH_BIN=/path/to/closedloop
BENCH_THREADS="${BENCH_THREADS:-2}"
BENCH_CONNS="${BENCH_CONNS:-64}"
BENCH_DURATION="${BENCH_DURATION:-20s}"
BENCH_HEALTH_DURATION="${BENCH_HEALTH_DURATION:-10s}"
BENCH_LIST_CONNS="${BENCH_LIST_CONNS:-4}"
BENCH_LIST_DURATION="${BENCH_LIST_DURATION:-15s}"
BENCH_LIST_QUERIES="${BENCH_LIST_QUERIES:-limit=50 status=received&limit=50 department=tech_support&priority=P1&limit=50 category=payment&limit=50}"
BENCH_PG_HOST="${BENCH_PG_HOST:-127.0.0.1}"
BENCH_PG_PORT="${BENCH_PG_PORT:-5432}"
BENCH_PG_USER="${BENCH_PG_USER:-postgres}"
BENCH_SEED_TIMEOUT="${BENCH_SEED_TIMEOUT:-3600}"
BENCH_START_TIMEOUT="${BENCH_START_TIMEOUT:-120}"
BENCH_KEEP="${BENCH_KEEP:-0}"
BENCH_WORKDIR_PARENT="${BENCH_WORKDIR_PARENT:-${TMPDIR:-/tmp}}"
ADMIN_EMAIL="admin@closedloop.local"

case "$BENCH_PG_HOST" in
    127.0.0.1 | localhost | ::1) ;;
    *) echo "BENCH_PG_HOST must be a loopback address (got $BENCH_PG_HOST)" >&2; exit 2 ;;
esac

# Runs must not pick up a developer's configuration: clear every CLOSEDLOOP_* variable.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^CLOSEDLOOP_' || true)
export BENCH_WRK_DIR="$BENCH_DIR/wrk"
export DEBIAN_FRONTEND=noninteractive

RESULTS_DIR="$BENCH_DIR/results"
LOG_DIR="$RESULTS_DIR/logs"
mkdir -p "$RESULTS_DIR"
rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"

BIN="${BENCH_BIN:-$REPO_ROOT/target/release/closedloop}"
WORK=""
SERVER_PID=""
SERVER_LOG=""
PORT=""
BASE=""
TOKEN=""
CREATED_DBS=()
ADMIN_PASSWORD="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

THROUGHPUT_ROWS=()
LIST_ROWS=()
RSS_ROWS=()
SEED_ROWS=()
NOTES=()

# --- helpers ---------------------------------------------------------------------------------
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

pg_url() { echo "postgres://${BENCH_PG_USER}@${BENCH_PG_HOST}:${BENCH_PG_PORT}/$1"; }
pg_args() { echo "-h $BENCH_PG_HOST -p $BENCH_PG_PORT -U $BENCH_PG_USER"; }

create_pg_db() {
    local name=$1
    # shellcheck disable=SC2046
    createdb $(pg_args) "$name" || die "createdb $name failed"
    CREATED_DBS+=("$name")
    log "created PostgreSQL database $name"
}

drop_pg_db() {
    local name=$1 i
    # shellcheck disable=SC2046
    dropdb $(pg_args) --if-exists --force "$name" >&2 || log "WARNING: dropdb $name failed"
    for i in "${!CREATED_DBS[@]}"; do
        [[ "${CREATED_DBS[$i]}" == "$name" ]] && unset 'CREATED_DBS[i]'
    done
    log "dropped PostgreSQL database $name"
}


# Append an RSS row for the running server.
record_rss() {
    local phase=$1 rss hwm
    if [[ -z "$SERVER_PID" || ! -r "/proc/$SERVER_PID/status" ]]; then
        RSS_ROWS+=("| $phase | n/a | n/a |")
        return 0
    fi
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status")
    hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status")
    RSS_ROWS+=("| $phase | $(mib "$rss") | $(mib "$hwm") |")
    log "RSS after '$phase': VmRSS=$(mib "$rss") MiB VmHWM=$(mib "$hwm") MiB"
}

# start_server LABEL DIR [DATABASE_URL]: serve from DIR (data under DIR/data) on a free port.
start_server() {
    local label=$1 dir=$2 url=${3:-}
    local args=()
    mkdir -p "$dir"
    PORT=$(free_port)
    BASE="http://127.0.0.1:$PORT"
    args=(serve --listen "127.0.0.1:$PORT")
    [[ -n "$url" ]] && args+=(--database-url "$url")
    SERVER_LOG="$LOG_DIR/server-$label.log"
    log "starting server ($label) on $BASE in $dir"
    (cd "$dir" && CLOSEDLOOP_ADMIN_PASSWORD="$ADMIN_PASSWORD" exec "$BIN" "${args[@]}") \
        >>"$SERVER_LOG" 2>&1 </dev/null &
    SERVER_PID=$!
    local tries=$(( BENCH_START_TIMEOUT * 5 )) _
    for _ in $(seq 1 "$tries"); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            tail -n 40 "$SERVER_LOG" >&2 || true
            SERVER_PID=""
            die "server ($label) exited during start-up; log: $SERVER_LOG"
        fi
        if curl -fsS --max-time 2 "$BASE/healthz" >/dev/null 2>&1; then
            log "server ($label) ready, pid $SERVER_PID"
            return 0
        fi
        sleep 0.2
    done
    tail -n 40 "$SERVER_LOG" >&2 || true
    die "server ($label) not healthy after ${BENCH_START_TIMEOUT}s; log: $SERVER_LOG"
}

stop_server() {
    [[ -n "$SERVER_PID" ]] || return 0
    local _
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            log "server $SERVER_PID did not stop in 10s; killing"
            kill -KILL "$SERVER_PID" 2>/dev/null || true
        fi
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    log "server $SERVER_PID stopped"
    SERVER_PID=""
}

# closedloop CLI in the server's working dir (and database).
cli() {
    local dir=$1 url=$2
    shift 2
    if [[ -n "$url" ]]; then
        (cd "$dir" && "$BIN" "$@" --database-url "$url")
    else
        (cd "$dir" && "$BIN" "$@")
    fi
}

# make_token DIR [URL]: bearer token for the admin (last line of `token create` stdout).
make_token() {
    local dir=$1 url=${2:-} out
    out=$(cli "$dir" "$url" token create --email "$ADMIN_EMAIL" 2>>"$LOG_DIR/cli.log") \
        || die "closedloop token create failed; see $LOG_DIR/cli.log"
    TOKEN=$(printf '%s\n' "$out" | tail -n1 | tr -d '[:space:]')
    [[ -n "$TOKEN" ]] || die "closedloop token create printed no token"
    export CLOSEDLOOP_TOKEN="$TOKEN"
}

# http_status METHOD PATH [BODY]: prints the status code; the body goes to $LOG_DIR/last-response.
http_status() {
    local method=$1 path=$2 body=${3:-}
    local args=(-sS -o "$LOG_DIR/last-response" -w '%{http_code}' --max-time 30
        -X "$method" -H "Authorization: Bearer $TOKEN" -H 'Accept: application/json')
    if [[ -n "$body" ]]; then args+=(-H 'Content-Type: application/json' --data-binary "$body"); fi
    local code
    code=$(curl "${args[@]}" "$BASE$path" 2>>"$LOG_DIR/curl.log") || true
    echo "${code:-000}"
}

# Long-running children (wrk, seed) run in the background and are waited for, so that an
# interrupt is handled at once and cleanup() can stop them.
CHILD_PID=""
wait_child() {
    local rc=0
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=""
    return "$rc"
}

# run_wrk NAME SCRIPT CONNS DURATION URL: runs wrk; sets RESULT_LINE to its BENCH_RESULT line.
RESULT_LINE=""
run_wrk() {
    local name=$1 script=$2 conns=$3 dur=$4 url=$5 out limit
    out="$LOG_DIR/wrk-$name.txt"
    limit=$(( $(duration_secs "$dur") + 60 ))
    log "wrk -t$BENCH_THREADS -c$conns -d$dur $(basename "$script") $url"
    timeout --kill-after=10s "$limit" \
        wrk -t "$BENCH_THREADS" -c "$conns" -d "$dur" --timeout 10s --latency -s "$script" "$url" \
        >"$out" 2>&1 </dev/null &
    CHILD_PID=$!
    wait_child || { cat "$out" >&2; die "wrk failed ($name)"; }
    RESULT_LINE=$(grep '^BENCH_RESULT ' "$out" | tail -n1 || true)
    [[ -n "$RESULT_LINE" ]] || { cat "$out" >&2; die "no BENCH_RESULT line from wrk ($name)"; }
    log "$RESULT_LINE"
}

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
errors_of() {
    local l=$1
    echo $(( $(field "$l" err_connect) + $(field "$l" err_read) + $(field "$l" err_write) + $(field "$l" err_timeout) ))
}

throughput_row() { # STORE ENDPOINT CONNS DURATION LINE
    local l=$5
    THROUGHPUT_ROWS+=("| $1 | \`$2\` | $3 | $4 | $(field "$l" requests) | $(field "$l" rps) | $(field "$l" p50_ms) | $(field "$l" p99_ms) | $(field "$l" http_errors) | $(errors_of "$l") |")
}

# --- cleanup ---------------------------------------------------------------------------------
cleanup() {
    local rc=$?
    set +e
    if [[ -n "$CHILD_PID" ]] && kill -0 "$CHILD_PID" 2>/dev/null; then
        kill -TERM "$CHILD_PID" 2>/dev/null
        wait "$CHILD_PID" 2>/dev/null
    fi
    stop_server
    local db
    for db in "${CREATED_DBS[@]+"${CREATED_DBS[@]}"}"; do
        [[ -n "$db" ]] && drop_pg_db "$db"
    done
    if [[ -n "$WORK" && -d "$WORK" ]]; then
        if [[ "$BENCH_KEEP" == "1" ]]; then
            log "keeping work dir $WORK (BENCH_KEEP=1)"
        else
            rm -rf "$WORK"
        fi
    fi
    [[ $rc -ne 0 ]] && log "benchmark FAILED (exit $rc); logs in $LOG_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- preparation -----------------------------------------------------------------------------
section "preparation"
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
if [[ "$BENCH_SKIP_PG" != "1" ]]; then
    command -v createdb >/dev/null || need+=(postgresql-client)
fi
if [[ ${#need[@]} -gt 0 ]]; then
    log "installing: ${need[*]}"
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

if [[ "$BENCH_SKIP_BUILD" == "1" || -n "${BENCH_BIN:-}" ]]; then
    log "not building: using existing $BIN"
else
    log "cargo build --release -p closedloop --locked"
    cargo build --release -p closedloop --locked >&2
fi
[[ -x "$BIN" ]] || die "binary not found: $BIN"

if [[ "$BENCH_SKIP_PG" != "1" ]]; then
    pg_isready -q -h "$BENCH_PG_HOST" -p "$BENCH_PG_PORT" -t 5 \
        || die "PostgreSQL not reachable on $BENCH_PG_HOST:$BENCH_PG_PORT (start it, or set BENCH_SKIP_PG=1)"
fi

WORK=$(mktemp -d "$BENCH_WORKDIR_PARENT/closedloop-bench.XXXXXX")
log "work dir: $WORK"
free_kb=$(df -Pk "$WORK" | awk 'NR == 2 { print $4 }')
if [[ "$BENCH_SKIP_SEED" != "1" && "$free_kb" -lt $(( 6 * 1024 * 1024 )) ]]; then
    log "WARNING: only $(( free_kb / 1024 )) MiB free under $WORK; seeding $BENCH_TICKETS tickets may not fit"
fi

# --- phases 1 and 2: fresh database, /healthz and ticket creation ------------------------------
# bench_fresh LABEL STORE_NAME [DATABASE_URL]
bench_fresh() {
    local label=$1 store=$2 url=${3:-} dir status
    dir="$WORK/$label"
    section "$store: fresh database"
    start_server "$label" "$dir" "$url"
    make_token "$dir" "$url"
    record_rss "$store: started, empty"

    status=$(http_status POST /api/v1/tickets '{"channel":"web","description":"bench smoke test 基准测试"}')
    [[ "$status" == "201" ]] \
        || die "POST /api/v1/tickets answered $status (expected 201): $(head -c 500 "$LOG_DIR/last-response")"

    run_wrk "$label-healthz" "$BENCH_WRK_DIR/healthz.lua" "$BENCH_CONNS" "$BENCH_HEALTH_DURATION" "$BASE/healthz"
    throughput_row "$store" "GET /healthz" "$BENCH_CONNS" "$BENCH_HEALTH_DURATION" "$RESULT_LINE"
    record_rss "$store: after GET /healthz"

    run_wrk "$label-create" "$BENCH_WRK_DIR/create_ticket.lua" "$BENCH_CONNS" "$BENCH_DURATION" "$BASE/api/v1/tickets"
    throughput_row "$store" "POST /api/v1/tickets" "$BENCH_CONNS" "$BENCH_DURATION" "$RESULT_LINE"
    record_rss "$store: after POST /api/v1/tickets"
    stop_server
}

# --- phases 3 and 4: seeded database, list latency --------------------------------------------
# bench_seeded LABEL STORE_NAME [DATABASE_URL]
bench_seeded() {
    local label=$1 store=$2 url=${3:-} dir line status q t0 t1 secs size rate
    dir="$WORK/$label"
    section "$store: seeded with $BENCH_TICKETS tickets"
    # First start creates the schema, departments, routing matrix and admin; then stop, seed, restart.
    start_server "$label-init" "$dir" "$url"
    make_token "$dir" "$url"
    stop_server

    log "closedloop seed --tickets $BENCH_TICKETS (timeout ${BENCH_SEED_TIMEOUT}s)"
    t0=$(date +%s.%N)
    local seed_args=(seed --tickets "$BENCH_TICKETS") seed_log="$LOG_DIR/seed-$label.log" last i
    [[ -n "$url" ]] && seed_args+=(--database-url "$url")
    (cd "$dir" && exec timeout --kill-after=30s "$BENCH_SEED_TIMEOUT" "$BIN" "${seed_args[@]}") \
        >"$seed_log" 2>&1 </dev/null &
    CHILD_PID=$!
    # Progress: the seed's latest output line every 10 s (bounded by the seed timeout).
    for i in $(seq 1 $(( (BENCH_SEED_TIMEOUT + 60) * 4 ))); do
        kill -0 "$CHILD_PID" 2>/dev/null || break
        if (( i % 40 == 0 )); then
            last=$(tr '\r' '\n' <"$seed_log" | grep -v '^[[:space:]]*$' | tail -n1 || true)
            log "seed: ${last:-(no output yet)}"
        fi
        sleep 0.25
    done
    wait_child || { tr '\r' '\n' <"$seed_log" | tail -n 20 >&2; die "closedloop seed failed or timed out; see $seed_log"; }
    tr '\r' '\n' <"$seed_log" | grep -v '^[[:space:]]*$' | tail -n 3 >&2 || true
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    rate=$(awk -v n="$BENCH_TICKETS" -v s="$secs" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "n/a" }')
    if [[ -n "$url" ]]; then
        # shellcheck disable=SC2046
        size=$(psql $(pg_args) -X -A -t -d "${url##*/}" -c "SELECT pg_size_pretty(pg_database_size(current_database()))" 2>/dev/null || echo "n/a")
    else
        size=$(du -sh "$dir/data" 2>/dev/null | cut -f1 || echo "n/a")
    fi
    SEED_ROWS+=("| $store | $BENCH_TICKETS | $secs | $rate | $size |")
    log "seeded $BENCH_TICKETS tickets in ${secs}s ($rate/s), store size $size"

    start_server "$label" "$dir" "$url"
    record_rss "$store: started on $BENCH_TICKETS tickets"
    for q in $BENCH_LIST_QUERIES; do
        status=$(http_status GET "/api/v1/tickets?$q")
        if [[ "$status" != "200" ]]; then
            log "WARNING: GET /api/v1/tickets?$q answered $status: $(head -c 300 "$LOG_DIR/last-response")"
            LIST_ROWS+=("| $store | \`?$q\` | $BENCH_LIST_CONNS | n/a (HTTP $status) | | | | | |")
            continue
        fi
        run_wrk "$label-list-$(printf '%s' "$q" | tr -c 'a-zA-Z0-9_' '_')" "$BENCH_WRK_DIR/list.lua" \
            "$BENCH_LIST_CONNS" "$BENCH_LIST_DURATION" "$BASE/api/v1/tickets?$q"
        line=$RESULT_LINE
        LIST_ROWS+=("| $store | \`?$q\` | $BENCH_LIST_CONNS | $(field "$line" rps) | $(field "$line" p50_ms) | $(field "$line" p90_ms) | $(field "$line" p99_ms) | $(field "$line" max_ms) | $(( $(field "$line" http_errors) + $(errors_of "$line") )) |")
    done
    record_rss "$store: after list queries"
    stop_server
}

bench_fresh sqlite-fresh "SQLite"

if [[ "$BENCH_SKIP_PG" != "1" ]]; then
    db="closedloop_bench_$$"
    create_pg_db "$db"
    bench_fresh pg-fresh "PostgreSQL" "$(pg_url "$db")"
    drop_pg_db "$db"
else
    NOTES+=("PostgreSQL phases skipped (BENCH_SKIP_PG=1).")
fi

if [[ "$BENCH_SKIP_SEED" != "1" ]]; then
    bench_seeded sqlite-seeded "SQLite"
    rm -rf "$WORK/sqlite-seeded"
    if [[ "$BENCH_PG_SEED" == "1" && "$BENCH_SKIP_PG" != "1" ]]; then
        db="closedloop_bench_seed_$$"
        create_pg_db "$db"
        bench_seeded pg-seeded "PostgreSQL" "$(pg_url "$db")"
        drop_pg_db "$db"
    else
        NOTES+=("PostgreSQL list latency on a seeded database not measured (set BENCH_PG_SEED=1).")
    fi
else
    NOTES+=("Seeded list-latency phases skipped (BENCH_SKIP_SEED=1).")
fi

# --- summary ---------------------------------------------------------------------------------
section "summary"
commit=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo "n/a")
if [[ -n "$(git -C "$REPO_ROOT" status --porcelain 2>/dev/null | head -n1)" ]]; then commit="$commit (dirty)"; fi
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo "n/a")
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
pgver="n/a"
if [[ "$BENCH_SKIP_PG" != "1" ]]; then
    # shellcheck disable=SC2046
    pgver=$(psql $(pg_args) -X -A -t -d postgres -c 'SHOW server_version' 2>/dev/null || echo "n/a")
fi
binver=$("$BIN" --version 2>/dev/null | head -n1 || true)

summary_file="$RESULTS_DIR/latest.md"
{
    echo "# Closedloop benchmark results"
    echo
    echo "- Date (UTC): $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "- Commit: $commit; binary: ${binver:-closedloop (release build)}"
    echo "- Machine: $(nproc) cores ($cpu), $mem RAM, kernel $(uname -r)"
    echo "- Load generator: $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2) on the same machine (it shares the cores with the server), loopback only"
    echo "- PostgreSQL server: $pgver on $BENCH_PG_HOST:$BENCH_PG_PORT"
    echo
    echo "## Throughput (fresh database, wrk -t$BENCH_THREADS)"
    echo
    echo "| Store | Request | Conns | Duration | Requests | Req/s | p50 ms | p99 ms | HTTP 4xx/5xx | Socket errors |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${THROUGHPUT_ROWS[@]+"${THROUGHPUT_ROWS[@]}"}"
    echo
    if [[ ${#SEED_ROWS[@]} -gt 0 ]]; then
        echo "## Seeding (\`closedloop seed\`)"
        echo
        echo "| Store | Tickets | Seconds | Tickets/s | Store size |"
        echo "|---|---:|---:|---:|---:|"
        printf '%s\n' "${SEED_ROWS[@]}"
        echo
    fi
    if [[ ${#LIST_ROWS[@]} -gt 0 ]]; then
        echo "## List latency (\`GET /api/v1/tickets\`, seeded, wrk -t$BENCH_THREADS -c$BENCH_LIST_CONNS -d$BENCH_LIST_DURATION)"
        echo
        echo "| Store | Query | Conns | Req/s | p50 ms | p90 ms | p99 ms | max ms | Errors |"
        echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
        printf '%s\n' "${LIST_ROWS[@]}"
        echo
    fi
    echo "## Server memory (/proc/PID/status)"
    echo
    echo "| After | VmRSS MiB | VmHWM MiB |"
    echo "|---|---:|---:|"
    printf '%s\n' "${RSS_ROWS[@]+"${RSS_ROWS[@]}"}"
    if [[ ${#NOTES[@]} -gt 0 ]]; then
        echo
        echo "## Notes"
        echo
        printf -- '- %s\n' "${NOTES[@]}"
    fi
} >"$summary_file"

cp "$summary_file" "$RESULTS_DIR/$(date -u +%Y%m%dT%H%M%SZ).md"
cat "$summary_file"
log "summary written to $summary_file; wrk and server logs in $LOG_DIR"
