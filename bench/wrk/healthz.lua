-- GET /healthz: the server's request-rate ceiling (includes its database check).
-- Usage: wrk -t2 -c64 -d10s --latency -s bench/wrk/healthz.lua http://127.0.0.1:PORT/healthz
dofile((os.getenv("BENCH_WRK_DIR") or "bench/wrk") .. "/common.lua")
