-- GET a search (or listing) with a different query each time: BENCH_PATH is the path and query
-- string up to the text (e.g. "/api/v1/search?limit=20&q="), BENCH_QUERIES a file of URL-encoded
-- queries one per line, BENCH_TOKEN the Bearer token. Non-2xx answers are counted; done()
-- prints the common BENCH_RESULT line plus `non2xx=N`.
dofile((os.getenv("BENCH_WRK_DIR") or "bench/wrk") .. "/common.lua")

local token = os.getenv("BENCH_TOKEN") or error("BENCH_TOKEN is not set")
local prefix = os.getenv("BENCH_PATH") or error("BENCH_PATH is not set")
local queries = {}
for line in io.lines(os.getenv("BENCH_QUERIES") or error("BENCH_QUERIES is not set")) do
  if line ~= "" then table.insert(queries, line) end
end
if #queries == 0 then error("no queries") end

local threads = {}
local common_setup = setup
function setup(thread)
  common_setup(thread)
  table.insert(threads, thread)
end

local n = 0
function init(args)
  n = (tonumber(wrk.thread:get("thread_id")) or 1) * 7919
end

function request()
  n = n + 1
  local q = queries[(n % #queries) + 1]
  return wrk.format("GET", prefix .. q, { ["Authorization"] = "Bearer " .. token })
end

non2xx = 0
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

local common_done = done
function done(summary, latency, requests)
  common_done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (tonumber(t:get("non2xx")) or 0) end
  io.write(string.format("non2xx=%d\n", bad))
end
