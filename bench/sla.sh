#!/usr/bin/env bash
# SLA scheduler benchmark (issue 5), SQLite, release build:
#   1. `closedloop seed` BENCH_TICKETS tickets (default 1,000,000), all made open, each with a
#      resolution deadline a day ahead in `sla_due`; BENCH_DUE of them (default 10,000) also get
#      a first-response breach one minute in the past.
#   2. `closedloop sla fire`: time to find and apply the due escalations (timeline entry,
#      priority raise, supervisor notification, each in the transaction that marks it done).
#      Baseline in the same run: the seed rate (tickets written per second in bulk).
#   3. Idle cost: `closedloop serve` on that database with nothing due, CPU time over
#      BENCH_IDLE_SECONDS (default 60) with the scheduler polling every second, and again with it
#      polling once a minute (the baseline: everything else a resting server does).
# Markdown summary on stdout and in bench/results/sla.md.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
BIN="${BENCH_BIN:-$REPO_ROOT/target/release/closedloop}"
TICKETS="${BENCH_TICKETS:-1000000}"
DUE="${BENCH_DUE:-10000}"
IDLE="${BENCH_IDLE_SECONDS:-60}"
while read -r v; do unset "$v"; done < <(compgen -e | grep '^CLOSEDLOOP_' || true)

ts() { date -u +%H:%M:%S; }
log() { printf '[%s] %s\n' "$(ts)" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$(ts)" "$*" >&2; exit 1; }
command -v sqlite3 >/dev/null || die "sqlite3 is needed (apt-get install sqlite3)"
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 && -z "${BENCH_BIN:-}" ]]; then
    (cd "$REPO_ROOT" && cargo build --release -p closedloop --locked >&2)
fi
[[ -x "$BIN" ]] || die "no binary at $BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/closedloop-sla-bench.XXXXXX")
trap 'kill "${SERVER:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
cd "$WORK"
DB="$WORK/data/closedloop.db"
"$BIN" migrate >&2
printf 'admin-password-1\n' | "$BIN" user add --email admin@bench.local --name Admin --role admin --password-stdin >&2
printf 'lead-password-1\n' | "$BIN" user add --email lead@bench.local --name Lead --role supervisor \
    --department tech_support --department payment --password-stdin >&2

log "seeding $TICKETS tickets"
t0=$(date +%s.%N)
"$BIN" seed --tickets "$TICKETS" --days 30 >&2
t1=$(date +%s.%N)
seed_s=$(echo "$t1 - $t0" | bc -l)

log "opening every ticket and planning $TICKETS future and $DUE due deadlines"
now_ms=$(( $(date +%s) * 1000 ))
sqlite3 "$DB" <<SQL
UPDATE tickets SET status = 'in_progress', resolved_at = NULL, closed_at = NULL;
INSERT INTO sla_due (ticket_id, clock, stage, cycle_start, due_at, priority)
    SELECT id, 'resolution', 'breach', created_at, $now_ms + 86400000, priority FROM tickets;
INSERT INTO sla_due (ticket_id, clock, stage, cycle_start, due_at, priority)
    SELECT id, 'first_response', 'breach', created_at, $now_ms - 60000, priority
    FROM tickets ORDER BY random() LIMIT $DUE;
SQL
open=$(sqlite3 "$DB" "SELECT count(*) FROM tickets WHERE status = 'in_progress'")
pending=$(sqlite3 "$DB" "SELECT count(*) FROM sla_due WHERE done_at IS NULL")

log "closedloop sla fire"
t0=$(date +%s.%N)
fire_out=$("$BIN" sla fire)
t1=$(date +%s.%N)
fire_s=$(echo "$t1 - $t0" | bc -l)
log "$fire_out"
acted=$(sqlite3 "$DB" "SELECT count(*) FROM timeline WHERE kind = 'sla'")
raised=$(sqlite3 "$DB" "SELECT count(*) FROM timeline WHERE field = 'priority' AND body = 'sla_escalation'")
told=$(sqlite3 "$DB" "SELECT count(*) FROM notifications")
[[ "$acted" == "$DUE" ]] || die "expected $DUE escalations on the timeline, found $acted"

# idle_ticks POLL_MS: CPU ticks (1/100 s) the server uses over IDLE seconds with nothing due.
idle_ticks() {
    local poll=$1 log="$WORK/serve-$1.log" port
    port=$(( 20000 + RANDOM % 20000 ))
    CLOSEDLOOP_SLA_POLL_MS=$poll CLOSEDLOOP_ADMIN_PASSWORD=unused-password "$BIN" serve \
        --listen "127.0.0.1:$port" >"$log" 2>&1 &
    SERVER=$!
    # Start-up work (the duplicate index of the recent open tickets) is not idle time.
    for _ in $(seq 1 600); do grep -q "duplicate index ready" "$log" && break; sleep 0.5; done
    grep -q "duplicate index ready" "$log" || die "server did not finish starting; see $log"
    sleep 2
    local a b
    a=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
    sleep "$IDLE"
    b=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
    echo $(( b - a ))
}
log "idle server, scheduler every second, ${IDLE}s"
busy=$(idle_ticks 1000)
log "idle server, scheduler every minute (baseline), ${IDLE}s"
base=$(idle_ticks 60000)

pct() { echo "scale=3; $1 / $IDLE" | bc -l; }   # ticks are 1/100 s: ticks/seconds = % of a core
out="$BENCH_DIR/results/sla.md"
mkdir -p "$BENCH_DIR/results"
{
    echo "# SLA scheduler benchmark"
    echo
    echo "- Date (UTC): $(date -u +%Y-%m-%dT%H:%M:%SZ); commit $(cd "$REPO_ROOT" && git rev-parse --short HEAD)"
    echo "- SQLite, $open open tickets, $pending pending deadlines of which $DUE due"
    echo
    echo "| Measure | Value |"
    echo "|---|---:|"
    printf '| seed (baseline): tickets written per second | %.0f |\n' "$(echo "$TICKETS / $seed_s" | bc -l)"
    printf '| `closedloop sla fire`: %s due escalations found and applied | %.2f s |\n' "$DUE" "$fire_s"
    printf '| escalations applied per second | %.0f |\n' "$(echo "$DUE / $fire_s" | bc -l)"
    printf '| ratio to the seed rate | %.2f |\n' "$(echo "($DUE / $fire_s) / ($TICKETS / $seed_s)" | bc -l)"
    echo "| timeline entries / priority raises / notifications | $acted / $raised / $told |"
    printf '| idle server CPU, scheduler every 1 s | %s%% of one core |\n' "$(pct "$busy")"
    printf '| idle server CPU, scheduler every 60 s (baseline) | %s%% of one core |\n' "$(pct "$base")"
    printf '| scheduler cost when nothing is due | %s%% of one core |\n' "$(pct $(( busy - base )))"
} | tee "$out"
