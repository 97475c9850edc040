#!/usr/bin/env python3
"""Cross-library quality harness (issue 14): labels that hold on a library fsorg never saw.

    PYTHONPATH=. .venv/bin/python bench/quality.py [--quick] [--work DIR] [--variants a,b]

Data: ``../shared/datasets/ttrpg-dev`` and ``ttrpg-dev2`` (real, hand-labelled). Both are
materialized, ``gather``-ed and ``extract-features``-ed ONCE into ``--work`` (default
``bench/out/quality``, reused by later runs together with its embedding cache in
``training.db``: a second run encodes nothing). The keyword list of known creators is OFF
in the heuristic (it names creators of the dev data; a user's library has others).
Every model input comes from the ``folder_features`` rows extract-features wrote, built
by :func:`engine.models.inputs.build_matrix` - the path users' predictions take.
A *source* is one repository of ``provenance.csv``.

(a) Baseline, leave-one-source-out: for every source with >= 30 folders, the baseline
    head is fitted on all other sources of both datasets and scores the held-out source
    (``heur+tree+mix`` is the shipped recipe: its heuristic-mix weight is chosen on the
    training sources' out-of-fold first passes only, never on the held-out source).
    ``ft``/``ft+tree``/``ft+tree+mix``: the same procedure on a body fine-tuned (the engine's
    ``finetune_body``, SetFit's contrastive phase with hard negatives) afresh from the base
    body on the training sources' folders for every held-out source (bench/ftbody.py).
(b) The user's workflow on an unseen library: sources are grouped (largest first, each to
    the smallest group) into 4 disjoint libraries; each in turn is the user's library and
    the baseline is fitted on the other three: 50 diverse labels (the real diverse sampler)
    -> train -> Label next 50 (the real picker) -> train -> Label next 50 -> train.
    Training uses the FROZEN base body (``max_steps=0``: the same head and inputs as
    ``model train`` minus body fine-tuning); the brief allows it where it gives the same
    conclusion faster. ``+warm+mix0.2+families10`` is what fsorg ships: warm start, the
    heuristic mix, and Label next asking first (up to half a batch) about every family of
    >= 10 look-alike siblings with no label (``engine.active.label_next.uncovered_family_picks``).

Macro F1 is averaged over the classes with >= 3 scored folders (rarer classes: one or two
folders make F1 0 or 1 by chance). In (b) the scored folders are the ones not yet labelled.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# One BLAS thread: on 2 shared cores a multi-threaded BLAS spins and makes every head fit ~10x slower.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
if not DATASETS.is_dir():
    DATASETS = Path("/work/shared/datasets")


# ------------------------------------------------------------------------- data


@dataclass
class Data:
    records: list  # FolderRecord, every folder of both datasets (depth >= 1)
    y: list[str]
    source: list[str]
    dataset: list[str]
    vecs: dict
    emb_dim: int
    candidates: dict  # folder_id -> samples.picking.Candidate
    cache: dict = field(default_factory=dict)  # built input matrices, by recipe


def source_of_folders(ds: Path) -> dict[str, str]:
    """``{top-level folder: repository}`` from provenance.csv (majority of its files)."""
    top: dict[str, Counter] = defaultdict(Counter)
    with open(ds / "provenance.csv", encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            top[r["path"].split("/")[1]][r["repo"]] += 1
    return {t: c.most_common(1)[0][0] for t, c in top.items()}


def prepare(work: Path, names: list[str]) -> Data:
    from engine.core.config import load_config
    from engine.core.jobs import never_stop, no_progress
    from engine.core.settings import StorageSettings
    from engine.features.extract import extract_features
    from engine.features.heuristics import Heuristic, default_vocabulary
    from engine.models import base as B
    from engine.models.data import load_records
    from engine.models.embeddings import embed_cached
    from engine.models.inputs import distinct_texts
    from engine.models.listing import read_folder_labels
    from engine.samples.picking import load_candidates
    from engine.scan.gather import gather
    from engine.storage import Databases

    work.mkdir(parents=True, exist_ok=True)
    state_p = work / "state.json"
    state = json.loads(state_p.read_text()) if state_p.exists() else {}
    settings = StorageSettings.from_storage_arg(work / "data")
    for name in names:
        if name in state:
            continue
        ds = DATASETS / name
        tree = work / "trees" / name
        subprocess.run([sys.executable, str(DATASETS / "materialize.py"), str(ds / "files.txt"), str(tree)],
                       check=True, capture_output=True)
        g = gather(tree / "library", settings)
        dbs = Databases.open(settings)
        extract_features(dbs, g.snapshot_id, load_config("extract_features"),
                         heuristic=Heuristic(default_vocabulary(use_known_creators=False)))
        dbs.dispose()
        state[name] = g.snapshot_id
        state_p.write_text(json.dumps(state))
    dbs = Databases.open(settings)
    records, y, source, dataset, cands = [], [], [], [], {}
    for name in names:
        truth = read_folder_labels(DATASETS / name / "folders.csv")
        src = source_of_folders(DATASETS / name)
        for r in load_records(dbs.training, snapshot_id=state[name]):
            if r.depth < 1 or r.rel_path not in truth:
                continue
            records.append(r)
            y.append(truth[r.rel_path])
            source.append(src[r.rel_path.split("/")[0]])
            dataset.append(name)
        for c in load_candidates(dbs, state[name], 1, 10_000):
            cands[c.folder_id] = c
    from engine.models.baseline import portable_recipe

    union = {**portable_recipe(), "blocks": ["name", "parent", "grandparent", "children", "siblings"]}
    texts = distinct_texts(records, union)
    base_path = B.resolve_base_model(None)
    t0 = time.monotonic()
    vecs = embed_cached(texts, training=dbs.training, model_key=B.body_key(base_path),
                        get_body=lambda: B.shared_body(base_path), progress=no_progress, should_stop=never_stop)
    dbs.dispose()
    emb_dim = len(next(iter(vecs.values())))
    print(f"# data: {len(records)} folders, {len(set(source))} sources, {len(texts)} texts "
          f"(embedded/cached in {time.monotonic() - t0:.0f} s)", flush=True)
    return Data(records, y, source, dataset, vecs, emb_dim, cands)


# ---------------------------------------------------------------------- scoring

LABELS: list[str] = []


def macro_ge3(y_true, y_pred, min_support=3) -> float:
    """Macro F1 over classes with >= ``min_support`` folders: engine.evaluation.report's one definition."""
    from engine.evaluation.report import macro_f1_min_support

    return macro_f1_min_support(list(y_true), list(y_pred), min_support)[0]


# ---------------------------------------------------------------------- models

from engine.models import collective as CO  # noqa: E402


def baseline_recipe(kind: str) -> dict:
    from engine.models.baseline import heuristic_recipe, portable_recipe

    if kind == "portable":
        return portable_recipe()
    return heuristic_recipe([], rules=False)


class BaselineModel:
    """The shipped-baseline procedure on a set of training folders: first-pass head on the
    baseline recipe; with ``tree`` a second pass on neighbour label distributions (its
    training rows' neighbour inputs come from source-grouped out-of-fold first passes)."""

    def __init__(self, D: Data, train_idx, *, recipe_kind="heuristic", tree=False, tree_w=1.0, C=1.0,
                 stack=False, mix=None):
        from engine.models.inputs import build_matrix
        from engine.models.training import fit_head

        self.D, self.tree, self.tree_w, self.stack = D, tree or stack, tree_w, stack
        self.recipe = baseline_recipe(recipe_kind)
        key = "X:" + recipe_kind
        if key not in D.cache:
            D.cache[key] = build_matrix(D.records, self.recipe, D.vecs, D.emb_dim)
        self.Xall = D.cache[key]
        tr = np.asarray(train_idx)
        ytr = [D.y[i] for i in tr]
        self.used = [lb for lb in LABELS if lb in set(ytr)]
        self.h1 = fit_head(self.Xall[tr], ytr, self.used, C=C, seed=42)
        if tree or stack:
            # out-of-fold first-pass distributions for the training rows, folds = sources
            srcs = sorted({D.source[i] for i in tr})
            fold_of = {s: k % 4 for k, s in enumerate(sorted(srcs, key=lambda s: -sum(D.source[i] == s for i in tr)))}
            P = np.zeros((len(D.records), len(self.used)), np.float32)
            for k in range(4):
                a = [i for i in tr if fold_of[D.source[i]] != k]
                b = [i for i in tr if fold_of[D.source[i]] == k]
                if not b:
                    continue
                h = fit_head(self.Xall[a], [D.y[i] for i in a], self.used, C=C, seed=42)
                P[b] = h.predict_proba(self.Xall[b])
            self.P_oof = P
            self.alpha = 0.0
            if mix == "auto":  # chosen on the training sources' out-of-fold first passes only
                self.alpha = CO.choose_heuristic_mix(P[tr], [D.records[i] for i in tr], ytr,
                                                     [D.source[i] for i in tr], self.used)
            elif mix:
                self.alpha = float(mix)
            NF = self._nf(P, {})
            if stack:
                self.H = CO.heuristic_distribution(D.records, self.used)
                self.NFH = self._nf(self.H, {}) if stack == "h" else None
                X2 = CO.stack_inputs(P, self.H, NF, self.NFH)
            else:
                if tree == "h":  # the neighbours' rule-based guesses too
                    self.NFH = self._nf(CO.heuristic_distribution(D.records, self.used), {})
                    NF = np.hstack([NF, self.NFH])
                X2 = np.hstack([self.Xall, tree_w * NF])
            self.h2 = fit_head(X2[tr], ytr, self.used, C=C, seed=42)

    def _nf(self, P, known):
        # neighbour features per dataset tree (the two datasets are two libraries)
        D = self.D
        out = np.zeros((len(D.records), CO.neighbour_dim(P.shape[1])), np.float32)
        for name in sorted(set(D.dataset)):
            rows = [i for i in range(len(D.records)) if D.dataset[i] == name]
            idx = CO.tree_index([D.records[i] for i in rows])
            kn = {rows.index(i): j for i, j in known.items() if D.dataset[i] == name} if known else {}
            out[rows] = CO.neighbour_features(idx, CO.with_known(P[rows], kn))
        return out

    def predict_proba(self, rows) -> np.ndarray:
        rows = np.asarray(rows)
        P1 = self.h1.predict_proba(self.Xall[rows])
        if not self.tree:
            return P1
        P = self.P_oof.copy()
        P[rows] = P1
        NF = self._nf(P, {})
        if self.stack:
            return self.h2.predict_proba(CO.stack_inputs(P, self.H, NF, self.NFH)[rows])
        if self.tree == "h":
            NF = np.hstack([NF, self.NFH])
        P2 = self.h2.predict_proba(np.hstack([self.Xall[rows], self.tree_w * NF[rows]]))
        return CO.mix_heuristic(P2, [self.D.records[i] for i in rows], self.used, self.alpha)

    def predict(self, rows) -> list[str]:
        return [self.used[j] for j in self.predict_proba(rows).argmax(axis=1)]


BEFORE_COMMIT = "968dbc7"


class ShippedModel:
    """A baseline folder as it is (no refit): the held-out figure is honest only for the
    sources it was not built from (the old shipped baseline saw all of ttrpg-dev)."""

    def __init__(self, D: Data, train_idx, *, path=None, **_):
        from engine.models.baseline import BASELINE_DIR
        from engine.models.inputs import build_matrix
        from engine.models.modelio import load_model_folder

        if path and not (Path(path) / "metadata.json").exists():
            # the baseline shipped before issue 14, from git
            Path(path).mkdir(parents=True, exist_ok=True)
            for f in ("metadata.json", "head.safetensors"):
                blob = subprocess.run(["git", "-C", str(ROOT), "show", f"{BEFORE_COMMIT}:resources/baseline/{f}"],
                                      check=True, capture_output=True).stdout
                (Path(path) / f).write_bytes(blob)
        m = load_model_folder(Path(path) if path else BASELINE_DIR, taxonomy=LABELS)
        key = f"X:shipped:{path}"
        if key not in D.cache:
            from engine.models import base as B
            from engine.models.embeddings import encode_texts
            from engine.models.inputs import distinct_texts

            missing = [t for t in distinct_texts(D.records, m.recipe) if t not in D.vecs]
            if missing:  # e.g. an older baseline's prototype texts
                body = B.shared_body(B.resolve_base_model(None))
                D.vecs.update(zip(missing, encode_texts(body, missing)))
            D.cache[key] = build_matrix(D.records, m.recipe, D.vecs, D.emb_dim)
        self.m, self.X, self.D = m, D.cache[key], D

    def predict(self, rows) -> list[str]:
        rows = np.asarray(rows)
        P = self.m.head.predict_proba(self.X)
        spec = self.m.metadata.get("collective")
        if spec:
            out = P.copy()
            for name in sorted(set(self.D.dataset)):
                lib = [i for i in range(len(self.D.records)) if self.D.dataset[i] == name]
                out[lib] = CO.apply_tree(spec, [self.D.records[i] for i in lib], self.X[lib], P[lib])
            P = out
        return [self.m.labels[j] for j in P[rows].argmax(axis=1)]


def loso(D: Data, variants: dict, min_folders: int, only: list[str] | None = None, ft=None,
         ft_cache: Path | None = None) -> dict:
    """``ft`` (bench/ftbody.FtSettings): how the ``ft*`` variants fine-tune the body, afresh from
    the base body for every held-out source, on the other sources' folders only."""
    sizes = Counter(D.source)
    held = [s for s, n in sizes.most_common() if n >= min_folders]
    if only:
        held = [s for s in held if s in only]
    out: dict = {v: {} for v in variants}
    for s in held:
        te = [i for i in range(len(D.y)) if D.source[i] == s]
        tr = [i for i in range(len(D.y)) if D.source[i] != s]
        Dft, note = None, ""
        for v, kw in variants.items():
            kw = dict(kw)
            Dv = D
            if kw.pop("ft", False):
                if Dft is None:
                    from ftbody import FtSettings, finetuned_data

                    Dft, info = finetuned_data(D, tr, s, baseline_recipe(kw.get("recipe_kind", "heuristic")),
                                               ft or FtSettings(), ft_cache)
                    note = f"  [ft body: {info['steps']} steps, {info['seconds']:.0f} s" + \
                        (" (cached)]" if info["cached"] else "]")
                Dv = Dft
            m = (ShippedModel if kw.get("shipped") else BaselineModel)(Dv, tr, **kw)
            out[v][s] = macro_ge3([D.y[i] for i in te], m.predict(te))
        print(f"  LOSO {s:<45} n={len(te):>4}  " + "  ".join(f"{v}={out[v][s]:.3f}" for v in variants) + note,
              flush=True)
    return out


# ------------------------------------------------------------------ user workflow


def user_libraries(D: Data, k: int = 4) -> list[list[str]]:
    sizes = Counter(D.source)
    groups: list[list[str]] = [[] for _ in range(k)]
    tot = [0] * k
    for s, n in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])):
        g = min(range(k), key=lambda j: (tot[j], j))
        groups[g].append(s)
        tot[g] += n
    return groups


def workflow(D: Data, lib_sources: list[str], variant: dict, base: BaselineModel, rounds=(50, 50, 50), seed=42):
    """Macro F1 on the not-yet-labelled folders at 0, 50, 100, 150 labels, and the last train time.
    ``seed``: the diverse sampler's (which 50 folders the user labels first; the rest follows)."""
    from engine.active.label_next import pick_uncertain
    from engine.models.inputs import DEFAULT_RECIPE, build_matrix
    from engine.models.loading import embedding_part, parent_path
    from engine.models.training import fit_head
    from engine.samples.picking import select_samples

    lib = [i for i in range(len(D.y)) if D.source[i] in set(lib_sources)]
    recs = [D.records[i] for i in lib]
    y = [D.y[i] for i in lib]
    idx = CO.tree_index(recs)
    recipe = dict(DEFAULT_RECIPE)
    if variant.get("heur"):
        from engine.core.taxonomy import label_names

        recipe["heuristic"] = {"labels": list(label_names()), "weight": 3.0}
    X = build_matrix(recs, recipe, D.vecs, D.emb_dim)
    E = embedding_part(X, D.emb_dim * len(recipe["blocks"]))
    fams = CO.families(recs, idx, min_size=variant.get("fam_min", 4)) if variant.get("families") else []
    scores = [macro_ge3(y, base.predict(lib))]
    labelled: list[int] = []
    train_s = 0.0
    warm = variant.get("warm")
    if warm:
        corpus = [i for i in range(len(D.y)) if D.source[i] not in set(lib_sources)]
        Xc = build_matrix([D.records[i] for i in corpus], recipe, D.vecs, D.emb_dim)
        yc = [D.y[i] for i in corpus]
    P = None
    for r, n in enumerate(rounds):
        unl = [i for i in range(len(recs)) if i not in set(labelled)]
        if r == 0:
            cands = [D.candidates[recs[i].folder_id] for i in unl]
            picked_ids = {c.folder_id for c in select_samples(cands, n, 0.7, seed)}
            pick = [i for i in unl if recs[i].folder_id in picked_ids]
        else:
            Pu = P[unl]
            pick = []
            if fams:
                lab = set(labelled)
                m = 1 - (np.sort(Pu, axis=1)[:, -1] - np.sort(Pu, axis=1)[:, -2])
                pos = {i: k for k, i in enumerate(unl)}
                for f in fams:
                    if len(pick) >= n // 2:
                        break
                    if any(i in lab for i in f):
                        continue
                    pick.append(max(f, key=lambda i: (m[pos[i]], -i)))
            rest = [i for i in unl if i not in set(pick)]
            pu = P[rest]
            sel = pick_uncertain(pu, E[rest], [parent_path(recs[i].rel_path) for i in rest], n - len(pick),
                                 per_parent=2, pool_factor=4.0, groups=list(pu.argmax(axis=1)))
            pick += [rest[j] for j in sel]
        labelled += pick
        t0 = time.monotonic()
        ylab = [y[i] for i in labelled]
        used = [lb for lb in LABELS if lb in set(ylab)]
        if warm:  # what model train does (engine/models/warmstart.py): corpus rows of the user's labels
            from engine.models.warmstart import fit_warm_head

            h = fit_warm_head(X[labelled], ylab, Xc, yc, used, weight=warm, C=variant.get("C", 1.0), seed=42)
        else:
            h = fit_head(X[labelled], ylab, used, C=variant.get("C", 1.0), seed=42)
        P = h.predict_proba(X)
        if variant.get("mix"):  # the rule-based guess as a second expert, as the baseline does
            P = CO.mix_heuristic(P, recs, used, variant["mix"])
        if variant.get("base"):  # the baseline's distribution as a prior: P * P_base ** beta
            Pb = base.predict_proba(lib)
            Pb = Pb[:, [base.used.index(lb) if lb in base.used else 0 for lb in used]]
            lp = np.log(np.clip(P, 1e-6, 1)) + variant["base"] * np.log(np.clip(Pb, 1e-6, 1))
            P = np.exp(lp - lp.max(axis=1, keepdims=True))
            P /= P.sum(axis=1, keepdims=True)
        if variant.get("tree"):
            known = {i: used.index(y[i]) for i in labelled}
            X2 = CO.second_pass_inputs(X, idx, P, known, variant.get("tree_w", 1.0))
            h2 = fit_head(X2[labelled], ylab, used, C=1.0, seed=42)
            P = h2.predict_proba(X2)
        train_s = time.monotonic() - t0
        pred = [used[j] for j in P.argmax(axis=1)]
        if variant.get("spread"):
            pred = CO.spread_to_lookalikes(recs, used, pred, {i: y[i] for i in labelled}, idx)
        lab = set(labelled)
        rest = [i for i in range(len(recs)) if i not in lab]
        scores.append(macro_ge3([y[i] for i in rest], [pred[i] for i in rest]))
    workflow.last = ([lib[i] for i in labelled], Xc if warm else None)
    return scores, train_s, len(recs)


def finetuned_run(D: Data, work: Path, lib_sources: list[str], labelled: list[int]) -> tuple[float, float]:
    """The 150 labels of a library through the REAL ``model train`` (body fine-tuning within
    the shipped config's time budget, warm start): Macro F1 on the library's unlabelled
    folders, and the training seconds. The warm-start corpus is the other libraries' folders
    (``warmstart.corpus_path`` is pointed at a corpus written without this library)."""
    from engine.core.config import load_config
    from engine.core.jobs import never_stop, no_progress
    from engine.core.settings import StorageSettings
    from engine.labels.runs import LabelRow, create_label_run, set_labels
    from engine.models import warmstart
    from engine.models.data import featurize
    from engine.models.modelio import load_model_folder
    from engine.models.training import train_model
    from engine.storage import Databases

    state = json.loads((work / "state.json").read_text())
    settings = StorageSettings.from_storage_arg(work / "data")
    others = [i for i in range(len(D.y)) if D.source[i] not in set(lib_sources)]
    cpath = work / "corpus-without-library.json.gz"
    warmstart.save_corpus(cpath, [D.records[i] for i in others], [D.y[i] for i in others],
                          [D.dataset[i] for i in others])
    warmstart.corpus_path = lambda: cpath  # bench only: the shipped corpus contains this library
    dbs = Databases.open(settings)
    with dbs.training.begin() as c:
        run = create_label_run(c, labeler="bench", source="bench/quality.py", snapshot_id=None)
        set_labels(c, run, [LabelRow(D.records[i].folder_id, state[D.dataset[i]], D.records[i].rel_path, D.y[i])
                            for i in labelled])
    t0 = time.monotonic()
    tr = train_model(settings, load_config("train"), label_run_id=run, model_path=work / "model-finetuned",
                     progress=no_progress, should_stop=never_stop)
    secs = time.monotonic() - t0
    m = load_model_folder(tr.model_path, taxonomy=LABELS)
    lab = set(labelled)
    rest = [i for i in range(len(D.y)) if D.source[i] in set(lib_sources) and i not in lab]
    X = featurize([D.records[i] for i in rest], m.recipe, training=dbs.training, model_key=m.body_key,
                  emb_dim=m.emb_dim, get_body=lambda: __import__("engine.models.base", fromlist=["x"]).load_body(
                      m.body_path), batch_size=128, progress=no_progress, should_stop=never_stop)
    dbs.dispose()
    pred = [m.labels[j] for j in m.head.predict_proba(X).argmax(axis=1)]
    print(f"  fine-tuned body: {tr.finetune_steps} steps, trained in {secs:.0f} s", flush=True)
    return macro_ge3([D.y[i] for i in rest], pred), secs


# ------------------------------------------------------------------------- main

BASELINE_VARIANTS = {
    "shipped-before": {"shipped": True, "path": str(ROOT / "bench" / "out" / "baseline-before")},  # as shipped before issue 14 (saw all of ttrpg-dev; git show HEAD~:resources/baseline)
    "portable": {"recipe_kind": "portable"},
    "heuristic": {"recipe_kind": "heuristic"},
    "heur+tree": {"recipe_kind": "heuristic", "tree": True},
    "heur+tree+mix": {"recipe_kind": "heuristic", "tree": True, "mix": "auto"},
    "heur+tree+mix0.5": {"recipe_kind": "heuristic", "tree": True, "mix": 0.5},
    "shipped": {"shipped": True},
    "heur+tree+nh": {"recipe_kind": "heuristic", "tree": "h"},
    "heur+tree C0.1": {"recipe_kind": "heuristic", "tree": True, "C": 0.1},
    "heur+tree C10": {"recipe_kind": "heuristic", "tree": True, "C": 10.0},
    "heur+tree w3": {"recipe_kind": "heuristic", "tree": True, "tree_w": 3.0},
    "stack": {"recipe_kind": "heuristic", "stack": True},
    "portable+stack": {"recipe_kind": "portable", "stack": True},
    "stack+nh": {"recipe_kind": "heuristic", "stack": "h"},
    # the body fine-tuned (contrastive, hard negatives: engine.models.finetune) on the training
    # sources' folders for every held-out source (bench/ftbody.py; --ft-* options)
    "ft": {"recipe_kind": "heuristic", "ft": True},
    "ft+tree": {"recipe_kind": "heuristic", "tree": True, "ft": True},
    "ft+tree+mix": {"recipe_kind": "heuristic", "tree": True, "mix": "auto", "ft": True},
}
USER_VARIANTS = {
    "current": {},
    "+heur": {"heur": True},
    "+tree": {"tree": True},
    "+spread": {"spread": True},
    "+families": {"families": True},
    "+warm": {"warm": 1.0},
    "+tree+spread+families": {"tree": True, "spread": True, "families": True},
    "+warm2": {"warm": 2.0},
    "+warm0.5": {"warm": 0.5},
    "+warm+families": {"warm": 1.0, "families": True},
    "+warm+heur": {"warm": 1.0, "heur": True},
    "+warm+mix0.2": {"warm": 1.0, "mix": 0.2},
    "+warm+mix0.2+families": {"warm": 1.0, "mix": 0.2, "families": True},
    "+warm+mix0.2+families10": {"warm": 1.0, "mix": 0.2, "families": True, "fam_min": 10},
    "+warm+mix0.4": {"warm": 1.0, "mix": 0.4},
    "+warm+mix0.1": {"warm": 1.0, "mix": 0.1},
    "+warm+mix0.3": {"warm": 1.0, "mix": 0.3},
    "+warm+mix0.2+base0.3": {"warm": 1.0, "mix": 0.2, "base": 0.3},
    "+warm+base0.3": {"warm": 1.0, "base": 0.3},
    "+warm+base0.6": {"warm": 1.0, "base": 0.6},
    "+warm C0.3": {"warm": 1.0, "C": 0.3},
    "+warm C3": {"warm": 1.0, "C": 3.0},
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="reduced run for iteration (3 sources, 2 libraries)")
    ap.add_argument("--work", default=str(ROOT / "bench" / "out" / "quality"))
    ap.add_argument("--baseline-variants", default="shipped-before,heuristic,heur+tree,heur+tree+mix",
                    help=f"comma-separated, of: {', '.join(BASELINE_VARIANTS)}")
    ap.add_argument("--user-variants", default="current,+warm,+warm+mix0.2,+warm+mix0.2+families10",
                    help=f"comma-separated, of: {', '.join(USER_VARIANTS)}")
    ap.add_argument("--user-baseline", default="heur+tree+mix", help="baseline variant used at 0 labels in (b)")
    ap.add_argument("--skip-loso", action="store_true")
    ap.add_argument("--seeds", type=int, default=5, metavar="N",
                    help="(b) N first samples per library (sampler seeds 42, 43, ...): each row is the mean")
    ap.add_argument("--skip-workflow", action="store_true")
    ap.add_argument("--finetuned", type=int, metavar="K",
                    help="also train library K's 150 warm-start labels through the real model train "
                         "(fine-tuned body) and score it")
    ap.add_argument("--sources", help="LOSO: only these held-out sources (comma-separated)")
    ap.add_argument("--ft-steps", type=int, default=250, help="ft* variants: fine-tuning steps per held-out source")
    ap.add_argument("--ft-batch", type=int, default=16, help="ft* variants: pairs per step")
    ap.add_argument("--ft-hardneg", type=int, default=3, help="ft* variants: hard negatives per anchor (0: off)")
    ap.add_argument("--ft-lr", type=float, default=2e-5, help="ft* variants: learning rate (model train's: 2e-5)")
    ap.add_argument("--ft-seed", type=int, default=42, help="ft* variants: fine-tuning seed (pairs, init order)")
    ap.add_argument("--ft-cache", metavar="DIR", help="ft* variants: cache the fine-tuned vectors here (.npz)")
    a = ap.parse_args()
    from engine.core.taxonomy import label_names

    LABELS[:] = list(label_names())
    t0 = time.monotonic()
    D = prepare(Path(a.work), ["ttrpg-dev", "ttrpg-dev2"])
    bvars = {k: BASELINE_VARIANTS[k] for k in a.baseline_variants.split(",") if k}
    if not a.skip_loso:
        print("\n## (a) Baseline, leave-one-source-out (Macro F1, classes >= 3 held-out folders)", flush=True)
        only = None
        if a.quick:
            only = [s for s, n in Counter(D.source).most_common() if n >= 30][1:4]
        if a.sources:
            only = a.sources.split(",")
        sys.path.insert(0, str(ROOT / "bench"))
        from ftbody import FtSettings

        ft = FtSettings(steps=a.ft_steps, batch=a.ft_batch, hardneg_k=a.ft_hardneg, lr=a.ft_lr,
                        seed=a.ft_seed)
        res = loso(D, bvars, 30, only, ft=ft, ft_cache=Path(a.ft_cache) if a.ft_cache else None)
        srcs = list(next(iter(res.values())).keys())
        print("\n| source | folders | " + " | ".join(bvars) + " |")
        print("|---|---|" + "---|" * len(bvars))
        n = Counter(D.source)
        for s in srcs:
            print(f"| {s} | {n[s]} | " + " | ".join(f"{res[v][s]:.3f}" for v in bvars) + " |")
        print("| **mean** | | " + " | ".join(f"**{np.mean(list(res[v].values())):.3f}**" for v in bvars) + " |")
        print(f"# (a) done at {time.monotonic() - t0:.0f} s", flush=True)
    if not a.skip_workflow:
        libs = user_libraries(D)
        if a.quick:
            libs = libs[1:3]
        uvars = {k: USER_VARIANTS[k] for k in a.user_variants.split(",") if k}
        print("\n## (b) User workflow on an unseen library (frozen body; Macro F1 on not-yet-labelled "
              "folders, classes with >= 3 such folders)", flush=True)
        rows = []
        for li, lib in enumerate(libs):
            others = [i for i in range(len(D.y)) if D.source[i] not in set(lib)]
            base = BaselineModel(D, others, **BASELINE_VARIANTS[a.user_baseline])
            for v, kw in uvars.items():
                runs = [workflow(D, lib, kw, base, seed=42 + k) for k in range(a.seeds)]
                sc = list(np.mean([r[0] for r in runs], axis=0))
                ts, nf = runs[-1][1], runs[-1][2]
                if a.seeds > 1:
                    print(f"  library {li + 1} {v}: at 150 per seed " + " ".join(f"{r[0][-1]:.3f}" for r in runs))
                rows.append((li, v, nf, sc, ts))
                print(f"  library {li + 1} ({nf} folders, {len(lib)} sources) {v:<12} "
                      + " ".join(f"{x:.3f}" for x in sc) + f"  train@150 {ts:.1f}s", flush=True)
        if a.finetuned:
            lib = libs[a.finetuned - 1]
            others = [i for i in range(len(D.y)) if D.source[i] not in set(lib)]
            base = BaselineModel(D, others, **BASELINE_VARIANTS[a.user_baseline])
            sc, _, nf = workflow(D, lib, USER_VARIANTS["+warm+mix0.2"], base)  # what model train does
            f, secs = finetuned_run(D, Path(a.work), lib, workflow.last[0])
            print(f"  library {a.finetuned}: 150 labels, frozen body + warm start {sc[-1]:.3f}; "
                  f"fine-tuned body (real model train) + warm start {f:.3f}, train {secs:.0f} s", flush=True)
        print("\n| library | folders | variant | 0 (baseline) | 50 | 100 | 150 | train@150 s |")
        print("|---|---|---|---|---|---|---|---|")
        for li, v, nf, sc, ts in rows:
            print(f"| {li + 1} | {nf} | {v} | " + " | ".join(f"{x:.3f}" for x in sc) + f" | {ts:.1f} |")
        for v in uvars:
            m = np.mean([sc for _, vv, _, sc, _ in rows if vv == v], axis=0)
            lo = np.min([sc[-1] for _, vv, _, sc, _ in rows if vv == v])
            print(f"| **mean** | | {v} | " + " | ".join(f"**{x:.3f}**" for x in m) + f" | min@150 {lo:.3f} |")
        for li, lib in enumerate(libs):
            print(f"# library {li + 1}: {', '.join(lib)}")
    print(f"# total {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
