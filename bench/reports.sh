#!/usr/bin/env bash
# Report pages at scale (issue 8: "each report page, target <= 500 ms, with 1,000,000 tickets").
#
#   1. bench/search_corpus.py makes BENCH_TICKETS tickets from the real texts in ../shared/data
#      spread over a year (the search benchmark's data); `closedloop import` loads them into
#      SQLite in a fresh working directory (timed).
#   2. `closedloop serve`; the background passes read every ticket's keywords and sentiment for
#      hot issues and its report facts (each timed until none is left: figures of their own).
#   3. Each report, as the API and as the page, for an administrator (every ticket) and a
#      supervisor of one department: BENCH_REPEAT sequential requests after one first request,
#      p50/p90/max of curl's total time, beside GET /healthz timed the same way in the same run
#      (the floor of one HTTP request from curl).
#   4. The same on PostgreSQL (BENCH_PG=1, default): import into a fresh database, serve, time.
#      BENCH_SQLITE=0 skips the SQLite part.
# Markdown summary on stdout and in bench/results/reports.md; logs in bench/results/reports-logs/.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
cd "$REPO_ROOT"

BENCH_TICKETS="${BENCH_TICKETS:-1000000}"
BENCH_DATA="${BENCH_DATA:-$REPO_ROOT/../shared/data}"
BENCH_DEPARTMENT="${BENCH_DEPARTMENT:-logistics}"
BENCH_REPEAT="${BENCH_REPEAT:-15}"
BENCH_PG="${BENCH_PG:-1}"
BENCH_SQLITE="${BENCH_SQLITE:-1}"
BENCH_PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
BENCH_SKIP_BUILD="${BENCH_SKIP_BUILD:-0}"
BENCH_START_TIMEOUT="${BENCH_START_TIMEOUT:-300}"
BENCH_IMPORT_TIMEOUT="${BENCH_IMPORT_TIMEOUT:-7200}"
BENCH_TERMS_TIMEOUT="${BENCH_TERMS_TIMEOUT:-3600}"
BENCH_KEEP="${BENCH_KEEP:-0}"

while read -r v; do unset "$v"; done < <(compgen -e | grep '^CLOSEDLOOP_' || true)
RESULTS_DIR="$BENCH_DIR/results"
LOG_DIR="$RESULTS_DIR/reports-logs"
mkdir -p "$RESULTS_DIR"
rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"

BIN="${BENCH_BIN:-$REPO_ROOT/target/release/closedloop}"
WORK=""
SERVER_PID=""
CHILD_PID=""
PORT=""
BASE=""
PW_SUFFIX="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
PG_DB=""
ROWS=()
SETUP_ROWS=()
RSS_ROWS=()

# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

cleanup() {
    [[ -n "$CHILD_PID" ]] && kill "$CHILD_PID" 2>/dev/null || true
    stop_server
    if [[ -n "$PG_DB" && "$BENCH_KEEP" != 1 ]]; then
        psql -q "$BENCH_PG_URL" -c "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
    fi
    if [[ -n "$WORK" && "$BENCH_KEEP" != 1 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

need=()
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v psql >/dev/null || need+=(postgresql-client)
if (( ${#need[@]} )); then
    log "installing: ${need[*]}"
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
[[ -d "$BENCH_DATA" ]] || die "no data at $BENCH_DATA (set BENCH_DATA to ../shared/data)"

if [[ "$BENCH_SKIP_BUILD" != 1 && -z "${BENCH_BIN:-}" ]]; then
    section "build"
    wait_for_cargo
    cargo build --release -p closedloop >&2
fi

# A browser's session for the pages: the login form's CSRF cookie and field, then the form.
login() { # JAR EMAIL PASSWORD
    local jar=$1 csrf
    csrf=$(curl -fsS -c "$jar" "$BASE/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n1)
    [[ -n "$csrf" ]] || die "no CSRF field on /login"
    curl -fsS -o /dev/null -b "$jar" -c "$jar" --data-urlencode "csrf=$csrf" \
        --data-urlencode "email=$2" --data-urlencode "password=$3" "$BASE/login"
}

# time_url LABEL AUTH URL: one first request, then BENCH_REPEAT more; AUTH is "token:T",
# "jar:FILE" or "-". Appends a row; sets P50_MS.
P50_MS=""
time_url() {
    local label=$1 auth=$2 url=$3 args=() first status times
    case "$auth" in
        token:*) args=(-H "Authorization: Bearer ${auth#token:}") ;;
        jar:*) args=(-b "${auth#jar:}") ;;
    esac
    status=$(curl -sS -o "$LOG_DIR/last-body.txt" -w '%{http_code} %{time_total}' "${args[@]}" "$BASE$url")
    [[ "${status%% *}" == 200 ]] || { head -c 500 "$LOG_DIR/last-body.txt" >&2; die "$label: HTTP ${status%% *}"; }
    first=$(awk -v t="${status##* }" 'BEGIN { printf "%.1f", t * 1000 }')
    times=$(for _ in $(seq 1 "$BENCH_REPEAT"); do
        curl -fsS -o /dev/null -w '%{time_total}\n' "${args[@]}" "$BASE$url"
    done | awk '{ print $1 * 1000 }' | sort -n)
    read -r p50 p90 max < <(awk '{ v[NR] = $1 } END { printf "%.1f %.1f %.1f\n", v[int(NR*0.5)+1], v[int(NR*0.9)+1], v[NR] }' <<<"$times")
    P50_MS=$p50
    ROWS+=("| $BACKEND | $label | $first | $p50 | $p90 | $max | $(awk -v a="$p50" -v b="${HEALTH_MS:-0}" 'BEGIN { if (b > 0) printf "%.0f", a / b; else print "n/a" }') |")
    log "$label: first $first ms, p50 $p50 ms, p90 $p90 ms, max $max ms"
}

measure() { # BACKEND
    BACKEND=$1
    cli user add --email "admin@bench.local" --name Admin --role admin --password-stdin <<<"admin-$PW_SUFFIX" >/dev/null
    cli user add --email "lead@bench.local" --name Lead --role supervisor --department "$BENCH_DEPARTMENT" \
        --password-stdin <<<"lead-$PW_SUFFIX" >/dev/null
    local admin lead
    admin=$(cli token create --email admin@bench.local | tail -n1)
    lead=$(cli token create --email lead@bench.local | tail -n1)
    start_server
    record_rss "$BACKEND: started"
    # The two background passes over every imported ticket, side by side as a server runs
    # them: keywords and sentiment (hot issues), and the report facts (service reports).
    local t0 left facts i terms_secs="" facts_secs=""
    t0=$(date +%s.%N)
    for i in $(seq 1 "$BENCH_TERMS_TIMEOUT"); do
        left=$(pending)
        facts=$(facts_pending)
        (( i % 30 == 0 )) && log "$BACKEND: $left tickets left to read for keywords, $facts for report facts"
        [[ "$left" == 0 && -z "$terms_secs" ]] && terms_secs=$(secs_since "$t0")
        [[ "$facts" == 0 && -z "$facts_secs" ]] && facts_secs=$(secs_since "$t0")
        [[ -n "$terms_secs" && -n "$facts_secs" ]] && break
        sleep 1
    done
    [[ -n "$terms_secs" && -n "$facts_secs" ]] || die "$BACKEND: the background passes did not finish in ${BENCH_TERMS_TIMEOUT}s"
    SETUP_ROWS+=("| $BACKEND: keyword and sentiment pass over $BENCH_TICKETS tickets | $terms_secs s ($(awk -v n="$BENCH_TICKETS" -v s="$terms_secs" 'BEGIN { printf "%.0f", n / s }') tickets/s, in the background of a serving instance, beside the facts pass) |")
    SETUP_ROWS+=("| $BACKEND: report facts pass over $BENCH_TICKETS tickets | $facts_secs s ($(awk -v n="$BENCH_TICKETS" -v s="$facts_secs" 'BEGIN { printf "%.0f", n / s }') tickets/s, same) |")
    record_rss "$BACKEND: after the background passes"
    login "$WORK/admin.jar" admin@bench.local "admin-$PW_SUFFIX"
    HEALTH_MS=""
    time_url "GET /healthz (floor of one request)" - "/healthz"
    HEALTH_MS=$P50_MS
    local today from90
    today=$(date -u +%Y-%m-%d)
    from90=$(date -u -d '-89 days' +%Y-%m-%d)
    time_url "service report API, 30 days, admin" "token:$admin" "/api/v1/reports/service"
    time_url "service report API, 30 days, supervisor ($BENCH_DEPARTMENT)" "token:$lead" "/api/v1/reports/service"
    time_url "service report API, 90 days, admin" "token:$admin" "/api/v1/reports/service?from=$(date -u -d '-90 days' +%Y-%m-%dT%H:%M:%SZ)"
    time_url "page /agent/reports, 30 days, admin" "jar:$WORK/admin.jar" "/agent/reports"
    time_url "page /agent/reports, 90 days, admin" "jar:$WORK/admin.jar" "/agent/reports?from=$from90&to=$today"
    time_url "hot issues API, admin" "token:$admin" "/api/v1/reports/hot"
    time_url "hot issues API, supervisor ($BENCH_DEPARTMENT)" "token:$lead" "/api/v1/reports/hot"
    time_url "page /agent/reports/hot, admin" "jar:$WORK/admin.jar" "/agent/reports/hot"
    time_url "page /agent/reports/period (quarter to date + the one before), admin" "jar:$WORK/admin.jar" "/agent/reports/period"
    time_url "page /transparency (public; 90 days, kept 10 min)" - "/transparency"
    record_rss "$BACKEND: after the reports"
    stop_server
}

section "data"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/closedloop-reports.XXXXXX")
python3 "$BENCH_DIR/search_corpus.py" "$BENCH_DATA" "$BENCH_TICKETS" 10 \
    "$WORK/tickets.jsonl" "$WORK/queries.txt" 2> >(tee "$LOG_DIR/corpus.txt" >&2)
SETUP_ROWS+=("| data | $(tail -n1 "$LOG_DIR/corpus.txt") |")

if [[ "$BENCH_SQLITE" == 1 ]]; then
    section "SQLite"
    t0=$(date +%s.%N)
    run_bg "$LOG_DIR/import-sqlite.txt" "$BENCH_IMPORT_TIMEOUT" import "$WORK/tickets.jsonl"
    SETUP_ROWS+=("| import into SQLite | $(secs_since "$t0") s |")
    # Built beforehand so the server's start does not rebuild it while reports are timed.
    run_bg "$LOG_DIR/reindex-sqlite.txt" "$BENCH_IMPORT_TIMEOUT" search reindex
    pending() { db "SELECT COUNT(*) FROM tickets WHERE keywords IS NULL"; }
    facts_pending() { db "SELECT COUNT(*) FROM facts_pending"; }
    measure SQLite
fi

if [[ "$BENCH_PG" == 1 ]]; then
    section "PostgreSQL"
    PG_DB="closedloop_reports_$PW_SUFFIX"
    psql -q "$BENCH_PG_URL" -c "CREATE DATABASE $PG_DB" >/dev/null
    export CLOSEDLOOP_DATABASE_URL="${BENCH_PG_URL%/*}/$PG_DB"
    rm -rf "$WORK/data"
    t0=$(date +%s.%N)
    run_bg "$LOG_DIR/import-pg.txt" "$BENCH_IMPORT_TIMEOUT" import "$WORK/tickets.jsonl"
    SETUP_ROWS+=("| import into PostgreSQL | $(secs_since "$t0") s |")
    run_bg "$LOG_DIR/reindex-pg.txt" "$BENCH_IMPORT_TIMEOUT" search reindex
    pending() { psql -tA "$CLOSEDLOOP_DATABASE_URL" -c "SELECT COUNT(*) FROM tickets WHERE keywords IS NULL"; }
    facts_pending() { psql -tA "$CLOSEDLOOP_DATABASE_URL" -c "SELECT COUNT(*) FROM facts_pending"; }
    measure PostgreSQL
fi

{
    echo "### Reports at $BENCH_TICKETS tickets ($(date -u +%Y-%m-%d), \`bash bench/reports.sh\`)"
    echo
    echo "| setup | |"
    echo "|---|---|"
    printf '%s\n' "${SETUP_ROWS[@]}"
    echo
    echo "Each line: one first request, then $BENCH_REPEAT sequential ones (curl total time, ms);"
    echo "the last column is p50 over the same run's /healthz p50."
    echo
    echo "| backend | what | first | p50 | p90 | max | × /healthz |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "| server memory | VmRSS MiB | VmHWM MiB |"
    echo "|---|---|---|"
    printf '%s\n' "${RSS_ROWS[@]}"
} | tee "$RESULTS_DIR/reports.md"
