#!/usr/bin/env bash
# Mail intake benchmark (issues 3 and 12), SQLite, release build, one run:
#   1. BENCH_MAILS messages (default 10,000) written to a folder: bilingual plain text, a tenth
#      labelled GB2312 (GBK bytes), a tenth base64 HTML-only, a twentieth with a PNG attached.
#   2. `closedloop ingest-email --dir` on a fresh database: messages filed per second.
#   3. `closedloop serve` on another fresh database: POST /api/v1/tickets with wrk (-c64), the
#      plain ticket-creation rate (the baseline), then POST /api/v1/intake/email (-c64), then
#      BENCH_WEBHOOKS signed webhook messages (default 20,000, 64 at a time, five per thread) with
#      crates/server/examples/webhook_load.rs.
# Markdown summary on stdout and in bench/results/mail.md.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
BIN="${BENCH_BIN:-$REPO_ROOT/target/release/closedloop}"
MAILS="${BENCH_MAILS:-10000}"
DURATION="${BENCH_DURATION:-15s}"
WEBHOOKS="${BENCH_WEBHOOKS:-20000}"
while read -r v; do unset "$v"; done < <(compgen -e | grep '^CLOSEDLOOP_' || true)
export BENCH_WRK_DIR="$BENCH_DIR/wrk"

ts() { date -u +%H:%M:%S; }
log() { printf '[%s] %s\n' "$(ts)" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$(ts)" "$*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk is needed (apt-get install wrk)"
command -v python3 >/dev/null || die "python3 is needed to write the messages"
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 && -z "${BENCH_BIN:-}" ]]; then
    (cd "$REPO_ROOT" && cargo build --release -p closedloop --locked >&2)
fi
(cd "$REPO_ROOT" && cargo build --release -p closedloop-server --example webhook_load --locked >&2)
LOAD="$REPO_ROOT/target/release/examples/webhook_load"
[[ -x "$BIN" ]] || die "no binary at $BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/closedloop-mail-bench.XXXXXX")
trap 'kill "${SERVER:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

log "writing $MAILS messages"
python3 - "$WORK/inbox" "$MAILS" <<'PY'
import base64, os, sys
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out)
png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
texts = ["订单一直没有发货，已经等了一个星期，请尽快处理。客服电话也打不通。",
         "I was charged twice for order 4411 and the refund has been delayed for a week.",
         "無法登入帳號，重設密碼的簡訊一直收不到。",
         "The app crashes every time I open my cart on Android 14."]
for i in range(n):
    text = texts[i % len(texts)] + f" (#{i})"
    head = (f"From: Customer {i} <c{i}@example{i % 97}.com>\r\nTo: support@shop.example\r\n"
            f"Subject: Feedback {i}\r\nMessage-ID: <bench{i}@example.com>\r\n"
            "Date: Sun, 22 Nov 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\n")
    if i % 10 == 3:
        body = ("您好，" + text).encode("gbk")
        msg = head.encode() + b"Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body + b"\r\n"
    elif i % 10 == 7:
        html = f"<html><body><p>{text}</p><p>谢谢</p></body></html>".encode()
        msg = (head + "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n").encode() + base64.encodebytes(html).replace(b"\n", b"\r\n")
    elif i % 20 == 11:
        msg = (head + 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
               + text + '\r\n--b\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename="s.png"\r\n'
               'Content-Transfer-Encoding: base64\r\n\r\n').encode() + base64.encodebytes(png).replace(b"\n", b"\r\n") + b"--b--\r\n"
    else:
        msg = (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n").encode()
    with open(os.path.join(out, f"{i:06d}.eml"), "wb") as f:
        f.write(msg)
PY
size=$(du -sh "$WORK/inbox" | cut -f1)

mkdir "$WORK/folder" && cd "$WORK/folder"
"$BIN" migrate >&2
log "closedloop ingest-email --dir ($MAILS messages, $size)"
t0=$(date +%s.%N)
"$BIN" ingest-email --dir "$WORK/inbox" > "$WORK/folder.out"
t1=$(date +%s.%N)
folder_s=$(echo "$t1 - $t0" | bc -l)
summary=$(tail -1 "$WORK/folder.out")
folder_rate=$(echo "$MAILS / $folder_s" | bc -l)

mkdir "$WORK/http" && cd "$WORK/http"
SECRET=$("$BIN" webhook add --name bench --channel chat 2>/dev/null | tail -1)
CLOSEDLOOP_RATE_LIMIT__PUBLIC_BURST=100000000 CLOSEDLOOP_RATE_LIMIT__WEBHOOK_BURST=100000000 \
CLOSEDLOOP_ADMIN_PASSWORD=bench-admin-pw "$BIN" serve --listen 127.0.0.1:0 > serve.out 2> serve.err &
SERVER=$!
for _ in $(seq 200); do grep -q http:// serve.out 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o 'http://[^ ]*' serve.out | head -1 | sed 's#/$##')
for _ in $(seq 200); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done
export CLOSEDLOOP_TOKEN=$("$BIN" token create --email admin@closedloop.local 2>/dev/null | tail -1)
rate() { grep -o 'rps=[0-9.]*' | head -1 | cut -d= -f2; }
p99() { grep -o 'p99_ms=[0-9.]*' | head -1 | cut -d= -f2; }
log "wrk POST /api/v1/tickets ($DURATION)"
create=$(wrk -t2 -c64 -d"$DURATION" -s "$BENCH_WRK_DIR/create_ticket.lua" "$URL/api/v1/tickets")
log "wrk POST /api/v1/intake/email ($DURATION)"
mail=$(wrk -t2 -c64 -d"$DURATION" -s "$BENCH_WRK_DIR/ingest_email.lua" "$URL/api/v1/intake/email")
log "webhook_load: $WEBHOOKS signed messages, 64 at a time"
hook=$("$LOAD" "$URL" bench "$SECRET" "$WEBHOOKS" 64)
create_rate=$(echo "$create" | rate); mail_rate=$(echo "$mail" | rate)
hook_rate=$(echo "$hook" | grep -o '= [0-9]* requests/s' | grep -o '[0-9]*')
hook_p99=$(echo "$hook" | grep -o 'p99 [0-9.]*' | cut -d' ' -f2)

mkdir -p "$BENCH_DIR/results"
{
    echo "| Intake ($(date -u +%Y-%m-%d), SQLite) | Rate/s | p99 ms | vs ticket creation |"
    echo "|---|---:|---:|---:|"
    printf '| `POST /api/v1/tickets` (baseline, wrk -c64) | %.0f | %s | 1.00 |\n' "$create_rate" "$(echo "$create" | p99)"
    printf '| `POST /api/v1/intake/email` (wrk -c64) | %.0f | %s | %.2f |\n' "$mail_rate" "$(echo "$mail" | p99)" "$(echo "$mail_rate / $create_rate" | bc -l)"
    printf '| `POST /api/v1/intake/webhook/{source}` (signed, 64 at a time, 5 per thread) | %.0f | %s | %.2f |\n' "$hook_rate" "$hook_p99" "$(echo "$hook_rate / $create_rate" | bc -l)"
    printf '| `ingest-email --dir`, %s messages (%s), one process | %.0f | - | %.2f |\n' "$MAILS" "$size" "$folder_rate" "$(echo "$folder_rate / $create_rate" | bc -l)"
    echo
    echo "Folder run: $summary, $(printf '%.1f' "$folder_s") s."
} | tee "$BENCH_DIR/results/mail.md"
