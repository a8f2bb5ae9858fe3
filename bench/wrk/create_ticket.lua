-- POST /api/v1/tickets with a varied bilingual (zh/en) body on every request.
-- Needs CLOSEDLOOP_TOKEN (a bearer token) in the environment.
-- Usage: CLOSEDLOOP_TOKEN=... wrk -t2 -c64 -d20s --latency -s bench/wrk/create_ticket.lua \
--          http://127.0.0.1:PORT/api/v1/tickets
dofile((os.getenv("BENCH_WRK_DIR") or "bench/wrk") .. "/common.lua")

local token = os.getenv("CLOSEDLOOP_TOKEN")
if token == nil or token == "" then
  error("CLOSEDLOOP_TOKEN is not set")
end

-- Descriptions touch several rows of the routing matrix (fault, payment, account, service,
-- privacy, suggestion, logistics) in both languages. No characters that need JSON escaping.
local descriptions = {
  "页面一直加载不出来，点击提交按钮没有反应，已经重试了三次。",
  "The order page will not load and the submit button does nothing after I click it.",
  "没有下单却被扣费了 58.00 元，请尽快退款。",
  "I was charged twice for one order and the refund has been delayed for a week.",
  "无法登录账号，重置密码的短信一直收不到。",
  "I cannot log in: the password reset email never arrives and my profile data changed.",
  "客服回复太慢，态度也不好，问题两天了还没解决。",
  "Support took two days to answer and the proposed solution was unreasonable.",
  "我的手机号和地址被泄露了，收到很多骚扰电话。",
  "My personal data seems to have leaked; I keep getting spam calls since I signed up.",
  "建议增加夜间模式，并且支持导出订单记录。",
  "Suggestion: please add a dark mode and let me export my order history as CSV.",
  "快递显示已签收但是我没有收到包裹，体验很差。",
  "The parcel is marked as delivered but it never arrived; the courier does not answer.",
}
local n_desc = #descriptions

local headers = {
  ["Content-Type"] = "application/json",
  ["Accept"] = "application/json",
  ["Authorization"] = "Bearer " .. token,
}

local counter = 0
function request()
  counter = counter + 1
  local tid = thread_id or 0
  local desc = descriptions[((counter + tid) % n_desc) + 1]
  local body = string.format('{"channel":"web","description":"%s [bench t%d #%d]"}',
    desc, tid, counter)
  return wrk.format("POST", "/api/v1/tickets", headers, body)
end
