#!/usr/bin/env python3
"""Baseline for the triage evaluation (crates/triage/EVAL.md).

Classification sets: TF-IDF over character 1-3-grams (analyzer='char', ngram_range=(1, 3)) +
LogisticRegression, trained on *.train.tsv, accuracy and macro-F1 on *.test.tsv.
Pair sets: character-bigram Jaccard similarity; the threshold maximising F1 on the train file
is applied to the test file. Intensity sets are skipped (no baseline defined).

Usage:
  python3 -m venv bench/.venv && bench/.venv/bin/pip install -r bench/requirements-triage.txt
  bench/.venv/bin/python bench/triage_baseline.py [--data DIR] [SET ...]
SET is a name like zh_afqmc_pairs (without .train.tsv); default: every set in DIR.
Text is NFKC-normalised and lowercased for both methods (sklearn lowercases by default).
"""

import argparse
import csv
import sys
import time
import unicodedata
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def read_tsv(path):
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        rows = [r for r in reader if r]
    return header, rows


def classification(train_rows, test_rows):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    y_tr = [r[0] for r in train_rows]
    x_tr = [r[1] for r in train_rows]
    y_te = [r[0] for r in test_rows]
    x_te = [r[1] for r in test_rows]
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3))
    clf = LogisticRegression(max_iter=1000)
    clf.fit(vec.fit_transform(x_tr), y_tr)
    pred = clf.predict(vec.transform(x_te))
    return {
        "accuracy": accuracy_score(y_te, pred),
        "macro_f1": f1_score(y_te, pred, average="macro"),
    }


def bigrams(text):
    t = "".join(c for c in unicodedata.normalize("NFKC", text).lower() if c.isalnum())
    return {t[i : i + 2] for i in range(len(t) - 1)}


def jaccard(a, b):
    u = len(a | b)
    return 1.0 if u == 0 else len(a & b) / u


def best_threshold(scored):
    scored = sorted(scored, key=lambda s: -s[0])
    positives = sum(1 for _, y in scored if y)
    tp = fp = 0
    best_f1, best_t = 0.0, 0.5
    for i, (s, y) in enumerate(scored):
        tp += y
        fp += 1 - y
        if i + 1 < len(scored) and scored[i + 1][0] == s:
            continue
        f1 = 2 * tp / max(tp + fp + positives, 1)
        if f1 > best_f1:
            best_f1 = f1
            best_t = (s + scored[i + 1][0]) / 2 if i + 1 < len(scored) else s
    return best_t


def pairs(train_rows, test_rows):
    tr = [(jaccard(bigrams(a), bigrams(b)), int(y)) for y, a, b in train_rows]
    t = best_threshold(tr)
    te = [(jaccard(bigrams(a), bigrams(b)), int(y)) for y, a, b in test_rows]
    tp = sum(1 for s, y in te if s >= t and y)
    fp = sum(1 for s, y in te if s >= t and not y)
    fn = sum(1 for s, y in te if s < t and y)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"threshold": t, "precision": p, "recall": r, "f1": f1}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("sets", nargs="*")
    args = ap.parse_args()
    names = args.sets or sorted(p.name[: -len(".train.tsv")] for p in args.data.glob("*.train.tsv"))
    print("| set | kind | train | test | metric | baseline | seconds |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        started = time.time()
        h_tr, train_rows = read_tsv(args.data / f"{name}.train.tsv")
        _, test_rows = read_tsv(args.data / f"{name}.test.tsv")
        if h_tr == ["label", "text"]:
            res = classification(train_rows, test_rows)
            kind, metric = "classification", f"macro-F1 {res['macro_f1']:.3f} (acc {res['accuracy']:.3f})"
        elif h_tr == ["label", "text_a", "text_b"]:
            res = pairs(train_rows, test_rows)
            kind = "pairs"
            metric = f"F1 {res['f1']:.3f} (P {res['precision']:.3f} R {res['recall']:.3f}, t={res['threshold']:.3f})"
        else:
            print(f"| {name} | intensity | {len(train_rows)} | {len(test_rows)} | - | no baseline | - |")
            continue
        secs = time.time() - started
        print(f"| {name} | {kind} | {len(train_rows)} | {len(test_rows)} | {metric.split(' ')[0]} | {metric} | {secs:.0f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
