#!/usr/bin/env bash
# Full-text search at scale (issue 8: "search p50/p99 with 1,000,000 tickets, target p99 <= 50 ms;
# reindex time, index size on disk; beside PostgreSQL's own full-text or trigram search on the
# same data in the same run"). See bench/README.md.
#
#   1. bench/search_corpus.py makes BENCH_TICKETS tickets from the real reviews, questions and
#      tweets in ../shared/data (~195,000 distinct Chinese and English texts, drawn with
#      repetition) and BENCH_QUERIES queries as people type them.
#   2. `closedloop import` loads them into SQLite in a fresh working directory (timed), then
#      `closedloop search reindex` builds the index (timed; size on disk from its output).
#   3. `closedloop serve`; an admin token (everything) and an agent of one department (a tenth
#      of the tickets) search with wrk (bench/wrk/search.lua rotates the queries), -c1 and -c4:
#      GET /api/v1/search?limit=20&q=..., beside the same queries through the listing's LIKE
#      filter (GET /api/v1/tickets?limit=20&q=...) and the /healthz ceiling.
#   4. PostgreSQL on the same tickets (BENCH_PG=1, default): `closedloop import` into a fresh
#      database, a pg_trgm GIN index on the description (the one PostgreSQL index that serves
#      Chinese substrings; its text-search parsers do not segment Chinese), then pgbench runs
#      `description ILIKE '%q%' ORDER BY created_at DESC LIMIT 20` over the same queries.
# Markdown summary on stdout and in bench/results/search.md; logs in bench/results/search-logs/.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
cd "$REPO_ROOT"

BENCH_TICKETS="${BENCH_TICKETS:-1000000}"
BENCH_QUERIES="${BENCH_QUERIES:-500}"
BENCH_DATA="${BENCH_DATA:-$REPO_ROOT/../shared/data}"
BENCH_DEPARTMENT="${BENCH_DEPARTMENT:-logistics}"
BENCH_CONNS_LIST="${BENCH_CONNS_LIST:-1 4}"
BENCH_DURATION="${BENCH_DURATION:-15s}"
BENCH_WRK_TIMEOUT="${BENCH_WRK_TIMEOUT:-30s}"
BENCH_PG="${BENCH_PG:-1}"
BENCH_PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
BENCH_SKIP_BUILD="${BENCH_SKIP_BUILD:-0}"
BENCH_START_TIMEOUT="${BENCH_START_TIMEOUT:-300}"
BENCH_IMPORT_TIMEOUT="${BENCH_IMPORT_TIMEOUT:-7200}"
BENCH_KEEP="${BENCH_KEEP:-0}"

while read -r v; do unset "$v"; done < <(compgen -e | grep '^CLOSEDLOOP_' || true)
export BENCH_WRK_DIR="$BENCH_DIR/wrk"
RESULTS_DIR="$BENCH_DIR/results"
LOG_DIR="$RESULTS_DIR/search-logs"
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
command -v wrk >/dev/null || need+=(wrk)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v pgbench >/dev/null || need+=(postgresql-client)
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

section "data"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/closedloop-search.XXXXXX")
python3 "$BENCH_DIR/search_corpus.py" "$BENCH_DATA" "$BENCH_TICKETS" "$BENCH_QUERIES" \
    "$WORK/tickets.jsonl" "$WORK/queries.txt" 2> >(tee "$LOG_DIR/corpus.txt" >&2)
SETUP_ROWS+=("| data | $(cat "$LOG_DIR/corpus.txt" | tail -n1) |")

section "import into SQLite"
t0=$(date +%s.%N)
run_bg "$LOG_DIR/import-sqlite.txt" "$BENCH_IMPORT_TIMEOUT" import "$WORK/tickets.jsonl"
SETUP_ROWS+=("| import into SQLite | $(secs_since "$t0") s |")

section "reindex"
t0=$(date +%s.%N)
run_bg "$LOG_DIR/reindex.txt" "$BENCH_IMPORT_TIMEOUT" search reindex
REINDEX_S=$(secs_since "$t0")
REINDEX_LINE=$(grep '^slot ' "$LOG_DIR/reindex.txt" | tail -n1)
SETUP_ROWS+=("| \`closedloop search reindex\` | $REINDEX_S s: $REINDEX_LINE |")
SETUP_ROWS+=("| SQLite database | $(du -sm "$WORK/data/closedloop.db" | cut -f1) MiB |")

section "server"
cli user add --email "admin@bench.local" --name Admin --role admin --password-stdin <<<"admin-$PW_SUFFIX" >/dev/null
cli user add --email "agent@bench.local" --name Agent --role agent --department "$BENCH_DEPARTMENT" \
    --password-stdin <<<"agent-$PW_SUFFIX" >/dev/null
ADMIN_TOKEN=$(cli token create --email admin@bench.local | tail -n1)
AGENT_TOKEN=$(cli token create --email agent@bench.local | tail -n1)
start_server
record_rss "started"
q1=$(head -n1 "$WORK/queries.txt")
curl -fsS -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE/api/v1/search?limit=3&q=$q1" >"$LOG_DIR/sample.json" \
    || die "search answered an error"
log "sample: $(head -c 300 "$LOG_DIR/sample.json")"

export BENCH_QUERIES_FILE="$WORK/queries.txt"
declare -A HEALTH_RPS=()
load() { # LABEL TOKEN PATH_PREFIX
    local label=$1 token=$2 prefix=$3 c line ratio
    for c in $BENCH_CONNS_LIST; do
        BENCH_TOKEN="$token" BENCH_PATH="$prefix" BENCH_QUERIES="$BENCH_QUERIES_FILE" \
            run_wrk_script "$(tr -c 'a-zA-Z0-9' '_' <<<"$label")" "$c" "$BASE/" "$BENCH_WRK_DIR/search.lua"
        line=$RESULT_LINE
        [[ "$(field "$line" non2xx)" == "0" ]] || die "$label: non-2xx answers under load"
        ratio=$(awk -v a="$(field "$line" rps)" -v b="${HEALTH_RPS[$c]:-0}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }')
        ROWS+=("| $label | $c | $(field "$line" requests) | $(field "$line" rps) | $(field "$line" p50_ms) | $(field "$line" p90_ms) | $(field "$line" p99_ms) | $(field "$line" max_ms) | $ratio |")
    done
}

section "load"
for c in $BENCH_CONNS_LIST; do
    run_wrk_script healthz "$c" "$BASE/healthz" "$BENCH_WRK_DIR/healthz.lua"
    HEALTH_RPS[$c]=$(field "$RESULT_LINE" rps)
    ROWS+=("| GET /healthz (ceiling) | $c | $(field "$RESULT_LINE" requests) | $(field "$RESULT_LINE" rps) | $(field "$RESULT_LINE" p50_ms) | $(field "$RESULT_LINE" p90_ms) | $(field "$RESULT_LINE" p99_ms) | $(field "$RESULT_LINE" max_ms) | 1.000 |")
done
load "search, admin (all tickets)" "$ADMIN_TOKEN" "/api/v1/search?limit=20&q="
load "search, agent ($BENCH_DEPARTMENT)" "$AGENT_TOKEN" "/api/v1/search?limit=20&q="
load "listing q= (LIKE), admin" "$ADMIN_TOKEN" "/api/v1/tickets?limit=20&q="
record_rss "after the load"
INDEX_MIB=$(du -sm "$WORK/data/search" | cut -f1)
SETUP_ROWS+=("| search index on disk | $INDEX_MIB MiB |")
stop_server

PG_ROWS=()
if [[ "$BENCH_PG" == 1 ]]; then
    section "PostgreSQL"
    PG_DB="closedloop_search_$PW_SUFFIX"
    psql -q "$BENCH_PG_URL" -c "CREATE DATABASE $PG_DB" >/dev/null
    PG_URL="${BENCH_PG_URL%/*}/$PG_DB"
    t0=$(date +%s.%N)
    CLOSEDLOOP_DATABASE_URL="$PG_URL" run_bg "$LOG_DIR/import-pg.txt" "$BENCH_IMPORT_TIMEOUT" import "$WORK/tickets.jsonl"
    SETUP_ROWS+=("| import into PostgreSQL | $(secs_since "$t0") s |")
    t0=$(date +%s.%N)
    psql -q "$PG_URL" -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX bench_description_trgm ON tickets USING gin (description gin_trgm_ops);
ANALYZE tickets;
CREATE TABLE bench_queries (n int PRIMARY KEY, q text NOT NULL);
SQL
    SETUP_ROWS+=("| pg_trgm GIN index build | $(secs_since "$t0") s, $(psql -tA "$PG_URL" -c "SELECT pg_size_pretty(pg_relation_size('bench_description_trgm'))") |")
    python3 - "$WORK/queries.txt" >"$WORK/queries.sql" <<'PY'
import sys, urllib.parse
for i, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    q = urllib.parse.unquote(line.strip()).replace("'", "''").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    print(f"INSERT INTO bench_queries VALUES ({i}, '{q}');")
PY
    psql -q "$PG_URL" -v ON_ERROR_STOP=1 -f "$WORK/queries.sql" >/dev/null
    NQ=$(wc -l <"$WORK/queries.txt")
    cat >"$WORK/trgm.sql" <<SQL
\set n random(1, $NQ)
SELECT id, number FROM tickets WHERE description ILIKE '%' || (SELECT q FROM bench_queries WHERE n = :n) || '%' ORDER BY created_at DESC LIMIT 20;
SQL
    for c in $BENCH_CONNS_LIST; do
        rm -f "$WORK"/pgbench_log.*
        (cd "$WORK" && pgbench -n -f trgm.sql -c "$c" -j "$c" -T "$(duration_secs "$BENCH_DURATION")" -l "$PG_URL") \
            >"$LOG_DIR/pgbench-c$c.txt" 2>&1 || { cat "$LOG_DIR/pgbench-c$c.txt" >&2; die "pgbench failed"; }
        read -r n tps p50 p90 p99 max < <(cat "$WORK"/pgbench_log.* | awk '{ print $3 / 1000 }' | sort -n | awk '
            { v[NR] = $1 } END { printf "%d %.1f %.3f %.3f %.3f %.3f\n", NR, 0, v[int(NR*0.5)+1], v[int(NR*0.9)+1], v[int(NR*0.99)+1], v[NR] }')
        tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$LOG_DIR/pgbench-c$c.txt" | head -n1)
        PG_ROWS+=("| PostgreSQL pg_trgm ILIKE (SQL only, no HTTP) | $c | $n | $tps | $p50 | $p90 | $p99 | $max | |")
        log "pgbench -c$c: $n queries, $tps tps, p50 $p50 ms, p99 $p99 ms"
    done
fi

{
    echo "### Search at $BENCH_TICKETS tickets ($(date -u +%Y-%m-%d), \`bash bench/search.sh\`)"
    echo
    echo "| setup | |"
    echo "|---|---|"
    printf '%s\n' "${SETUP_ROWS[@]}"
    echo
    echo "| what | conns | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | of /healthz |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}" "${PG_ROWS[@]}"
    echo
    echo "| server memory | VmRSS MiB | VmHWM MiB |"
    echo "|---|---|---|"
    printf '%s\n' "${RSS_ROWS[@]}"
} | tee "$RESULTS_DIR/search.md"
