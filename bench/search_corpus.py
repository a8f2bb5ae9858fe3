#!/usr/bin/env python3
"""Makes the search benchmark's data from the real texts in ../shared/data (never copied into
the project): N tickets as JSON Lines for `closedloop import`, drawn with repetition from every
review, question and tweet there (about 200,000 distinct Chinese and English texts), spread over
a year with a category and a status; and Q queries as people type them (half the common
help-desk words, half two to four Chinese characters or one or two English words cut from texts), URL-encoded, one per line.

usage: search_corpus.py DATA_DIR TICKETS QUERIES OUT.jsonl QUERIES.txt
"""
import csv, json, random, sys, unicodedata, urllib.parse
from datetime import datetime, timedelta, timezone

data, n, nq, out, qout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
files = ["zh_shopping10_category", "zh_waimai_sentiment", "zh_hotel_sentiment", "zh_callcenter_intent",
         "en_banking77_intent", "en_airline_sentiment"]
pairs = ["zh_afqmc_pairs", "zh_lcqmc_pairs"]
texts = []
for f in files:
    for split in ("train", "test"):
        with open(f"{data}/{f}.{split}.tsv", encoding="utf-8") as fh:
            for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                if len(row) >= 2 and row[0] != "label":
                    texts.append(row[1])
for f in pairs:
    for split in ("train", "test"):
        with open(f"{data}/{f}.{split}.tsv", encoding="utf-8") as fh:
            for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                if len(row) >= 3 and row[0] != "label":
                    texts.extend(row[1:3])
# Some texts hold control characters, which ticket descriptions may not.
texts = ["".join(c for c in t if unicodedata.category(c) not in ("Cc", "Cf")) for t in texts]
texts = sorted({t.strip() for t in texts if len(t.strip()) >= 4})
rng = random.Random(20261202)
categories = ["function_fault", "account", "payment", "service", "content", "privacy", "suggestion",
              "logistics", "product_quality", "returns"]
statuses = ["resolved"] * 6 + ["closed"] * 2 + ["received", "in_progress"]
now = datetime.now(timezone.utc)
with open(out, "w", encoding="utf-8") as fh:
    for i in range(n):
        t = texts[rng.randrange(len(texts))]
        created = now - timedelta(seconds=rng.randrange(365 * 86400))
        fh.write(json.dumps({"id": f"s{i}", "description": t[:2000], "category": rng.choice(categories),
                             "status": rng.choice(statuses),
                             "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ")}, ensure_ascii=False) + "\n")
# Half the queries are the words a help desk is searched for most, half are cut from texts.
KEYWORDS = ["退款", "快递", "物流", "客服", "质量", "退货", "发货", "服务态度", "充值", "账号", "登录",
            "密码", "到账", "花呗", "借呗", "还款", "外卖", "送餐", "酒店", "房间", "前台", "屏幕", "电池",
            "退款 到账", "快递 没收到", "refund", "card", "top up", "transfer", "lost card", "delayed",
            "customer service", "baggage", "cancelled flight", "exchange rate", "pin", "charged twice"]
def query(t):
    if rng.random() < 0.5:
        return rng.choice(KEYWORDS)
    if any("\u4e00" <= c <= "\u9fff" for c in t):
        han = [c for c in t if "\u4e00" <= c <= "\u9fff"]
        if len(han) < 2:
            return None
        k = rng.randint(2, min(4, len(han)))
        s = rng.randrange(len(han) - k + 1)
        return "".join(han[s:s + k])
    words = [w.strip(".,!?@#\"'()") for w in t.split() if len(w.strip(".,!?@#\"'()")) >= 3]
    if not words:
        return None
    k = rng.randint(1, min(2, len(words)))
    s = rng.randrange(len(words) - k + 1)
    return " ".join(words[s:s + k])
with open(qout, "w", encoding="utf-8") as fh:
    made = 0
    while made < nq:
        q = query(texts[rng.randrange(len(texts))])
        if q and len(q) >= 2:
            fh.write(urllib.parse.quote(q) + "\n")
            made += 1
print(f"{len(texts)} distinct texts, {n} tickets, {nq} queries", file=sys.stderr)
