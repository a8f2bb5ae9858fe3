#!/usr/bin/env bash
# Query plans and timings of the web console's list queries on a database kept by
# `BENCH_KEEP=1 bash bench/pages.sh` (the path is printed at the end of that run), as the code
# builds them today (crates/store/src/sql/tickets.rs list_tickets_impl with the inbox filters of
# crates/server/src/web/agent.rs apply_view and the workspace's neighbours()), then with the
# indexes and query changes proposed in BENCHMARKS.md. Everything runs inside one transaction
# that is rolled back, so the database is left as it was.
#
#   bash bench/pages_explain.sh /tmp/closedloop-pages.XXXXXX/data/closedloop.db
#
# Output: for every query its EXPLAIN QUERY PLAN and `Run Time` of one execution (rows counted,
# so that printing does not count); on stdout and in bench/results/pages-explain.txt.
set -euo pipefail

DB=${1:?usage: bash bench/pages_explain.sh WORKDIR/data/closedloop.db}
[[ -f "$DB" ]] || { echo "no database at $DB" >&2; exit 2; }
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEPARTMENT="${BENCH_DEPARTMENT:-tech_support}"
AGENT_EMAIL="${BENCH_AGENT_EMAIL:-agent@bench.local}"
CUSTOMER_EMAIL="${BENCH_CUSTOMER_EMAIL:-customer@bench.local}"

q() { sqlite3 -bail "$DB" "$@"; }
agent=$(q "SELECT id FROM users WHERE email = '$AGENT_EMAIL'")
dep=$(q "SELECT id FROM departments WHERE code = '$DEPARTMENT'")
customer=$(q "SELECT id FROM users WHERE email = '$CUSTOMER_EMAIL'")
[[ -n "$agent" && -n "$dep" && -n "$customer" ]] || { echo "bench users or department not found" >&2; exit 2; }
number=$(q "SELECT number FROM tickets WHERE requester_id = $customer AND department_id = $dep
    AND status NOT IN ('resolved', 'closed', 'duplicate') ORDER BY created_at DESC LIMIT 1")
category=$(q "SELECT category FROM tickets WHERE number = '$number'")
now=$(( $(date +%s) * 1000 ))

# TICKET_SELECT of crates/store/src/sql/rows.rs.
SEL="SELECT t.id, t.number, t.channel, t.status, t.title, t.title_generated, t.description, t.evidence,
 t.order_number, t.expected_resolution, t.region, t.category, t.nature, t.priority, t.severity,
 t.impact_scope, d.code AS department, t.assignee_id, a.name AS assignee_name, t.requester_id,
 r.name AS requester_name, t.requester_ip, t.requester_user_agent, m.number AS duplicate_of,
 t.created_at, t.updated_at, t.first_response_at, t.accepted_at, t.resolved_at, t.closed_at,
 t.first_response_due_at, t.resolution_due_at
 FROM tickets t LEFT JOIN departments d ON d.id = t.department_id
 LEFT JOIN users a ON a.id = t.assignee_id LEFT JOIN users r ON r.id = t.requester_id
 LEFT JOIN tickets m ON m.id = t.duplicate_of"
# rows.rs scope() for an agent of one department.
SCOPE="AND (t.assignee_id = $agent OR t.created_by = $agent OR t.department_id IN ($dep)
 OR EXISTS (SELECT 1 FROM ticket_coordinators sc WHERE sc.ticket_id = t.id AND sc.department_id IN ($dep)))"
# apply_view's "open": every open status listed.
OPEN_IN="AND t.status IN ('received', 'accepted', 'in_progress', 'waiting_on_user', 'solution_proposed', 'reopened', 'appeal')"
# Proposed: the same set written as the complement, matching the partial indexes below.
OPEN_NOT_IN="AND t.status NOT IN ('resolved', 'closed', 'duplicate')"
NEWEST="ORDER BY t.created_at DESC, t.id DESC"
BY_DUE="ORDER BY CASE WHEN t.first_response_due_at IS NULL AND t.resolution_due_at IS NULL THEN 1 ELSE 0 END,
 COALESCE(t.first_response_due_at, t.resolution_due_at), t.id"
LIKE_NUMBER="AND (t.title LIKE '%$number%' ESCAPE '\\' OR t.description LIKE '%$number%' ESCAPE '\\' OR t.number = '$number')"
# probe_phrase() of crates/server/src/web/agent.rs: the title's first run of (up to four) Chinese
# characters, else its longest word of five letters or more, lowercased.
phrase=$(q "SELECT title FROM tickets WHERE number = '$number'" | python3 -c '
import re, sys
t = sys.stdin.read().strip()
m = re.search(r"[\u3400-\u9fff]+", t)
if m and len(m.group(0)) >= 2:
    print(m.group(0)[:4])
else:
    w = [x for x in re.split(r"\W+", t) if len(x) >= 5]
    print(max(w, key=len).lower() if w else "")
')
# One line each, for the name|sql list below.
SEL=$(tr -s '\n' ' ' <<<"$SEL")
SCOPE=$(tr -s '\n' ' ' <<<"$SCOPE")
BY_DUE=$(tr -s '\n' ' ' <<<"$BY_DUE")

# queries OPEN_FILTER: name|sql lines for the pages that list tickets.
queries() {
    local open=$1
    cat <<EOF
agent /agent (department view)|$SEL WHERE 1 = 1 $SCOPE $open $NEWEST LIMIT 51
admin /agent (department view, no scope)|$SEL WHERE 1 = 1 $open $NEWEST LIMIT 51
agent /agent?view=overdue|$SEL WHERE 1 = 1 $SCOPE $open AND (t.first_response_due_at < $now OR t.resolution_due_at < $now) $NEWEST LIMIT 51
agent /agent?sort=due|$SEL WHERE 1 = 1 $SCOPE $open $BY_DUE LIMIT 50
agent /agent?q=<number> (today: LIKE over every visible open ticket)|$SEL WHERE 1 = 1 $SCOPE $open $LIKE_NUMBER $NEWEST LIMIT 51
agent /agent?q=checkout|$SEL WHERE 1 = 1 $SCOPE $open AND (t.title LIKE '%checkout%' ESCAPE '\\' OR t.description LIKE '%checkout%' ESCAPE '\\' OR t.number = 'checkout') $NEWEST LIMIT 51
agent workspace: tickets merged into this one|$SEL WHERE 1 = 1 $SCOPE AND t.duplicate_of = (SELECT id FROM tickets WHERE number = '$number') $NEWEST LIMIT 21
agent workspace: similar resolved tickets|$SEL WHERE 1 = 1 $SCOPE AND t.status IN ('resolved', 'closed') AND t.category = '$category' AND (t.title LIKE '%$phrase%' ESCAPE '\\' OR t.description LIKE '%$phrase%' ESCAPE '\\' OR t.number = '$phrase') $NEWEST LIMIT 7
agent /agent/board: one column (received)|$SEL WHERE 1 = 1 $SCOPE AND t.status IN ('received') $NEWEST LIMIT 41
EOF
}

# run LABEL OPEN_FILTER: plan and one timed execution of each query.
run() {
    local label=$1 open=$2 name sql
    echo "==================== $label ===================="
    while IFS='|' read -r name sql; do
        echo
        echo "--- $name"
        printf '%s\n' "EXPLAIN QUERY PLAN $sql;"
        printf '%s\n' ".timer on"
        printf '%s\n' "SELECT 'rows: ' || COUNT(*) FROM ($sql);"
        printf '%s\n' ".timer off"
    done < <(queries "$open")
}

out="$BENCH_DIR/results/pages-explain.txt"
mkdir -p "$BENCH_DIR/results"
{
    echo "-- $(date -u +%Y-%m-%dT%H:%M:%SZ) $DB: agent $agent, department $DEPARTMENT ($dep), ticket $number"
    echo ".print $(q "SELECT COUNT(*) || ' tickets, ' || SUM(status NOT IN ('resolved','closed','duplicate')) || ' open' FROM tickets")"
    run "as built today" "$OPEN_IN" | sed 's/^\(=\|---\)/.print \1/; s/^$/.print/'
    echo "BEGIN;"
    echo ".print"
    echo ".print ==================== proposed indexes (created inside a transaction, rolled back) ===================="
    echo ".timer on"
    echo "CREATE INDEX tickets_open ON tickets (created_at DESC, id DESC) WHERE status NOT IN ('resolved', 'closed', 'duplicate');"
    echo "CREATE INDEX tickets_open_due ON tickets (CASE WHEN first_response_due_at IS NULL AND resolution_due_at IS NULL THEN 1 ELSE 0 END, COALESCE(first_response_due_at, resolution_due_at), id) WHERE status NOT IN ('resolved', 'closed', 'duplicate');"
    echo "CREATE INDEX tickets_duplicate_of ON tickets (duplicate_of, created_at DESC, id DESC) WHERE duplicate_of IS NOT NULL;"
    echo ".timer off"
    run "with the indexes, open written as NOT IN" "$OPEN_NOT_IN" | sed 's/^\(=\|---\)/.print \1/; s/^$/.print/'
    echo ".print"
    echo ".print --- agent /agent?q=<number>, proposed: a query that is a ticket number looks the number up"
    echo "EXPLAIN QUERY PLAN $SEL WHERE 1 = 1 $SCOPE $OPEN_NOT_IN AND t.number = '$number' $NEWEST LIMIT 51;"
    echo ".timer on"
    echo "SELECT 'rows: ' || COUNT(*) FROM ($SEL WHERE 1 = 1 $SCOPE $OPEN_NOT_IN AND t.number = '$number' $NEWEST LIMIT 51);"
    echo ".timer off"
    echo "ROLLBACK;"
} | sqlite3 -bail "$DB" 2>&1 | tee "$out"
