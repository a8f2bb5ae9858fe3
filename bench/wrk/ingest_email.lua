-- POST /api/v1/intake/email with a different raw message (unique Message-ID) on every request.
-- Needs CLOSEDLOOP_TOKEN (an administrator's API token) in the environment.
dofile((os.getenv("BENCH_WRK_DIR") or "bench/wrk") .. "/common.lua")

local token = os.getenv("CLOSEDLOOP_TOKEN")
if token == nil or token == "" then
  error("CLOSEDLOOP_TOKEN is not set")
end

local bodies = {
  "订单一直没有发货，已经等了一个星期，请尽快处理。",
  "I was charged twice for one order and the refund has been delayed for a week.",
  "无法登录账号，重置密码的短信一直收不到。",
  "The parcel is marked as delivered but it never arrived; the courier does not answer.",
}

local headers = {
  ["Content-Type"] = "message/rfc822",
  ["Accept"] = "application/json",
  ["Authorization"] = "Bearer " .. token,
}

local counter = 0
function request()
  counter = counter + 1
  local tid = thread_id or 0
  local text = bodies[(counter % #bodies) + 1]
  local raw = string.format(
    "From: Customer %d <c%d.%d@example.com>\r\nTo: support@shop.example\r\n" ..
    "Subject: =?UTF-8?B?5oqV6K+J?= %d\r\nMessage-ID: <bench.%d.%d@example.com>\r\n" ..
    "Date: Sun, 22 Nov 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\n" ..
    "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
    counter, tid, counter, counter, tid, counter, text)
  return wrk.format("POST", "/api/v1/intake/email", headers, raw)
end
