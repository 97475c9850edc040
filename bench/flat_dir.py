"""The tree-aware second pass on a flat directory: one parent holding N folders.

    PYTHONPATH=. .venv/bin/python bench/flat_dir.py [--folders 10000 100000 1000000] [--quadratic]

Prints the seconds and peak RSS of ``collective.tree_index`` + ``neighbour_features`` (what
``model predict`` runs over a library after its first pass). ``--quadratic`` times the
former way instead (every folder kept the list of all its siblings): only for small N.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections import defaultdict

import numpy as np

from engine.models import collective as CO
from engine.models.inputs import FolderRecord


def quadratic(recs, P):
    by = defaultdict(list)
    for i, r in enumerate(recs):
        by[r.rel_path.rsplit("/", 1)[0] if "/" in r.rel_path else ""].append(i)
    sib = [[] for _ in recs]
    for g in by.values():
        if len(g) > 1:
            for i in g:
                sib[i] = [j for j in g if j != i]
    out = np.zeros_like(P)
    for i, s in enumerate(sib):
        if s:
            out[i] = P[s].mean(axis=0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folders", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--quadratic", action="store_true")
    a = ap.parse_args()
    for n in a.folders:
        recs = [FolderRecord(folder_id=1, rel_path="Tokens", name="Tokens", depth=1)] + [
            FolderRecord(folder_id=i + 2, rel_path=f"Tokens/c{i}", name=f"c{i}", depth=2) for i in range(n)]
        P = np.random.default_rng(0).dirichlet(np.ones(6), size=len(recs)).astype(np.float32)
        t = time.perf_counter()
        if a.quadratic:
            quadratic(recs, P)
        else:
            CO.neighbour_features(CO.tree_index(recs), P)
        print(f"{'quadratic' if a.quadratic else 'linear'}: {n:>9,} siblings  {time.perf_counter() - t:7.2f} s  "
              f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
