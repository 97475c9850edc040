"""Tree-aware (collective) classification: a folder's label depends on its neighbours' labels.

Why: in an asset library sibling folders almost always share a label, a subject's children
are variants, an asset-type folder's children are subjects. A head that reads one folder at
a time cannot use that; a second pass whose inputs include the label distribution of the
folder's siblings, parent and children can (issue 14, "the tree").

Two passes:

1. the first-pass head gives every folder of the library a label distribution; where the
   user labelled a folder, its distribution is replaced by the one-hot of the user's label;
2. :func:`neighbour_features` turns, for every folder, the distributions of its siblings
   (mean), parent and children (mean) into inputs, and a second head reads
   ``[first-pass inputs | neighbour features]``.

Also :func:`spread_to_lookalikes`: at predict time, a user's label spreads to the unlabelled
look-alike siblings (same name shape, digits aside) of the folder they labelled.

Nothing here reads a database: the tree is rebuilt from ``rel_path`` of the records given
(a library's folders), so the same code serves the harness, training and prediction.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engine.models.inputs import FolderRecord, heuristic_distribution_row, normalize_name

_DIGITS = re.compile(r"\d+")


class _Siblings(Sequence[list[int]]):
    """``siblings[i]``: the other members of ``i``'s sibling group, built on demand (storing
    every folder's sibling list would take the square of a flat directory's size)."""

    def __init__(self, group: list[int], groups: list[list[int]]):
        self._group, self._groups = group, groups

    def __len__(self) -> int:
        return len(self._group)

    def __getitem__(self, i):  # type: ignore[override]
        g = self._group[i]
        return [] if g < 0 else [j for j in self._groups[g] if j != i]


@dataclass(frozen=True)
class TreeIndex:
    """Row indices of every record's parent, children and sibling group (within the records
    given). ``group[i]`` is the index in ``groups`` of the folders sharing ``i``'s parent
    (-1 for a folder without siblings); ``siblings[i]`` lists the others."""

    parent: list[int | None]
    children: list[list[int]]
    group: list[int]
    groups: list[list[int]]

    @property
    def siblings(self) -> _Siblings:
        return _Siblings(self.group, self.groups)


def tree_index(records: Sequence[FolderRecord]) -> TreeIndex:
    pos = {r.rel_path: i for i, r in enumerate(records)}
    parent: list[int | None] = []
    children: list[list[int]] = [[] for _ in records]
    by_parent: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        pp = r.rel_path.rsplit("/", 1)[0] if "/" in r.rel_path else ""
        by_parent[pp].append(i)
        p = pos.get(pp) if pp else None
        parent.append(p)
        if p is not None:
            children[p].append(i)
    group = [-1] * len(records)
    groups: list[list[int]] = []
    for members in by_parent.values():
        if len(members) < 2:
            continue
        for i in members:
            group[i] = len(groups)
        groups.append(members)
    return TreeIndex(parent, children, group, groups)


N_EXTRA = 3  # has siblings, has parent, has children


def neighbour_dim(n_labels: int) -> int:
    return 3 * n_labels + N_EXTRA


def neighbour_features(index: TreeIndex, P: np.ndarray) -> np.ndarray:
    """``[mean P of siblings | P of parent | mean P of children | 3 presence flags]`` per row.

    ``P`` (rows x labels) is each folder's label distribution: user labels as one-hot,
    first-pass probabilities elsewhere. A folder's own row is never part of its features.
    Linear in the number of folders: a sibling mean is the group's sum less the folder's own
    row (a flat directory of 100,000 folders costs what 100,000 folders anywhere cost).
    """
    P = np.asarray(P, dtype=np.float32)
    n, L = P.shape
    out = np.zeros((n, neighbour_dim(L)), dtype=np.float32)
    for members in index.groups:
        rows = np.asarray(members)
        Pg = P[rows].astype(np.float64)
        out[rows, :L] = (Pg.sum(axis=0) - Pg) / (len(members) - 1)
        out[rows, 3 * L] = 1.0
    for i in range(n):
        p = index.parent[i]
        if p is not None:
            out[i, L : 2 * L] = P[p]
            out[i, 3 * L + 1] = 1.0
        c = index.children[i]
        if c:
            out[i, 2 * L : 3 * L] = P[c].mean(axis=0)
            out[i, 3 * L + 2] = 1.0
    return out


def with_known(P: np.ndarray, known: Mapping[int, int]) -> np.ndarray:
    """``P`` with the rows of user-labelled folders replaced by the one-hot of their label
    (``known``: row -> label column)."""
    Q = np.array(P, dtype=np.float32, copy=True)
    for i, j in known.items():
        Q[i] = 0.0
        Q[i, j] = 1.0
    return Q


def second_pass_inputs(
    X: np.ndarray, index: TreeIndex, P: np.ndarray, known: Mapping[int, int], weight: float
) -> np.ndarray:
    """``[X | weight * neighbour features]`` with user labels standing in for predictions."""
    return np.hstack([X, weight * neighbour_features(index, with_known(P, known))]).astype(np.float32)


def shape_key(name: str) -> tuple[str, ...]:
    """A name's look-alike key: normalized words, every digit run as ``#``
    (``Goblin 02`` and ``goblin_7`` look alike; ``Goblin`` and ``Orc`` do not)."""
    return tuple(_DIGITS.sub("#", w) for w in normalize_name(name).split(" ") if w)


def family_key(name: str) -> tuple[str, ...]:
    """A coarser key for a family of look-alike siblings: the name's *form* (word count,
    digits, separators), not its words - ``Goblin``, ``Orc``, ``Owlbear`` are one family."""
    raw = name.strip()
    words = normalize_name(raw).split(" ")
    sep = "_" if "_" in raw else "-" if "-" in raw else " " if " " in raw else ""
    return (str(min(len(words), 4)), sep, "#" if any(c.isdigit() for c in raw) else "", "A" if raw[:1].isupper() else "a")


def spread_to_lookalikes(
    records: Sequence[FolderRecord],
    labels: Sequence[str],
    pred: Sequence[str],
    known: Mapping[int, str],
    index: TreeIndex | None = None,
    *,
    min_share: float = 1.0,
) -> list[str]:
    """Predictions with user labels spread to unlabelled look-alike siblings.

    For an unlabelled folder, its labelled siblings of the same :func:`family_key` vote; when
    at least ``min_share`` of them agree, their label replaces the prediction.
    """
    del labels
    index = index or tree_index(records)
    keys = [family_key(r.name) for r in records]
    out = list(pred)
    for i, lb in known.items():
        out[i] = lb
    for members in index.groups:  # one pass per sibling group: linear in a flat directory
        votes: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for j in members:
            if j in known:
                votes[keys[j]][known[j]] += 1
        if not votes:
            continue
        for i in members:
            v = votes.get(keys[i]) if i not in known else None
            if v:
                lb, top = max(v.items(), key=lambda kv: (kv[1], kv[0]))
                if top / sum(v.values()) >= min_share:
                    out[i] = lb
    return out


def families(records: Sequence[FolderRecord], index: TreeIndex | None = None, min_size: int = 4) -> list[list[int]]:
    """Groups of ``min_size`` or more siblings of the same :func:`family_key`, largest first."""
    index = index or tree_index(records)
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        pp = r.rel_path.rsplit("/", 1)[0] if "/" in r.rel_path else ""
        groups[(pp, family_key(r.name))].append(i)
    fams = [g for g in groups.values() if len(g) >= min_size]
    fams.sort(key=lambda g: (-len(g), g[0]))
    return fams


def fit_weighted_head(
    X: np.ndarray, y: Sequence[str], labels: Sequence[str], weights: np.ndarray, *, C: float, seed: int
):
    """A logistic head with per-row weights times class balance (warm start: the user's rows
    weigh more than the shipped corpus's)."""
    from sklearn.linear_model import LogisticRegression

    from engine.models.modelio import Head

    y = np.asarray(y)
    w = np.asarray(weights, dtype=np.float64)
    cls, inv = np.unique(y, return_inverse=True)
    tot = np.bincount(inv, weights=w)
    balance = (w.sum() / (len(cls) * tot))[inv]
    clf = LogisticRegression(C=C, max_iter=3000, random_state=seed)
    clf.fit(X, y, sample_weight=w * balance)
    return Head.from_sklearn(clf, labels)


def heuristic_distribution(records: Sequence[FolderRecord], labels: Sequence[str]) -> np.ndarray:
    """The rule-based guess of every record as a distribution over ``labels``
    (:func:`engine.models.inputs.heuristic_distribution_row`, one row per record)."""
    Q = np.empty((len(records), len(labels)), dtype=np.float32)
    for i, r in enumerate(records):
        Q[i] = heuristic_distribution_row(r, labels)
    return Q


def stack_inputs(P: np.ndarray, H: np.ndarray, NF: np.ndarray, NFH: np.ndarray | None = None) -> np.ndarray:
    """The stacked second pass's inputs: the folder's own first-pass distribution (log), the
    heuristic's (log), and its neighbours' distributions. A few dozen columns: the second
    head learns how far to trust the head, the rules and the tree on libraries it did not
    see (its training rows' first-pass distributions are out-of-fold by source)."""
    parts = [np.log(np.clip(P, 1e-4, 1.0)), np.log(np.clip(H, 1e-4, 1.0)), NF]
    if NFH is not None:  # the neighbours' rule-based guesses too
        parts.append(NFH)
    return np.hstack(parts).astype(np.float32)


# ------------------------------------------------------------------ stored second pass
#
# Measured leave-one-source-out (bench/quality.py): a second head over
# ``[first-pass inputs | neighbour label distributions]`` lifts the baseline from 0.603 to
# 0.641 mean Macro F1; a small stacked head over ``[log P, log heuristic, neighbours]``
# (``stack_inputs``) scored 0.589 and is not shipped.

TREE_VERSION = 1


def tree_spec(
    head, *, weight: float = 1.0, chosen_on: str = "", heuristic_mix: float = 0.0,
    labels: Sequence[str] | None = None,
) -> dict:
    """The stored second pass (model metadata ``collective``): its head over
    ``[X | weight * neighbour features]``, a few thousand numbers kept in ``metadata.json``;
    with ``heuristic_mix`` > 0 its output is then multiplied by the rule-based guess to that
    power (:func:`mix_heuristic`; ``labels``: the head's label columns, needed then)."""
    if heuristic_mix and not labels:
        raise ValueError("a heuristic mix needs the head's labels")
    extra = {"heuristic_mix": float(heuristic_mix), "labels": list(labels)} if heuristic_mix else {}
    return {
        **extra,
        "kind": "tree",
        "version": TREE_VERSION,
        "weight": float(weight),
        "coef": np.asarray(head.coef, np.float64).round(6).tolist(),
        "intercept": np.asarray(head.intercept, np.float64).round(6).tolist(),
        "chosen_on": chosen_on,
    }


def _spec_head(spec: Mapping, n_labels: int, n_inputs: int):
    from engine.models.modelio import Head

    if spec.get("kind") != "tree" or spec.get("version") != TREE_VERSION:
        raise ValueError(f"unknown second pass {spec.get('kind')!r} version {spec.get('version')!r}")
    coef = np.asarray(spec["coef"], np.float32)
    if coef.shape != (n_labels, n_inputs + neighbour_dim(n_labels)) or len(spec["intercept"]) != n_labels:
        raise ValueError(f"second pass of shape {coef.shape} does not fit {n_labels} labels x {n_inputs} inputs")
    return Head(coef, np.asarray(spec["intercept"], np.float32))


def library_neighbour_features(records: Sequence[FolderRecord], P: np.ndarray, library: Sequence[str]) -> np.ndarray:
    """:func:`neighbour_features` with each ``library`` (e.g. dataset) a separate tree."""
    out = np.zeros((len(records), neighbour_dim(P.shape[1])), np.float32)
    for name in sorted(set(library)):
        rows = [i for i, lb in enumerate(library) if lb == name]
        out[rows] = neighbour_features(tree_index([records[i] for i in rows]), P[rows])
    return out


def source_oof_probabilities(
    X: np.ndarray, y: Sequence[str], groups: Sequence[str], labels: Sequence[str], *, C: float = 1.0,
    seed: int = 42, folds: int = 4,
) -> np.ndarray:
    """First-pass probabilities of every row from a head that never saw the row's group
    (source): ``folds`` folds of whole groups, largest groups dealt round-robin."""
    from engine.models.training import fit_head

    sizes: dict[str, int] = defaultdict(int)
    for g in groups:
        sizes[g] += 1
    fold_of = {g: k % folds for k, g in enumerate(sorted(sizes, key=lambda g: (-sizes[g], g)))}
    f = np.asarray([fold_of[g] for g in groups])
    P = np.zeros((len(y), len(labels)), np.float32)
    for k in range(folds):
        a, b = np.flatnonzero(f != k), np.flatnonzero(f == k)
        if not len(b):
            continue
        h = fit_head(X[a], [y[i] for i in a], labels, C=C, seed=seed)
        P[b] = h.predict_proba(X[b])
    return P


def fit_tree_pass(
    X: np.ndarray,
    y: Sequence[str],
    records: Sequence[FolderRecord],
    groups: Sequence[str],
    library: Sequence[str],
    labels: Sequence[str],
    *,
    C: float = 1.0,
    seed: int = 42,
    folds: int = 4,
    weight: float = 1.0,
    P_oof: np.ndarray | None = None,
):
    """The second head, trained on neighbour distributions from first passes that are
    out-of-fold by ``groups`` (sources): it must learn how far to trust the neighbours'
    predictions on a library the first pass never saw, not on its own training rows.
    ``P_oof``: those first passes, when the caller already has them
    (:func:`source_oof_probabilities` with the same arguments)."""
    from engine.models.training import fit_head

    if P_oof is None:
        P_oof = source_oof_probabilities(X, y, groups, labels, C=C, seed=seed, folds=folds)
    X2 = np.hstack([X, weight * library_neighbour_features(records, P_oof, library)])
    return fit_head(X2, list(y), labels, C=C, seed=seed)


# ------------------------------------------------------------- the rules as a second expert
#
# Measured leave-one-source-out (bench/quality.py, issue 14): the head, trained on a few
# dozen sources, learns their naming conventions and on a new library overrides the
# rule-based guess where the rules were right (a sound-effects or map library whose
# conventions the corpus lacks). A product of experts - the tree pass's distribution times
# the heuristic's distribution to a power ``alpha`` - lets the rules pull back. ``alpha`` is
# not tuned by hand: :func:`choose_heuristic_mix` picks it on first passes that are
# out-of-fold by source, i.e. on how the rules and the head combine on sources the head
# never saw.

MIX_GRID = tuple(round(0.1 * k, 1) for k in range(11))


def mix_heuristic(P: np.ndarray, records: Sequence[FolderRecord], labels: Sequence[str], alpha: float) -> np.ndarray:
    """``P * heuristic ** alpha``, renormalized (``alpha`` 0: ``P`` unchanged)."""
    P = np.asarray(P, np.float32)
    if not alpha or not len(P):
        return P
    H = heuristic_distribution(records, labels)
    logp = np.log(np.clip(P, 1e-6, 1.0)) + float(alpha) * np.log(np.clip(H, 1e-6, 1.0))
    logp -= logp.max(axis=1, keepdims=True)
    Q = np.exp(logp)
    return (Q / Q.sum(axis=1, keepdims=True)).astype(np.float32)


def choose_heuristic_mix(
    P_oof: np.ndarray, records: Sequence[FolderRecord], y: Sequence[str], groups: Sequence[str],
    labels: Sequence[str], *, grid: Sequence[float] = MIX_GRID, min_group: int = 30,
) -> float:
    """The ``alpha`` of :func:`mix_heuristic` with the best mean Macro F1 (classes >= 3)
    over the groups of >= ``min_group`` rows (all rows pooled when no group is that big),
    on source-out-of-fold first passes ``P_oof``; ties go to the smaller ``alpha``."""
    from engine.evaluation.report import macro_f1_min_support

    y = list(y)
    by: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        by[g].append(i)
    sets = [rows for rows in by.values() if len(rows) >= min_group] or [list(range(len(y)))]
    best = (-1.0, 0.0)
    for a in grid:
        pred = [labels[j] for j in mix_heuristic(P_oof, records, labels, a).argmax(axis=1)]
        scores = [macro_f1_min_support([y[i] for i in rows], [pred[i] for i in rows], 3)[0] for rows in sets]
        scores = [s for s in scores if s == s]  # NaN: no class with 3 folders
        m = float(np.mean(scores)) if scores else 0.0
        if m > best[0] + 1e-9:
            best = (m, float(a))
    return best[1]


def apply_tree(spec: Mapping, records: Sequence[FolderRecord], X: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Second-pass probabilities of ``records`` (a whole library: neighbours are looked up
    among them) from their inputs ``X`` and first-pass probabilities ``P``."""
    head = _spec_head(spec, P.shape[1], X.shape[1])
    NF = neighbour_features(tree_index(records), P)
    out = head.predict_proba(np.hstack([X, float(spec.get("weight", 1.0)) * NF]).astype(np.float32))
    return _spec_mix(spec, out, records)


def _spec_mix(spec: Mapping, P: np.ndarray, records: Sequence[FolderRecord]) -> np.ndarray:
    a = float(spec.get("heuristic_mix") or 0.0)
    if not a:
        return P
    labels = list(spec.get("labels") or [])
    if len(labels) != P.shape[1]:
        raise ValueError(f"second pass mixes {len(labels)} heuristic labels into {P.shape[1]} columns")
    return mix_heuristic(P, records, labels, a)


def predict_library(
    records: Sequence[FolderRecord],
    model,  # an engine.models.modelio.LoadedModel
    spec: Mapping,
    vectors: dict[str, np.ndarray],
    should_stop,
    chunk: int = 8192,
) -> np.ndarray:
    """First pass and stored second pass of a whole library (``model predict`` over a snapshot).

    The second head is linear over ``[X | w * neighbour features]``, so its logits are
    ``X @ A.T + (w * NF) @ B.T + b``: the ``X @ A.T`` part (a few numbers per folder) is taken
    from each chunk of input rows while the first pass has it, and the input matrix is built
    once, a chunk at a time, instead of twice (the generic path rebuilds it after re-reading
    every record and vector). Same probabilities as ``collective.apply_tree`` up to float32
    rounding (the stored heuristic mix included); peak memory stays a chunk of inputs plus a few
    numbers per folder.
    """
    from engine.core.jobs import check_stop
    from engine.models.inputs import build_matrix, feature_dim

    n, L = len(records), len(model.labels)
    D = feature_dim(model.recipe, model.emb_dim)
    head2 = _spec_head(spec, L, D)  # checks the stored shape against this model's inputs
    A = head2.coef[:, :D].T  # the second head's weights on the first-pass inputs
    P = np.empty((n, L), np.float32)
    Z = np.empty((n, L), np.float32)
    for s in range(0, n, chunk):
        check_stop(should_stop)
        X = build_matrix(records[s : s + chunk], model.recipe, vectors, model.emb_dim)
        P[s : s + len(X)] = model.head.predict_proba(X)
        Z[s : s + len(X)] = X @ A
        del X
    check_stop(should_stop)
    NF = neighbour_features(tree_index(records), P)
    NF *= float(spec.get("weight", 1.0))
    Z += NF @ head2.coef[:, D:].T
    del NF
    Z += head2.intercept
    Z -= Z.max(axis=1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)
    return _spec_mix(spec, Z, records)  # the rule-based guess as a second expert, when the spec has it


def second_pass_for_targets(
    spec: Mapping,
    targets: Sequence[FolderRecord],
    probs: np.ndarray,
    library: Sequence[FolderRecord],
    first_pass,
    matrix,
    chunk: int = 8192,
) -> np.ndarray:
    """``probs`` of ``targets`` after the second pass. Neighbours come from ``library`` (every
    folder of the snapshot); folders that are not targets get their first-pass probabilities
    from ``first_pass(records)``; ``matrix(records)`` builds first-pass inputs."""
    have = {r.folder_id for r in targets}
    rest = [r for r in library if r.folder_id not in have]
    P = np.asarray(probs, np.float32)
    if rest:
        P = np.vstack([P, first_pass(rest)])
    recs = list(targets) + rest
    NF = neighbour_features(tree_index(recs), P)[: len(targets)]
    w = float(spec.get("weight", 1.0))
    out = []
    for s in range(0, len(targets), chunk):
        X = matrix(list(targets[s : s + chunk]))
        head = _spec_head(spec, P.shape[1], X.shape[1])
        out.append(head.predict_proba(np.hstack([X, w * NF[s : s + chunk]]).astype(np.float32)))
    return _spec_mix(spec, np.concatenate(out).astype(np.float32), targets) if out else P[:0]


def predict_second_pass(training, model, targets, snapshot_id, probs, *, get_body, batch_size, should_stop):
    """``model predict``'s hook: the stored second pass of ``model`` over the snapshot's tree
    (neighbours of a labelled-only target are featurized too; their vectors are cached)."""
    from engine.models.data import embed_records, load_records, predict_in_chunks
    from engine.models.inputs import build_matrix

    library = neighbourhood(targets, load_records(training, snapshot_id=snapshot_id))

    def vectors(recs):
        return embed_records(recs, model.recipe, training=training, model_key=model.body_key, get_body=get_body,
                             batch_size=batch_size, progress=lambda *_: None, should_stop=should_stop)

    def first_pass(recs):
        return predict_in_chunks(recs, model.recipe, vectors(recs), model.emb_dim, model.head.predict_proba,
                                 should_stop=should_stop)

    def matrix(recs):
        return build_matrix(recs, model.recipe, vectors(recs), model.emb_dim)

    return second_pass_for_targets(model.metadata["collective"], targets, probs, library, first_pass, matrix)


def neighbourhood(targets: Sequence[FolderRecord], library: Sequence[FolderRecord]) -> list[FolderRecord]:
    """The folders of ``library`` the second pass of ``targets`` reads: the targets' parents,
    children and siblings (a labelled-only prediction then embeds only those, never the
    whole library)."""
    def parent(p: str) -> str:
        return p.rsplit("/", 1)[0] if "/" in p else ""

    paths = {r.rel_path for r in targets}
    parents = {parent(p) for p in paths}
    return [r for r in library if r.rel_path in paths or r.rel_path in parents
            or parent(r.rel_path) in parents or parent(r.rel_path) in paths]
