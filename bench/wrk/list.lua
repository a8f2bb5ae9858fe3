-- GET /api/v1/tickets?<filters>: the path and query come from the URL given to wrk.
-- Needs CLOSEDLOOP_TOKEN (a bearer token) in the environment.
-- Usage: CLOSEDLOOP_TOKEN=... wrk -t2 -c4 -d15s --latency -s bench/wrk/list.lua \
--          'http://127.0.0.1:PORT/api/v1/tickets?status=received&limit=50'
dofile((os.getenv("BENCH_WRK_DIR") or "bench/wrk") .. "/common.lua")

local token = os.getenv("CLOSEDLOOP_TOKEN")
if token == nil or token == "" then
  error("CLOSEDLOOP_TOKEN is not set")
end
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Accept"] = "application/json"
