# Helpers shared by the benchmark scripts (sourced, not run).

ts() { date -u +%H:%M:%S; }
log() { printf '[%s] %s\n' "$(ts)" "$*" >&2; }
section() { printf '\n[%s] ===== %s =====\n' "$(ts)" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$(ts)" "$*" >&2; exit 1; }

# Seconds in a wrk-style duration (20s, 2m, 1h, or a bare number of seconds).
duration_secs() {
    local d=$1
    case "$d" in
        *h) echo $(( ${d%h} * 3600 )) ;;
        *m) echo $(( ${d%m} * 60 )) ;;
        *s) echo "${d%s}" ;;
        *) echo "$d" ;;
    esac
}

free_port() {
    local p _
    if command -v python3 >/dev/null; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' && return 0
    fi
    for _ in $(seq 1 100); do
        p=$(( 20000 + RANDOM % 40000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    die "no free port found"
}

mib() { awk -v k="$1" 'BEGIN { if (k == "") print "n/a"; else printf "%.1f", k / 1024 }'; }

# --- shared by the scripts that seed a working directory and start the server ---------------
# They use these globals: BIN (the closedloop binary), WORK (its working directory), LOG_DIR,
# SERVER_PID, CHILD_PID, PORT, BASE, PW_SUFFIX, BENCH_START_TIMEOUT, BENCH_DURATION,
# BENCH_WRK_TIMEOUT, BENCH_WRK_DIR.

secs_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

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

# Waits while another cargo build/test/clippy runs (one compile at a time on this machine).
wait_for_cargo() {
    local waited=0
    while pgrep -f "cargo (build|test|clippy)" >/dev/null; do
        (( waited % 60 == 0 )) && log "another cargo command is running; waiting: $(pgrep -af 'cargo (build|test|clippy)' | head -n1)"
        sleep 5
        waited=$(( waited + 5 ))
    done
}

# The CLI in the working directory (same database as the server).
cli() { (cd "$WORK" && "$BIN" "$@"); }
db() { sqlite3 -bail "$WORK/data/closedloop.db" "$@"; }

# run_bg LOGFILE TIMEOUT CMD...: a long CLI command in the background, progress every 10 s.
run_bg() {
    local out=$1 limit=$2 i last
    shift 2
    (cd "$WORK" && exec timeout --kill-after=30s "$limit" "$BIN" "$@") >"$out" 2>&1 </dev/null &
    CHILD_PID=$!
    for i in $(seq 1 $(( (limit + 60) * 4 ))); do
        kill -0 "$CHILD_PID" 2>/dev/null || break
        if (( i % 40 == 0 )); then
            last=$(tr '\r' '\n' <"$out" | grep -v '^[[:space:]]*$' | tail -n1 || true)
            log "$1: ${last:-(no output yet)}"
        fi
        sleep 0.25
    done
    local rc=0
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=""
    if [[ $rc -ne 0 ]]; then
        tr '\r' '\n' <"$out" | tail -n 20 >&2
        die "closedloop $* failed (exit $rc); see $out"
    fi
    tr '\r' '\n' <"$out" | grep -v '^[[:space:]]*$' | tail -n 2 >&2 || true
}

start_server() {
    PORT=$(free_port)
    BASE="http://127.0.0.1:$PORT"
    log "starting server on $BASE in $WORK"
    (cd "$WORK" && CLOSEDLOOP_ADMIN_PASSWORD="unused-$PW_SUFFIX" exec "$BIN" serve --listen "127.0.0.1:$PORT") \
        >>"$LOG_DIR/server.log" 2>&1 </dev/null &
    SERVER_PID=$!
    local _
    for _ in $(seq 1 $(( BENCH_START_TIMEOUT * 5 ))); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            tail -n 40 "$LOG_DIR/server.log" >&2 || true
            SERVER_PID=""
            die "server exited during start-up; log: $LOG_DIR/server.log"
        fi
        if curl -fsS --max-time 2 "$BASE/healthz" >/dev/null 2>&1; then
            log "server ready, pid $SERVER_PID"
            return 0
        fi
        sleep 0.2
    done
    die "server not healthy after ${BENCH_START_TIMEOUT}s; log: $LOG_DIR/server.log"
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
        if kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID" 2>/dev/null || true; fi
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    log "server $SERVER_PID stopped"
    SERVER_PID=""
}

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
socket_errors() {
    local l=$1
    echo $(( $(field "$l" err_connect) + $(field "$l" err_read) + $(field "$l" err_write) + $(field "$l" err_timeout) ))
}

RESULT_LINE=""
# run_wrk_script NAME CONNS URL SCRIPT: wrk -t1 with a Lua script (its settings come from the
# environment); sets RESULT_LINE to its BENCH_RESULT line plus the script's extra fields.
run_wrk_script() {
    local name=$1 conns=$2 url=$3 script=$4 out limit
    out="$LOG_DIR/wrk-$name-c$conns.txt"
    limit=$(( $(duration_secs "$BENCH_DURATION") + $(duration_secs "$BENCH_WRK_TIMEOUT") + 60 ))
    log "wrk -t1 -c$conns -d$BENCH_DURATION $(basename "$script") $url"
    timeout --kill-after=10s "$limit" \
        wrk -t1 -c "$conns" -d "$BENCH_DURATION" --timeout "$BENCH_WRK_TIMEOUT" --latency -s "$script" "$url" \
        >"$out" 2>&1 </dev/null &
    CHILD_PID=$!
    local rc=0
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=""
    [[ $rc -eq 0 ]] || { cat "$out" >&2; die "wrk failed ($name)"; }
    RESULT_LINE=$(grep '^BENCH_RESULT ' "$out" | tail -n1 || true)
    [[ -n "$RESULT_LINE" ]] || { cat "$out" >&2; die "no BENCH_RESULT line from wrk ($name)"; }
    local extra
    extra=$(grep -E '^non2xx=' "$out" | tail -n1 || true)
    [[ -n "$extra" ]] && RESULT_LINE="$RESULT_LINE $extra"
    log "$RESULT_LINE"
}
