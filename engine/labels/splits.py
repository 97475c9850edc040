"""The one splitter: grouped, stratified train / validation / test assignment and folds.

Every held-out figure fsorg shows (the train report, abstention thresholds, suspects,
learning curves) comes from folders split here, so they all answer the same question:
"how well does this do on the rest of my library", not "on siblings of what I labelled".

**Families.** Folders under the same parent (``Maps/forest`` and ``Maps/desert``; not the
library root, whose children are unrelated creators and collections) and
folders sharing a normalized name (``01_Goblin Camp`` in two packs) are one family, joined
with union-find; a family never straddles train and test, nor two folds. Measured on
ttrpg-dev before this: 40-47 % of test folders shared a normalized name with a training
folder and 93-96 % had a sibling in training.

**Stratified** within that constraint with scikit-learn's ``StratifiedGroupKFold``.

**The one-example class** (the thin wrapper scikit-learn lacks): a class with one folder,
or whose folders all sit in one family, cannot be on both sides; it stays in training
(a test folder of a class the model never saw measures nothing), and so does its family.
"""

from __future__ import annotations

import warnings
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

SPLITS = ("train", "validation", "test")


def parent_of(rel_path: str) -> str:
    p = rel_path.replace("\\", "/").strip("/")
    return p.rsplit("/", 1)[0] if "/" in p else ""


def _name_key(rel_path: str) -> str:
    from engine.core.text import normalize_name

    name = rel_path.replace("\\", "/").strip("/").rsplit("/", 1)[-1]
    text = normalize_name(name).text
    return text or name.strip().lower()


def family_groups(rel_paths: Sequence[str]) -> np.ndarray:
    """A family id per folder: same parent (below the root) or same normalized name, joined transitively.

    Measured on ttrpg-dev with the root counted as a parent: every top-level folder was one
    family, so a test split held 8 of the 12 creator folders and training only nested ones."""
    n = len(rel_paths)
    up = list(range(n))

    def find(i: int) -> int:
        while up[i] != i:
            up[i] = up[up[i]]
            i = up[i]
        return i

    first: dict[tuple[str, str], int] = {}
    for i, p in enumerate(rel_paths):
        parent = parent_of(p)
        # The library root is not a pack: its children (creators, collections) are unrelated.
        keys = [("name", _name_key(p))] + ([("parent", parent)] if parent else [])
        for key in keys:
            j = first.setdefault(key, i)
            a, b = find(i), find(j)
            if a != b:
                up[max(a, b)] = min(a, b)
    roots = [find(i) for i in range(n)]
    ids = {r: k for k, r in enumerate(dict.fromkeys(roots))}
    return np.asarray([ids[r] for r in roots], dtype=int)


def _as_groups(y: Sequence[str], groups: Sequence[int] | None) -> np.ndarray:
    return np.arange(len(y)) if groups is None else np.asarray(groups)


def pinned_to_training(y: Sequence[str], groups: Sequence[int], rows: Sequence[int] | None = None) -> set[int]:
    """Rows that must stay in training: every family holding a class that has one folder, or
    whose folders all sit in one family (among ``rows``, default all)."""
    rows = list(range(len(y))) if rows is None else list(rows)
    fams: dict[str, set[int]] = defaultdict(set)
    for i in rows:
        fams[y[i]].add(int(groups[i]))
    stuck_groups = {next(iter(g)) for g in fams.values() if len(g) < 2}
    return {i for i in rows if int(groups[i]) in stuck_groups}


def _sgkf_folds(y: Sequence[str], groups: np.ndarray, rows: list[int], k: int, seed: int) -> list[list[int]]:
    """``StratifiedGroupKFold`` over ``rows``: a list of folds (row indices)."""
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len({int(groups[i]) for i in rows})
    k = max(2, min(k, n_groups))
    if n_groups < 2:
        return [list(rows)]
    yy = np.asarray([y[i] for i in rows])
    gg = np.asarray([int(groups[i]) for i in rows])
    if max(Counter(yy.tolist()).values()) < k:
        # scikit-learn refuses to stratify when every class is smaller than the number of
        # folds (a handful of labels): keep the families whole and drop the stratification.
        from sklearn.model_selection import GroupKFold

        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(rows))  # GroupKFold is deterministic: shuffle the rows first
        folds = GroupKFold(n_splits=k).split(np.zeros(len(rows)), yy[perm], gg[perm])
        return [[rows[int(perm[j])] for j in te] for _tr, te in folds]
    sgkf = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "the least populated class has only 1 member"
        return [[rows[j] for j in te] for _tr, te in sgkf.split(np.zeros(len(rows)), yy, gg)]


def _pick(y: Sequence[str], groups: np.ndarray, rows: list[int], want: int, seed: int) -> list[int]:
    """About ``want`` of ``rows``, whole families, stratified, never a pinned family."""
    if want <= 0:
        return []
    pinned = pinned_to_training(y, groups, rows)
    free = [i for i in rows if i not in pinned]
    if not free or len({int(groups[i]) for i in free}) < 2:
        return []
    k = int(round(len(free) / want)) if want < len(free) else 2
    folds = _sgkf_folds(y, groups, free, max(2, k), seed)
    best = min(folds, key=lambda f: (abs(len(f) - want), min(f)))
    return sorted(best)


def _keep_every_class_in_training(y: Sequence[str], groups: np.ndarray, side: list[str | None]) -> None:
    """A class left without a training folder gets its smallest held-out family back."""
    for lb in sorted(set(y)):
        rows = [i for i, v in enumerate(y) if v == lb]
        if any(side[i] == "train" for i in rows):
            continue
        fam_size = Counter(int(groups[i]) for i in rows)
        g = min(fam_size, key=lambda f: (fam_size[f], f))
        for i in range(len(y)):
            if int(groups[i]) == g:
                side[i] = "train"


def split_train_test(
    y: Sequence[str], groups: Sequence[int] | None, test_size: float, seed: int
) -> tuple[list[int], list[int]]:
    """Indices (train, test): about ``test_size`` of the folders held out, families whole."""
    side = assign_splits(y, groups, validation_fraction=0.0, test_fraction=test_size, seed=seed)
    return [i for i, s in enumerate(side) if s != "test"], [i for i, s in enumerate(side) if s == "test"]


def assign_splits(
    y: Sequence[str],
    groups: Sequence[int] | None,
    *,
    validation_fraction: float,
    test_fraction: float,
    seed: int,
    existing: Sequence[str | None] | None = None,
) -> list[str]:
    """A split per row. Rows with an ``existing`` split keep it (moving a folder from test to
    train between imports would leak test data into training) and their family follows the
    family's most common split; the rest is drawn, grouped and stratified, up to the targets
    ``round(n * fraction)`` over all rows."""
    y = list(y)
    g = _as_groups(y, groups)
    n = len(y)
    old = list(existing) if existing is not None else [None] * n
    side: list[str | None] = [s if s in SPLITS else None for s in old]
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        members[int(g[i])].append(i)
    for rows in members.values():
        have = Counter(side[i] for i in rows if side[i] is not None)
        if have:
            top = have.most_common(1)[0][0]
            for i in rows:
                side[i] = side[i] or top
    for split, fraction in (("test", test_fraction), ("validation", validation_fraction)):
        free = [i for i in range(n) if side[i] is None]
        want = int(round(n * fraction)) - sum(1 for s in side if s == split)
        for i in _pick(y, g, free, want, seed):
            side[i] = split
    out: list[str] = [s or "train" for s in side]
    fixed: list[str | None] = list(out)
    _keep_every_class_in_training(y, g, fixed)
    return [out[i] if old[i] in SPLITS else str(fixed[i]) for i in range(n)]


def grouped_folds(y: Sequence[str], groups: Sequence[int] | None, k: int, seed: int) -> np.ndarray:
    """A fold number per row (``k`` folds, fewer when there are fewer families): families whole,
    classes spread as evenly as the families allow."""
    y = list(y)
    g = _as_groups(y, groups)
    fold = np.zeros(len(y), dtype=int)
    if len(y) == 0:
        return fold
    if len(set(g.tolist())) < 2:
        g = np.arange(len(y))  # one family: nothing to keep apart from
    for f, rows in enumerate(_sgkf_folds(y, g, list(range(len(y))), k, seed)):
        fold[rows] = f
    return fold


def keeps_families_whole(groups: Sequence[int], side: Sequence[str]) -> bool:
    """True when no family has folders on both sides of test / not test."""
    seen: dict[int, set[bool]] = defaultdict(set)
    for gi, s in zip(groups, side):
        seen[int(gi)].add(s == "test")
    return all(len(v) == 1 for v in seen.values())


__all__ = [
    "SPLITS",
    "family_groups",
    "split_train_test",
    "assign_splits",
    "grouped_folds",
    "pinned_to_training",
    "keeps_families_whole",
    "parent_of",
]
