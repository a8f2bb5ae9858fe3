-- GET a web console page as a signed-in user: the path and query come from the URL given to wrk,
-- the session from BENCH_COOKIE (e.g. "closedloop_session=..."), sent as a browser would.
-- Every answer that is not 2xx is counted (wrk itself counts only >= 400, so a 303 to /login
-- would pass unnoticed); done() prints the common BENCH_RESULT line plus `non2xx=N first=CODE`.
-- Usage: BENCH_COOKIE='closedloop_session=...' wrk -t1 -c1 -d10s --latency -s bench/wrk/page.lua \
--          'http://127.0.0.1:PORT/agent?view=mine'
dofile((os.getenv("BENCH_WRK_DIR") or "bench/wrk") .. "/common.lua")

local cookie = os.getenv("BENCH_COOKIE")
if cookie == nil or cookie == "" then
  error("BENCH_COOKIE is not set")
end
wrk.method = "GET"
wrk.headers["Cookie"] = cookie
wrk.headers["Accept"] = "text/html"
wrk.headers["Accept-Language"] = "en"

local threads = {}
local common_setup = setup
function setup(thread)
  common_setup(thread)
  table.insert(threads, thread)
end

-- Per-thread counters (each wrk thread has its own Lua state).
non2xx = 0
first = 0
function response(status, headers, body)
  if first == 0 then first = status end
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local bad, code = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + (tonumber(t:get("non2xx")) or 0)
    local f = tonumber(t:get("first")) or 0
    if code == 0 then code = f end
  end
  -- One line, parsed by bench/pages.sh: the common fields plus the non-2xx count.
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f" ..
    " max_ms=%.3f err_connect=%d err_read=%d err_write=%d err_timeout=%d http_errors=%d" ..
    " non2xx=%d first=%d\n",
    summary.requests, summary.duration / 1e6,
    (summary.duration > 0) and summary.requests / (summary.duration / 1e6) or 0,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, summary.errors.status, bad, code))
end
