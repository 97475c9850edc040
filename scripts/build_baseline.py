#!/usr/bin/env python3
"""Rebuild the shipped baseline (``resources/baseline/``) from the labelled datasets.

    PYTHONPATH=. .venv/bin/python scripts/build_baseline.py [--dataset DIR ...] [--check-only] [--work DIR]

Default datasets: ``../shared/datasets/ttrpg-dev`` and ``ttrpg-dev2``. Each is materialized
on disk (empty files), scanned with ``gather`` and featurized with ``extract-features``
(:mod:`engine.models.corpus`), so the head learns from exactly the rows a user's prediction
reads (issue 14; the old listing-based records differed for 581 of 850 dev folders). The
heuristic's list of known creators is OFF for the corpus (it names the dev data's creators).

Before writing, the same head recipe is scored leave-one-source-out (a source is one
repository of ``provenance.csv``; sources with >= 30 folders; Macro F1 over the classes
with >= 3 held-out folders) and the figures go into the metadata. ``bench/quality.py``
prints the same table together with the alternatives that were measured.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # one BLAS thread: faster head fits on a few shared cores
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np  # noqa: E402

from engine.core.taxonomy import label_names  # noqa: E402
from engine.models import base as B  # noqa: E402
from engine.models import collective as CO  # noqa: E402
from engine.models.baseline import BASELINE_DIR, build_baseline, embed_records, heuristic_recipe  # noqa: E402
from engine.models.corpus import labelled_corpus, sources_from_provenance  # noqa: E402
from engine.models.inputs import build_matrix  # noqa: E402
from engine.models.listing import read_folder_labels  # noqa: E402
from engine.models.training import fit_head, predict_labels  # noqa: E402
from engine.models.warmstart import CORPUS_NAME, save_corpus  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"


def macro_ge3(y_true, y_pred) -> float:
    """Macro F1 over classes with >= 3 folders (engine.evaluation.report's one definition)."""
    from engine.evaluation.report import macro_f1_min_support

    m, _ = macro_f1_min_support(list(y_true), list(y_pred), 3)
    return m


def tree_pass(X, y, records, source, dataset, used, C, mix):
    """(second head, heuristic mix weight) fitted on these rows: the neighbour inputs and the
    mix weight both come from first passes out-of-fold by source."""
    P = CO.source_oof_probabilities(X, y, source, used, C=C)
    h2 = CO.fit_tree_pass(X, y, records, source, dataset, used, C=C, P_oof=P)
    alpha = CO.choose_heuristic_mix(P, records, y, source, used) if mix else 0.0
    return h2, alpha


def tree_prediction(X, y, corpus, source, tr, te, head, used, C, mix):
    """Held-out labels after the tree-aware second pass (and the heuristic mix), trained on
    the training sources only and applied to the held-out source inside its dataset's tree."""
    recs = corpus.records
    h2, alpha = tree_pass(X[tr], [y[i] for i in tr], [recs[i] for i in tr], [source[i] for i in tr],
                          [corpus.dataset[i] for i in tr], used, C, mix)
    spec = CO.tree_spec(h2, heuristic_mix=alpha, labels=used)
    ds = corpus.dataset[te[0]]
    lib = [i for i in range(len(recs)) if corpus.dataset[i] == ds]
    P2 = CO.apply_tree(spec, [recs[i] for i in lib], X[lib], head.predict_proba(X[lib]))
    pos = {i: k for k, i in enumerate(lib)}
    return [used[int(P2[pos[i]].argmax())] for i in te]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", action="append", help="a labelled dataset folder (repeatable)")
    ap.add_argument("--out", default=str(BASELINE_DIR))
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--work", help="where to materialize and scan the datasets (default: a temporary folder)")
    ap.add_argument("--check-only", action="store_true", help="score leave-one-source-out; do not write")
    ap.add_argument("--second-pass", choices=("tree", "none"), default="tree",
                    help="tree-aware second pass over neighbour label distributions "
                         "(engine/models/collective.py; default) or none")
    ap.add_argument("--heuristic-mix", choices=("auto", "none"), default="auto",
                    help="multiply the second pass's output by the rule-based guess to a power chosen on "
                         "source-out-of-fold first passes (default) or not")
    a = ap.parse_args()
    dss = [Path(d) for d in (a.dataset or [SHARED / "ttrpg-dev", SHARED / "ttrpg-dev2"])]
    for d in dss:
        if not (d / "files.txt").is_file() or not (d / "folders.csv").is_file():
            print(f"error: {d} has no files.txt and folders.csv", file=sys.stderr)
            return 2
    t0 = time.monotonic()
    tmp = tempfile.TemporaryDirectory(prefix="fsorg-baseline-")
    work = Path(a.work) if a.work else Path(tmp.name)
    corpus = labelled_corpus([(d.name, d / "files.txt", read_folder_labels(d / "folders.csv")) for d in dss], work)
    src_maps = {d.name: sources_from_provenance(d / "provenance.csv") for d in dss}
    source = [
        src_maps[ds].get(r.rel_path.split("/")[0], f"{ds}:{r.rel_path.split('/')[0]}")
        for r, ds in zip(corpus.records, corpus.dataset)
    ]
    y = corpus.labels
    taxonomy = list(label_names())
    recipe = heuristic_recipe(corpus.records, rules=False)
    body = B.load_body(B.resolve_base_model(None))
    emb_dim = int(body.get_embedding_dimension())
    vecs = embed_records(corpus.records, recipe, body)
    X = build_matrix(corpus.records, recipe, vecs, emb_dim)
    print(f"corpus: {len(y)} labelled folders from {', '.join(d.name for d in dss)} "
          f"({time.monotonic() - t0:.0f} s)", flush=True)

    held: dict[str, dict] = {}
    for s, n in Counter(source).most_common():
        if n < 30:
            break
        te = np.flatnonzero(np.asarray(source) == s)
        tr = np.flatnonzero(np.asarray(source) != s)
        used = [lb for lb in taxonomy if lb in {y[i] for i in tr}]
        head = fit_head(X[tr], [y[i] for i in tr], used, C=a.C, seed=42)
        _, pred = predict_labels(head, X[te], used)
        if a.second_pass == "tree":
            pred = tree_prediction(X, y, corpus, source, tr, te, head, used, a.C, a.heuristic_mix == "auto")
        held[s] = {"n": int(n), "macro_f1_classes_ge3": round(macro_ge3([y[i] for i in te], pred), 4)}
        print(f"  held out {s:<50} n={n:>4}  Macro F1 {held[s]['macro_f1_classes_ge3']:.3f}", flush=True)
    mean = float(np.mean([v["macro_f1_classes_ge3"] for v in held.values()]))
    print(f"leave-one-source-out mean Macro F1 (classes >= 3): {mean:.3f} over {len(held)} sources")
    metrics = {
        "variant": "portable+heuristic",  # the first pass's recipe (engine.models.baseline.heuristic_recipe)
        "evaluation": "leave-one-source-out over the sources with >= 30 folders; Macro F1 over classes "
                      "with >= 3 held-out folders",
        "second_pass": a.second_pass,
        "heuristic_mix": a.heuristic_mix if a.second_pass == "tree" else "none",
        "held_out_sources": held,
        "held_out_sources_mean_macro_f1_ge3": round(mean, 4),
    }
    if a.check_only:
        return 0
    extra = {}
    if a.second_pass == "tree":
        used = [lb for lb in taxonomy if lb in set(y)]
        h2, alpha = tree_pass(X, y, corpus.records, source, corpus.dataset, used, a.C, a.heuristic_mix == "auto")
        print(f"heuristic mix weight (chosen on source-out-of-fold first passes): {alpha}")
        extra["collective"] = CO.tree_spec(
            h2, chosen_on="first pass out-of-fold by source over " + " + ".join(d.name for d in dss),
            heuristic_mix=alpha, labels=used)
    out = build_baseline(
        corpus.records, y, labels=taxonomy, target=Path(a.out), C=a.C, body=body, metrics=metrics,
        source=" + ".join(f"{d.name}" for d in dss) + f" ({len(y)} labelled folders, extract-features rows)",
        recipe=recipe, extra_metadata=extra,
    )
    # The labelled corpus itself, for model train's warm start (engine/models/warmstart.py).
    save_corpus(out / CORPUS_NAME, corpus.records, y, corpus.dataset)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"Baseline written to {out} ({size / 1024:.0f} KB) in {time.monotonic() - t0:.0f} s")
    print(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
