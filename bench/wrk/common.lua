-- Shared by the wrk scripts in this folder (loaded with dofile).
-- done() prints one machine-readable line that bench/run.sh parses; wrk's own human-readable
-- report (with --latency) is printed above it and kept in the logs.
-- wrk reports times in microseconds.

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  local rps = 0
  if secs > 0 then rps = summary.requests / secs end
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f" ..
    " max_ms=%.3f err_connect=%d err_read=%d err_write=%d err_timeout=%d http_errors=%d\n",
    summary.requests, secs, rps,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.timeout, e.status))
end

-- Give each wrk thread its own id so bodies differ across threads too.
local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_id", thread_count)
end
