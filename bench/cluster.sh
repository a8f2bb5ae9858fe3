#!/usr/bin/env bash
# The production layout of docs/deploy.md on loopback: nginx in front of three `closedloop serve`
# instances on one PostgreSQL database. It
#   1. installs nginx from Debian if it is missing, builds the release binaries;
#   2. makes a fresh database, starts nginx (its own configuration in a temporary folder) and,
#      through `closedloop-load mix`, three instances on fixed ports behind it;
#   3. runs the mixed load (70% creation, 20% agent reads, 10% transitions and replies) through
#      nginx, after a /healthz ceiling through the same nginx;
#   4. checks from nginx's access log that every instance answered a share of the requests and
#      that no request failed at the proxy (502/504);
#   5. backs the database up with pg_dump, restores it into another database and compares the
#      ticket counts; drops both.
# Knobs: CLUSTER_SECONDS (20), CLUSTER_CLIENTS (64), BENCH_SKIP_BUILD=1, BENCH_PG_URL
# (postgres://postgres@127.0.0.1:5432/postgres), CLUSTER_INSTANCES (3).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
cd "$REPO_ROOT"
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

SECONDS_RUN="${CLUSTER_SECONDS:-20}"
CLIENTS="${CLUSTER_CLIENTS:-64}"
INSTANCES="${CLUSTER_INSTANCES:-3}"
PG_SERVER="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export DEBIAN_FRONTEND=noninteractive
while read -r v; do unset "$v"; done < <(compgen -e | grep '^CLOSEDLOOP_' || true)

if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
    log "installing nginx"
    apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
"$NGINX" -v

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    wait_for_cargo
    log "building the release binaries"
    cargo build --release --locked -p closedloop -p closedloop-load >&2
fi

WORK=$(mktemp -d -t closedloop-cluster.XXXXXX)
# nginx's workers (nobody) write request and response buffers under it.
chmod 711 "$WORK"
DB="closedloop_cluster_$$"
DB_URL="${PG_SERVER%/*}/$DB"
RESTORED="${DB}_restored"
NGINX_PID=""
cleanup() {
    [[ -n "$NGINX_PID" ]] && kill "$NGINX_PID" 2>/dev/null || true
    psql "$PG_SERVER" -qXc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    psql "$PG_SERVER" -qXc "DROP DATABASE IF EXISTS $RESTORED WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

psql "$PG_SERVER" -qXc "CREATE DATABASE $DB"

# Distinct free ports (two asks in a row may be given the same one).
PORTS=()
while (( ${#PORTS[@]} < INSTANCES + 1 )); do
    p=$(free_port)
    [[ " ${PORTS[*]} " == *" $p "* ]] || PORTS+=("$p")
done
LB_PORT=${PORTS[0]}
PORTS=("${PORTS[@]:1}")
UPSTREAMS=""
for p in "${PORTS[@]}"; do UPSTREAMS+="        server 127.0.0.1:$p max_fails=1 fail_timeout=2s;"$'\n'; done

# The configuration of docs/deploy.md, with loopback ports and the folders of this run.
mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    log_format upstream '\$status \$upstream_addr \$request_method \$request_time';
    access_log $WORK/nginx/logs/access.log upstream buffer=256k;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    upstream closedloop {
        least_conn;
$UPSTREAMS        keepalive 64;
    }
    server {
        listen 127.0.0.1:$LB_PORT;
        client_max_body_size 12m;
        location / {
            proxy_pass http://closedloop;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
            # Another instance gets the request when one is down; never a POST (its client
            # retries with its Idempotency-Key instead).
            proxy_next_upstream error timeout http_502;
        }
    }
}
CONF
"$NGINX" -t -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" 2>&1 | tail -n1 >&2
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!

ports_csv=$(IFS=,; echo "${PORTS[*]}")
section "mixed load through nginx, $INSTANCES instances on PostgreSQL"
"$REPO_ROOT/target/release/closedloop-load" --bin "$REPO_ROOT/target/release/closedloop" \
    --clients "$CLIENTS" --seconds "$SECONDS_RUN" \
    mix --backend postgres --database-url "$DB_URL" --instances "$INSTANCES" \
    --setting CLOSEDLOOP_TRUST_FORWARDED_FOR=true \
    --ports "$ports_csv" --via "http://127.0.0.1:$LB_PORT" | tee "$WORK/mix.md"

kill -HUP "$NGINX_PID" 2>/dev/null || true   # flush the buffered access log
sleep 1
section "requests per instance (nginx access log)"
fail=0
total=$(wc -l <"$WORK/nginx/logs/access.log")
(( total > 0 )) || die "nginx logged no requests"
for p in "${PORTS[@]}"; do
    n=$(grep -c " 127.0.0.1:$p " "$WORK/nginx/logs/access.log" || true)
    printf '127.0.0.1:%s  %s requests (%s%%)\n' "$p" "$n" "$(awk -v n="$n" -v t="$total" 'BEGIN { printf "%.1f", 100 * n / t }')"
    if (( n * INSTANCES * 4 < total )); then log "instance on $p got less than a quarter of its share"; fail=1; fi
done
bad=$(awk '$1 == 502 || $1 == 504' "$WORK/nginx/logs/access.log" | wc -l)
echo "requests: $total; 502/504 at the proxy: $bad"
(( bad == 0 )) || fail=1

section "backup and restore with pg_dump"
pg_dump -Fc -f "$WORK/closedloop.dump" "$DB_URL"
psql "$PG_SERVER" -qXc "CREATE DATABASE $RESTORED"
pg_restore --no-owner -d "${PG_SERVER%/*}/$RESTORED" "$WORK/closedloop.dump"
a=$(psql "$DB_URL" -XAtc "SELECT count(*) FROM tickets")
b=$(psql "${PG_SERVER%/*}/$RESTORED" -XAtc "SELECT count(*) FROM tickets")
echo "tickets: $a in the database, $b in the restored copy ($(du -h "$WORK/closedloop.dump" | cut -f1) dump)"
[[ "$a" == "$b" && "$a" -gt 0 ]] || fail=1

if (( fail )); then echo "RESULT: FAIL"; exit 1; fi
echo "RESULT: PASS"
