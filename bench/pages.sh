#!/usr/bin/env bash
# Web console page latency on a seeded SQLite store (issue 7: "pages render within 100 ms server
# time with 1,000,000 tickets"). See bench/README.md.
#
#   1. `closedloop seed --tickets $BENCH_TICKETS` in a fresh working directory, then (default)
#      `closedloop sla replan` so open tickets carry deadlines as live ones do; staff made with
#      `closedloop user add`: an agent of $BENCH_DEPARTMENT, a supervisor of it and payment, an
#      admin, a customer. The seed makes no requesters and assigns nobody, so sqlite3 gives the
#      agent BENCH_ASSIGNED open tickets of the department, the customer BENCH_CUSTOMER_TICKETS
#      tickets, and inserts 20 canned responses (fixtures, no timeline entries).
#   2. `closedloop serve` on a random loopback port; each user signs in through the HTML form
#      like a browser (GET /login for the cl_csrf cookie and field, POST /login for the session).
#   3. For every page: one curl check (HTTP 200, the page's own element present, rows counted),
#      then wrk -t1 -c1 and -c4 (bench/wrk/page.lua, sends the session cookie, counts non-2xx),
#      BENCH_DURATION each. GET /healthz with the same script before and after: the ceiling.
#   4. Server VmRSS / VmHWM from /proc/PID/status after the run.
# Progress on stderr; Markdown summary on stdout and in bench/results/pages.md (plus a timestamped
# copy); wrk reports, server and seed logs, and the checked pages in bench/results/pages-logs/.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
cd "$REPO_ROOT"

# --- knobs -----------------------------------------------------------------------------------
BENCH_TICKETS="${BENCH_TICKETS:-1000000}"
BENCH_DAYS="${BENCH_DAYS:-365}"
BENCH_REPLAN="${BENCH_REPLAN:-1}"
BENCH_DEPARTMENT="${BENCH_DEPARTMENT:-tech_support}"
BENCH_ASSIGNED="${BENCH_ASSIGNED:-1000}"
BENCH_CUSTOMER_TICKETS="${BENCH_CUSTOMER_TICKETS:-30}"
BENCH_SEARCH_WORD="${BENCH_SEARCH_WORD:-checkout}"
BENCH_CONNS_LIST="${BENCH_CONNS_LIST:-1 4}"
BENCH_DURATION="${BENCH_DURATION:-10s}"
BENCH_TARGET_MS="${BENCH_TARGET_MS:-100}"
BENCH_WRK_TIMEOUT="${BENCH_WRK_TIMEOUT:-30s}"
BENCH_PAGES="${BENCH_PAGES:-}"   # optional: only pages whose label contains one of these words
BENCH_SKIP_BUILD="${BENCH_SKIP_BUILD:-0}"   # or BENCH_BIN=/path/to/closedloop
BENCH_SEED_TIMEOUT="${BENCH_SEED_TIMEOUT:-3600}"
BENCH_START_TIMEOUT="${BENCH_START_TIMEOUT:-120}"
BENCH_KEEP="${BENCH_KEEP:-0}"
BENCH_WORKDIR_PARENT="${BENCH_WORKDIR_PARENT:-${TMPDIR:-/tmp}}"

# Runs must not pick up a developer's configuration: clear every CLOSEDLOOP_* variable.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^CLOSEDLOOP_' || true)
export BENCH_WRK_DIR="$BENCH_DIR/wrk"
export DEBIAN_FRONTEND=noninteractive

RESULTS_DIR="$BENCH_DIR/results"
LOG_DIR="$RESULTS_DIR/pages-logs"
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
ADMIN_EMAIL="admin@bench.local"
AGENT_EMAIL="agent@bench.local"
LEAD_EMAIL="lead@bench.local"
CUSTOMER_EMAIL="customer@bench.local"

ROWS=()
CHECK_ROWS=()
RSS_ROWS=()
SETUP_ROWS=()
SLOW=()

# --- helpers ---------------------------------------------------------------------------------
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

# sign_in EMAIL PASSWORD: signs in through the HTML form like a browser; prints the Cookie value.
sign_in() {
    local email=$1 password=$2 hdr="$LOG_DIR/login-$1.headers" body="$LOG_DIR/login-$1.html"
    local csrf_cookie csrf_field code session
    code=$(curl -sS --max-time 30 -D "$hdr" -o "$body" -w '%{http_code}' "$BASE/login") || code=000
    [[ "$code" == "200" ]] || die "GET /login answered $code"
    csrf_cookie=$(sed -n 's/^[Ss]et-[Cc]ookie: cl_csrf=\([^;]*\).*/\1/p' "$hdr" | tr -d '\r' | head -n1)
    csrf_field=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$body" | head -n1)
    [[ -n "$csrf_cookie" && -n "$csrf_field" ]] || die "GET /login gave no cl_csrf cookie or csrf field"
    code=$(curl -sS --max-time 30 -D "$hdr" -o "$body" -w '%{http_code}' \
        -H "Cookie: cl_csrf=$csrf_cookie" \
        --data-urlencode "csrf=$csrf_field" --data-urlencode "next=" \
        --data-urlencode "email=$email" --data-urlencode "password=$password" \
        "$BASE/login") || code=000
    session=$(sed -n 's/^[Ss]et-[Cc]ookie: closedloop_session=\([^;]*\).*/\1/p' "$hdr" | tr -d '\r' | head -n1)
    [[ "$code" == "303" && -n "$session" ]] \
        || die "POST /login for $email answered $code without a session cookie: $(head -c 300 "$body")"
    rm -f "$body"
    printf 'closedloop_session=%s; cl_csrf=%s' "$session" "$csrf_cookie"
}

# run_wrk NAME CONNS URL COOKIE: one page under load (bench/wrk/page.lua).
run_wrk() {
    BENCH_COOKIE="$4" run_wrk_script "$1" "$2" "$3" "$BENCH_WRK_DIR/page.lua"
}

declare -A HEALTH_RPS=()

# measure LABEL ROLE PATH COOKIE MARKER: checks the page once, then runs wrk at each concurrency.
measure() {
    local label=$1 role=$2 path=$3 cookie=$4 marker=$5 code bytes items t_ms name c line bad socket ratio
    if [[ -n "$BENCH_PAGES" ]]; then
        local w keep=0
        for w in $BENCH_PAGES; do [[ "$label" == *"$w"* ]] && keep=1; done
        [[ $keep == 1 ]] || return 0
    fi
    name=$(printf '%s' "$role-$label" | tr -c 'a-zA-Z0-9_' '_')
    local body="$LOG_DIR/page-$name.html"
    read -r code t_ms < <(curl -sS --max-time 60 -o "$body" -w '%{http_code} %{time_total}\n' \
        -H "Cookie: $cookie" -H 'Accept-Language: en' "$BASE$path" || echo "000 0")
    [[ "$code" == "200" ]] || die "GET $path as $role answered $code (expected 200): $(head -c 300 "$body")"
    grep -q -- "$marker" "$body" || die "GET $path as $role: 200 but no '$marker' in the page (not the page?)"
    if grep -q 'action="/login"' "$body"; then die "GET $path as $role: the sign-in form came back"; fi
    bytes=$(wc -c <"$body")
    items=$({ grep -o 'href="/\(agent\|portal\)/tickets/[^"]*"' "$body" || true; } | wc -l)
    t_ms=$(awk -v s="$t_ms" 'BEGIN { printf "%.1f", s * 1000 }')
    CHECK_ROWS+=("| $label | $role | 200 | \`$marker\` | $items | $bytes | $t_ms |")
    for c in $BENCH_CONNS_LIST; do
        run_wrk "$name" "$c" "$BASE$path" "$cookie"
        line=$RESULT_LINE
        bad=$(field "$line" non2xx)
        socket=$(socket_errors "$line")
        [[ "$bad" == "0" && "$(field "$line" http_errors)" == "0" ]] \
            || die "GET $path as $role: $bad non-2xx answers under load (first status $(field "$line" first))"
        # Timeouts are a result (a page slower than BENCH_WRK_TIMEOUT), not a reason to stop.
        [[ "$socket" == "0" ]] || log "WARNING: GET $path as $role: $socket socket errors/timeouts under load"
        ratio=$(awk -v a="$(field "$line" rps)" -v b="${HEALTH_RPS[$c]:-0}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }')
        ROWS+=("| $label | $role | $c | $(field "$line" requests) | $(field "$line" rps) | $(field "$line" p50_ms) | $(field "$line" p90_ms) | $(field "$line" p99_ms) | $(field "$line" max_ms) | $ratio | $bad | $socket |")
        if awk -v p="$(field "$line" p99_ms)" -v t="$BENCH_TARGET_MS" 'BEGIN { exit !(p > t) }'; then
            SLOW+=("\`$path\` ($role) at -c$c: p99 $(field "$line" p99_ms) ms")
        fi
    done
}

# healthz LABEL: the ceiling at each concurrency, same script (same Lua cost per answer).
healthz() {
    local label=$1 c line
    for c in $BENCH_CONNS_LIST; do
        run_wrk "healthz-$label" "$c" "$BASE/healthz" "x=1"
        line=$RESULT_LINE
        [[ "$(field "$line" non2xx)" == "0" ]] || die "/healthz: non-2xx answers"
        # The first run sets the baseline for the ratios; the last one shows the drift.
        if [[ -z "${HEALTH_RPS[$c]:-}" ]]; then
            HEALTH_RPS[$c]=$(field "$line" rps)
        fi
        ROWS+=("| \`GET /healthz\` ($label, baseline) | - | $c | $(field "$line" requests) | $(field "$line" rps) | $(field "$line" p50_ms) | $(field "$line" p90_ms) | $(field "$line" p99_ms) | $(field "$line" max_ms) | $(awk -v a="$(field "$line" rps)" -v b="${HEALTH_RPS[$c]}" 'BEGIN { printf "%.3f", a / b }') | $(field "$line" non2xx) | $(socket_errors "$line") |")
    done
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
    if [[ -n "$WORK" && -d "$WORK" ]]; then
        if [[ "$BENCH_KEEP" == "1" ]]; then
            log "keeping work dir $WORK (BENCH_KEEP=1); database: $WORK/data/closedloop.db"
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
command -v sqlite3 >/dev/null || need+=(sqlite3)
if [[ ${#need[@]} -gt 0 ]]; then
    log "installing: ${need[*]}"
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

if [[ "$BENCH_SKIP_BUILD" == "1" || -n "${BENCH_BIN:-}" ]]; then
    log "not building: using existing $BIN"
else
    wait_for_cargo
    log "cargo build --release -p closedloop --locked"
    cargo build --release -p closedloop --locked >&2
fi
[[ -x "$BIN" ]] || die "binary not found: $BIN"

# The commit the binary was built from (read now: others may commit while the run goes on).
commit=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo "n/a")
if [[ -n "$(git -C "$REPO_ROOT" status --porcelain -- crates 2>/dev/null | head -n1)" ]]; then commit="$commit (crates/ dirty)"; fi

WORK=$(mktemp -d "$BENCH_WORKDIR_PARENT/closedloop-pages.XXXXXX")
log "work dir: $WORK"
free_kb=$(df -Pk "$WORK" | awk 'NR == 2 { print $4 }')
if [[ "$free_kb" -lt $(( 4 * 1024 * 1024 )) ]]; then
    log "WARNING: only $(( free_kb / 1024 )) MiB free under $WORK; $BENCH_TICKETS tickets may not fit"
fi

# --- store -----------------------------------------------------------------------------------
section "store: $BENCH_TICKETS tickets"
cli migrate >>"$LOG_DIR/cli.log" 2>&1 || die "closedloop migrate failed; see $LOG_DIR/cli.log"
add_user() { # EMAIL NAME ROLE PASSWORD [--department CODE]...
    local email=$1 name=$2 role=$3 password=$4
    shift 4
    printf '%s\n' "$password" | cli user add --email "$email" --name "$name" --role "$role" "$@" \
        --password-stdin >>"$LOG_DIR/cli.log" 2>&1 || die "closedloop user add $email failed; see $LOG_DIR/cli.log"
}
add_user "$ADMIN_EMAIL" "Bench Admin" admin "admin-$PW_SUFFIX"
add_user "$AGENT_EMAIL" "Bench Agent" agent "agent-$PW_SUFFIX" --department "$BENCH_DEPARTMENT"
add_user "$LEAD_EMAIL" "Bench Lead" supervisor "lead-$PW_SUFFIX" --department "$BENCH_DEPARTMENT" --department payment
add_user "$CUSTOMER_EMAIL" "Bench Customer" customer "customer-$PW_SUFFIX"

log "closedloop seed --tickets $BENCH_TICKETS --days $BENCH_DAYS"
t0=$(date +%s.%N)
run_bg "$LOG_DIR/seed.log" "$BENCH_SEED_TIMEOUT" seed --tickets "$BENCH_TICKETS" --days "$BENCH_DAYS"
seed_s=$(secs_since "$t0")
SETUP_ROWS+=("| \`closedloop seed --tickets $BENCH_TICKETS --days $BENCH_DAYS\` | $seed_s s ($(awk -v n="$BENCH_TICKETS" -v s="$seed_s" 'BEGIN { printf "%.0f", n / s }') tickets/s) |")
if [[ "$BENCH_REPLAN" == "1" ]]; then
    log "closedloop sla replan (deadlines for every open ticket)"
    t0=$(date +%s.%N)
    run_bg "$LOG_DIR/replan.log" "$BENCH_SEED_TIMEOUT" sla replan
    SETUP_ROWS+=("| \`closedloop sla replan\` | $(secs_since "$t0") s: $(tr '\r' '\n' <"$LOG_DIR/replan.log" | grep -v '^[[:space:]]*$' | tail -n1) |")
fi

dep_id=$(db "SELECT id FROM departments WHERE code = '$BENCH_DEPARTMENT'")
[[ -n "$dep_id" ]] || die "no department $BENCH_DEPARTMENT"
agent_id=$(db "SELECT id FROM users WHERE email = '$AGENT_EMAIL'")
lead_id=$(db "SELECT id FROM users WHERE email = '$LEAD_EMAIL'")
customer_id=$(db "SELECT id FROM users WHERE email = '$CUSTOMER_EMAIL'")
open_sql="status NOT IN ('resolved', 'closed', 'duplicate')"
# Fixtures the seed does not make: the agent's own open tickets, a customer's tickets (half of
# them open ones of the agent's department, so its workspace shows the requester's history),
# canned answers.
db "UPDATE tickets SET assignee_id = $agent_id WHERE id IN (SELECT id FROM tickets
      WHERE department_id = $dep_id AND $open_sql ORDER BY random() LIMIT $BENCH_ASSIGNED);
    UPDATE tickets SET requester_id = $customer_id WHERE id IN (
      SELECT id FROM (SELECT id FROM tickets WHERE department_id = $dep_id AND $open_sql ORDER BY random() LIMIT $(( BENCH_CUSTOMER_TICKETS / 2 )))
      UNION ALL SELECT id FROM (SELECT id FROM tickets WHERE department_id <> $dep_id ORDER BY random() LIMIT $(( BENCH_CUSTOMER_TICKETS - BENCH_CUSTOMER_TICKETS / 2 ))));
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20)
    INSERT INTO canned_responses (title, lang, body, department_id, created_by, created_at)
      SELECT 'Canned ' || i, CASE WHEN i % 2 = 0 THEN 'zh' ELSE 'en' END,
             'Thank you for your patience; we are looking into it. 感谢您的耐心等待，我们正在处理。 #' || i,
             CASE WHEN i % 4 = 0 THEN $dep_id ELSE NULL END, $lead_id, CAST(strftime('%s', 'now') AS INTEGER) * 1000
      FROM n;" || die "fixtures failed"
# The workspace page (and the search by number): the customer's newest open ticket in the agent's
# department, so the history, similar and duplicate sections all run.
ticket=$(db "SELECT number FROM tickets WHERE requester_id = $customer_id AND department_id = $dep_id AND $open_sql ORDER BY created_at DESC LIMIT 1")
[[ -n "$ticket" ]] || die "no ticket of the customer in $BENCH_DEPARTMENT"
counts=$(db "SELECT COUNT(*), SUM(department_id = $dep_id), SUM($open_sql), SUM(department_id = $dep_id AND $open_sql),
    SUM(first_response_due_at IS NOT NULL OR resolution_due_at IS NOT NULL) FROM tickets" | tr '|' ' ')
read -r n_all n_dep n_open n_dep_open n_due <<<"$counts"
SETUP_ROWS+=("| tickets / in \`$BENCH_DEPARTMENT\` / open / open in \`$BENCH_DEPARTMENT\` / with a deadline | $n_all / $n_dep / $n_open / $n_dep_open / $n_due |")
SETUP_ROWS+=("| fixtures (sqlite3) | $BENCH_ASSIGNED open tickets assigned to the agent; $BENCH_CUSTOMER_TICKETS tickets given to the customer; 20 canned responses |")
store_size=$(du -sh "$WORK/data" | cut -f1)
SETUP_ROWS+=("| store size (\`data/\`) | $store_size |")
log "tickets $n_all, in $BENCH_DEPARTMENT $n_dep, open $n_open, open in $BENCH_DEPARTMENT $n_dep_open, with deadline $n_due; store $store_size"

# --- server, sign-in, ticket number through the API ---------------------------------------------
section "pages"
start_server
record_rss "started on $n_all tickets"
out=$(cli token create --email "$ADMIN_EMAIL" 2>>"$LOG_DIR/cli.log") || die "closedloop token create failed"
TOKEN=$(printf '%s\n' "$out" | tail -n1 | tr -d '[:space:]')
code=$(curl -sS --max-time 30 -o "$LOG_DIR/ticket.json" -w '%{http_code}' \
    -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/tickets/$ticket") || code=000
[[ "$code" == "200" ]] || die "GET /api/v1/tickets/$ticket answered $code"
log "workspace ticket: $ticket ($(grep -o '"status":"[^"]*"' "$LOG_DIR/ticket.json" | head -n1))"

AGENT=$(sign_in "$AGENT_EMAIL" "agent-$PW_SUFFIX")
LEAD=$(sign_in "$LEAD_EMAIL" "lead-$PW_SUFFIX")
ADMIN=$(sign_in "$ADMIN_EMAIL" "admin-$PW_SUFFIX")
CUSTOMER=$(sign_in "$CUSTOMER_EMAIL" "customer-$PW_SUFFIX")
log "signed in: agent, supervisor, admin, customer"

healthz "start"
measure "\`/agent\` (department inbox)" agent "/agent" "$AGENT" 'id="tickets"'
measure "\`/agent?view=mine\`" agent "/agent?view=mine" "$AGENT" 'id="tickets"'
measure "\`/agent?view=unassigned\`" agent "/agent?view=unassigned" "$AGENT" 'id="tickets"'
measure "\`/agent?view=overdue\`" agent "/agent?view=overdue" "$AGENT" 'id="main"'
measure "\`/agent?view=due_soon\`" agent "/agent?view=due_soon" "$AGENT" 'id="main"'
measure "\`/agent?sort=due\`" agent "/agent?sort=due" "$AGENT" 'id="tickets"'
measure "\`/agent?q=$BENCH_SEARCH_WORD\`" agent "/agent?q=$BENCH_SEARCH_WORD" "$AGENT" 'id="tickets"'
measure "\`/agent?q=<ticket number>\`" agent "/agent?q=$ticket" "$AGENT" 'id="tickets"'
measure "\`/agent/board\`" agent "/agent/board" "$AGENT" 'id="board"'
measure "\`/agent/tickets/<number>\` (workspace)" agent "/agent/tickets/$ticket" "$AGENT" 'id="timeline"'
measure "\`/agent/canned\`" agent "/agent/canned" "$AGENT" 'id="canned-list"'
measure "\`/settings\`" agent "/settings" "$AGENT" 'id="lang"'
measure "\`/agent\` (2 departments)" supervisor "/agent" "$LEAD" 'id="tickets"'
measure "\`/agent/board?group=department\`" supervisor "/agent/board?group=department" "$LEAD" 'id="board"'
measure "\`/agent\` (all departments)" admin "/agent" "$ADMIN" 'id="tickets"'
measure "\`/agent?view=overdue\`" admin "/agent?view=overdue" "$ADMIN" 'id="main"'
measure "\`/agent?sort=due\`" admin "/agent?sort=due" "$ADMIN" 'id="tickets"'
measure "\`/agent/tickets/<number>\` (workspace)" admin "/agent/tickets/$ticket" "$ADMIN" 'id="timeline"'
measure "\`/admin/users\`" admin "/admin/users" "$ADMIN" 'id="users"'
measure "\`/admin/organisation\`" admin "/admin/organisation" "$ADMIN" 'id="departments"'
measure "\`/portal\`" customer "/portal" "$CUSTOMER" 'id="tickets"'
healthz "end"
record_rss "after the page runs"
stop_server

# --- summary ---------------------------------------------------------------------------------
section "summary"
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo "n/a")
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
summary_file="$RESULTS_DIR/pages.md"
{
    echo "# Closedloop web console pages"
    echo
    echo "- Date (UTC): $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "- Commit at start: $commit; binary: $("$BIN" --version 2>/dev/null | head -n1 || echo closedloop)"
    echo "- Machine: $(nproc) cores ($cpu), $mem RAM, kernel $(uname -r); SQLite"
    echo "- Load generator: $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2), \`bench/wrk/page.lua\`, -t1, ${BENCH_DURATION} per run, on the same machine, loopback"
    echo "- Command: \`BENCH_TICKETS=$BENCH_TICKETS BENCH_REPLAN=$BENCH_REPLAN bash bench/pages.sh\`"
    echo
    echo "## Store"
    echo
    echo "| | |"
    echo "|---|---|"
    printf '%s\n' "${SETUP_ROWS[@]}"
    echo
    echo "## Pages (wrk, server time as seen from loopback; ratio = req/s ÷ \`/healthz\` req/s at the same concurrency, first run)"
    echo
    echo "| Page | As | Conns | Requests | Req/s | p50 ms | p90 ms | p99 ms | max ms | vs \`/healthz\` | non-2xx | socket errors / timeouts |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "## Page checks (one curl each before the load: status, the page's own element, ticket links on it, size, time)"
    echo
    echo "| Page | As | HTTP | Marker | Ticket links | Bytes | curl ms |"
    echo "|---|---|---:|---|---:|---:|---:|"
    printf '%s\n' "${CHECK_ROWS[@]}"
    echo
    echo "## Server memory (/proc/PID/status)"
    echo
    echo "| After | VmRSS MiB | VmHWM MiB |"
    echo "|---|---:|---:|"
    printf '%s\n' "${RSS_ROWS[@]}"
    echo
    echo "## Pages with p99 above $BENCH_TARGET_MS ms"
    echo
    if [[ ${#SLOW[@]} -eq 0 ]]; then echo "None."; else printf -- '- %s\n' "${SLOW[@]}"; fi
} >"$summary_file"
cp "$summary_file" "$RESULTS_DIR/pages-$(date -u +%Y%m%dT%H%M%SZ).md"
cat "$summary_file"
log "summary written to $summary_file; logs in $LOG_DIR"
