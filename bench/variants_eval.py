"""Precision and recall of the variant groups on a hand-checked sample of the dev libraries.

    # 1. draw the sample (pairs of items of one scope), to be checked by hand
    .venv/bin/python bench/variants_eval.py sample --storage dev=/tmp/d1/data --storage dev2=/tmp/d2/data \\
        --output bench/variant_pairs.csv
    # 2. after filling the 'same' column (1 = same content in another form, 0 = different content):
    .venv/bin/python bench/variants_eval.py score bench/variant_pairs.csv --storage dev=... --storage dev2=...

Each ``--storage NAME=DIR`` is a data folder of a scanned dev library whose hand labels
(``folders.csv``) were imported as the user's labels. Candidate pairs are the pairs of
subject items of one scope (same creator, same enclosing subjects; the scope the grouping
looks in) plus each nested subject with its parent subject, that either were grouped, or
share a content word (variant words and stop words left out). Pairs sharing no content word
are taken to be different content (a limitation: it bounds the recall from above).

The sample: up to ``--positives`` grouped pairs and ``--negatives`` ungrouped candidate pairs,
drawn at random (seed 19). Precision = share of checked grouped pairs that are truly the same
content. Recall is estimated: true pairs among the grouped (precision x grouped pairs) over
that plus true pairs among the ungrouped (the checked share x ungrouped candidate pairs).
"""

from __future__ import annotations

import argparse
import random
import sys
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.core.csvio import read_csv, write_csv  # noqa: E402
from engine.core.settings import StorageSettings  # noqa: E402
from engine.organize import variants as V  # noqa: E402
from engine.organize.catalogue import build_catalogue  # noqa: E402

STOP = frozenset("the of a an and in on at to for de la le el with by from".split())
COLUMNS = ("library", "a", "b", "grouped", "rule", "same", "note")


def _content(name: str) -> set[str]:
    p = V.parse(name)
    return {w for w in p.base.split() if w not in STOP and not w.isdigit() and len(w) > 2}


def candidates(cat):
    """{(path a, path b): (grouped, rule)} over the candidate pairs of one catalogue."""
    subjects = [it for it in cat.items if it.kind == "subject"]
    by_scope: dict[tuple, list] = {}
    for it in subjects:
        by_scope.setdefault(it.scope, []).append(it)
    by_id = cat.item_index()
    groups = {g.id: g for g in cat.groups}
    out = {}

    def add(a, b):
        grouped = a.group is not None and a.group == b.group
        if grouped or (_content(a.name) & _content(b.name)):
            key = tuple(sorted((a.path, b.path)))
            out[key] = (grouped, groups[a.group].rule if grouped else "")

    for items in by_scope.values():
        for a, b in combinations(items, 2):
            add(a, b)
    for it in subjects:
        p = by_id.get(it.parent_item) if it.parent_item is not None else None
        if p is not None:
            add(p, it)
    return out


def _open(specs: list[str]) -> dict[str, dict]:
    out = {}
    for spec in specs:
        name, _, folder = spec.partition("=")
        out[name] = candidates(build_catalogue(StorageSettings.from_storage_arg(folder)))
    return out


def sample(args) -> int:
    rnd = random.Random(19)
    pos, neg = [], []
    for lib, pairs in _open(args.storage).items():
        for (a, b), (grouped, rule) in sorted(pairs.items()):
            (pos if grouped else neg).append((lib, a, b, int(grouped), rule))
    print(f"candidate pairs: {len(pos):,} grouped, {len(neg):,} not grouped")
    rows = rnd.sample(pos, min(args.positives, len(pos))) + rnd.sample(neg, min(args.negatives, len(neg)))
    write_csv(args.output, COLUMNS, ([*r, "", ""] for r in rows))
    print(f"{len(rows)} pairs written to {args.output}: fill 'same' (1/0) by hand")
    return 0


def score(args) -> int:
    table = read_csv(args.csv, expected_columns=COLUMNS)
    now = _open(args.storage)
    n_pos = sum(1 for pairs in now.values() for g, _r in pairs.values() if g)
    n_neg = sum(1 for pairs in now.values() for g, _r in pairs.values() if not g)
    tp = fp = fn = tn = 0
    for r in table.rows:
        same = r.get("same").strip()
        if same not in ("0", "1"):
            continue
        key = tuple(sorted((r.get("a"), r.get("b"))))
        grouped = now[r.get("library")].get(key, (False, ""))[0]
        if grouped:
            tp += same == "1"
            fp += same == "0"
        else:
            fn += same == "1"
            tn += same == "0"
    precision = tp / max(tp + fp, 1)
    miss_rate = fn / max(fn + tn, 1)
    true_pos = precision * n_pos
    recall = true_pos / max(true_pos + miss_rate * n_neg, 1e-9)
    print(f"checked: {tp + fp} grouped pairs (TP {tp}, FP {fp}), {fn + tn} ungrouped candidate pairs "
          f"(FN {fn}, TN {tn})")
    print(f"candidate pairs now: {n_pos:,} grouped, {n_neg:,} not grouped")
    print(f"precision {precision:.1%}; estimated recall {recall:.1%} "
          f"(true pairs ~ {true_pos:,.0f} grouped + {miss_rate * n_neg:,.0f} missed)")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--storage", action="append", required=True, metavar="NAME=DIR")
    s.add_argument("--output", required=True)
    s.add_argument("--positives", type=int, default=80)
    s.add_argument("--negatives", type=int, default=80)
    c = sub.add_parser("score")
    c.add_argument("csv")
    c.add_argument("--storage", action="append", required=True, metavar="NAME=DIR")
    a = ap.parse_args()
    return sample(a) if a.cmd == "sample" else score(a)


if __name__ == "__main__":
    sys.exit(main())
