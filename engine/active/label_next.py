"""Label next: what to ask the user about next.

Label next (:func:`select_uncertain`, :func:`pick_uncertain`)
    Uncertainty = the *margin* between the two most probable labels (small margin: the
    model hesitates between two labels, so a label there moves the decision boundary).
    The most uncertain folders of a library come in clumps (twenty ``Night``/``Day``
    siblings the model finds equally confusing), so a batch is spread out in three steps:
    the batch is split evenly over the labels the model currently *predicts* (a label it
    rarely predicts, such as a creator, still gets questions: without this, uncertainty
    sampling keeps asking about the big confusable classes and finds the rare ones late);
    in each share, at most ``per_parent`` folders per parent folder are taken from the
    ``pool_factor * share`` lowest margins; then a *weighted k-center* pass over the
    embedding part of the input (each next pick maximises ``uncertainty x cosine distance
"""


from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.jobs import ProgressFn, StopFn, UserError, check_stop, never_stop, no_progress, wrap_progress
from engine.core.settings import StorageSettings
from engine.models.loading import embedding_part, feature_matrix, load_model, model_encoder, parent_path

# ============================================================================ label next


def margins(probs: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 probability per row (0 = a tie between two labels, 1 = certain)."""
    P = np.asarray(probs, dtype=np.float64)
    if P.shape[1] < 2:
        return np.ones(len(P))
    part = np.partition(P, P.shape[1] - 2, axis=1)
    return part[:, -1] - part[:, -2]


def _even_quotas(sizes: Mapping[Any, int], n: int) -> dict[Any, int]:
    """Split ``n`` as evenly as possible over groups, none above its size (largest groups
    take what small ones cannot)."""
    quotas = {g: 0 for g in sizes}
    left = min(n, sum(sizes.values()))
    open_ = sorted((g for g in sizes if sizes[g] > 0), key=lambda g: (sizes[g], str(g)))
    while left > 0 and open_:
        share = max(1, left // len(open_))
        for g in list(open_):
            take = min(share, sizes[g] - quotas[g], left)
            quotas[g] += take
            left -= take
            if quotas[g] >= sizes[g]:
                open_.remove(g)
            if left == 0:
                break
    return quotas


def pick_uncertain(
    probs: np.ndarray,
    emb: np.ndarray,
    parents: Sequence[str],
    n: int,
    *,
    per_parent: int = 2,
    pool_factor: float = 4.0,
    groups: Sequence[Any] | None = None,
    labelled_emb: np.ndarray | None = None,
) -> list[int]:
    """Row indices of the ``n`` folders to label next, most uncertain first (module docstring).

    ``probs`` (rows x labels) and ``emb`` (rows x d, L2-normalised) describe the unlabelled
    candidates; ``parents`` their parent paths. ``groups`` (e.g. each row's predicted label)
    splits the batch evenly over the groups, so a label the model rarely predicts still gets
    its share of questions. With ``labelled_emb`` the folders already labelled count as
    chosen, so the batch also avoids what the user already covered. Deterministic.
    """
    N = len(probs)
    n = max(0, min(int(n), N))
    if n == 0:
        return []
    m = margins(probs)
    u_all = 1.0 - m  # uncertainty in [0, 1]
    order = np.argsort(m, kind="stable")
    keys = list(groups) if groups is not None else [0] * N
    by_group: dict[Any, list[int]] = defaultdict(list)
    for i in order:
        by_group[keys[int(i)]].append(int(i))
    quotas = _even_quotas({g: len(v) for g, v in by_group.items()}, n)
    per_parent = max(1, int(per_parent))
    used: Counter[str] = Counter()
    E_all = np.asarray(emb, dtype=np.float32)
    chosen: list[int] = []
    # distance of every row to the nearest chosen (or labelled) folder
    if labelled_emb is not None and len(labelled_emb):
        dist = np.clip(1.0 - (E_all @ np.asarray(labelled_emb, np.float32).T).max(axis=1), 0.0, 2.0)
    else:
        dist = np.full(N, 2.0, dtype=np.float32)
    for g in sorted(by_group, key=lambda g: (-quotas[g], str(g))):
        q = quotas[g]
        if q == 0:
            continue
        pool: list[int] = []
        for i in by_group[g]:
            if used[parents[i]] >= per_parent:
                continue
            used[parents[i]] += 1
            pool.append(i)
            if len(pool) >= max(q, int(round(q * pool_factor))):
                break
        if len(pool) < q:  # few parents: relax the cap rather than ask fewer questions
            in_pool = set(pool)
            pool += [i for i in by_group[g] if i not in in_pool][: q - len(pool)]
        P = np.asarray(pool)
        taken = np.zeros(len(P), dtype=bool)
        for _ in range(q):
            score = u_all[P] * (dist[P] + 1e-6)
            score[taken] = -1.0
            j = int(np.argmax(score))
            taken[j] = True
            chosen.append(int(P[j]))
            dist = np.minimum(dist, np.clip(1.0 - E_all @ E_all[P[j]], 0.0, 2.0))
    chosen.sort(key=lambda i: (m[i], i))
    return chosen


# Families of look-alike siblings this big with no labelled member get one question each.
COVER_FAMILIES_MIN = 10


def uncovered_family_picks(
    library: Sequence[Any],
    labelled: set[int],
    candidates: Mapping[int, int],
    probs: np.ndarray,
    n: int,
    *,
    min_size: int = COVER_FAMILIES_MIN,
) -> list[tuple[int, int]]:
    """(row of ``probs``, family size) to ask about first: for every family of ``min_size`` or more look-alike
    siblings (:func:`engine.models.collective.families`: same parent, same name form) of which
    the user labelled none, its member the model is least sure of; largest families first, at
    most ``n``.

    Why: a whole family of sibling token folders predicted wrong with confidence, none of them
    in the sample, was the largest error after fine-tuning on a messy library (issue 14).
    Uncertainty sampling never asks about it because the model is sure. One label per family
    then reaches every sibling through the head. ``library``: every folder (records) of the
    snapshot; ``labelled``: their labelled folder ids; ``candidates``: folder id -> row of
    ``probs`` for the folders that may be proposed.
    """
    from engine.models.collective import families

    if n <= 0 or min_size <= 0:
        return []
    m = margins(probs)
    out: list[tuple[int, int]] = []
    for fam in families(library, min_size=min_size):
        ids = [library[i].folder_id for i in fam]
        if any(f in labelled for f in ids):
            continue
        rows = [candidates[f] for f in ids if f in candidates]
        if not rows:
            continue
        out.append((min(rows, key=lambda r: (m[r], r)), len(fam)))
        if len(out) >= n:
            break
    return out


@dataclass(frozen=True)
class Proposal:
    """One folder proposed for labelling, with why."""

    folder_id: int
    path: str
    name: str
    margin: float
    top_label: str
    p_top: float
    second_label: str
    p_second: float
    # > 0: asked because it stands for a family of this many look-alike siblings, none labelled
    family_size: int = 0


def select_uncertain(
    settings: StorageSettings,
    *,
    n: int = 20,
    model: Any = None,
    probs: np.ndarray | None = None,
    candidate_ids: Sequence[int] | None = None,
    snapshot_id: int | None = None,
    per_parent: int = 2,
    pool_factor: float = 4.0,
    balance: bool = True,
    cover_families: int = COVER_FAMILIES_MIN,
    progress: ProgressFn = no_progress,
    should_stop: StopFn = never_stop,
) -> list[Proposal]:
    """The ``n`` unlabelled folders to label next, most uncertain first.

    Up to half the batch first covers families of ``cover_families`` or more look-alike
    siblings with no labelled member (:func:`uncovered_family_picks`; 0 turns it off), the
    rest is :func:`pick_uncertain`'s.

    ``candidate_ids``: the folders to choose from (default: every folder below the root of
    ``snapshot_id``, or of the newest featured snapshot, minus the labelled ones).
    ``model``: a LoadedModel or a model folder (default: the newest trained model, else the
    shipped baseline). ``probs``: precomputed probabilities (rows = ``candidate_ids``, columns
    = the model's labels) to skip the head; embeddings still come from the model's body.
    """
    from engine.models.data import load_records, require_features
    from engine.storage import Databases

    progress(0.0, "finding unlabelled folders")
    dbs = Databases.open(settings)
    try:
        from engine.labels.saving import labels_for_snapshot

        labelled: set[int] | None = None
        library: list | None = None  # every folder of the snapshot (the family check reads it)
        snap = snapshot_id
        if candidate_ids is None:
            if probs is not None:
                raise ValueError("probs needs candidate_ids (its rows)")
            snap = snapshot_id if snapshot_id is not None else require_features(dbs.training)
            # labels made on an older scan of the same root count too (matched by path)
            labelled = set(labels_for_snapshot(settings, snap)[1])
            library = load_records(dbs.training, snapshot_id=snap)
            records = [
                r
                for r in library
                if r.folder_id not in labelled and r.depth >= 1  # the scanned root is never labelled
            ]
        else:
            records = load_records(dbs.training, folder_ids=list(candidate_ids))
            if probs is not None:
                keep = {int(i): k for k, i in enumerate(candidate_ids)}
                probs = np.asarray(probs)[[keep[r.folder_id] for r in records]]
        if not records:
            raise UserError("Every folder is already labelled: there is nothing left to propose.")
        check_stop(should_stop)
        progress(0.02, "loading the model")
        loaded = load_model(dbs.training, model)
        enc = model_encoder(loaded)
        X = feature_matrix(
            dbs.training, records, enc, progress=wrap_progress(progress, 0.05, 0.9), should_stop=should_stop
        )
        check_stop(should_stop)
        P = loaded.head.predict_proba(X) if probs is None else np.asarray(probs, np.float32)
        first: dict[int, int] = {}  # row -> size of the family it stands for
        if cover_families and snap is not None:
            progress(0.9, "looking for families of look-alike folders with no label")
            if labelled is None:
                labelled = set(labels_for_snapshot(settings, snap)[1])
            first = dict(uncovered_family_picks(
                library if library is not None else load_records(dbs.training, snapshot_id=snap), labelled,
                {r.folder_id: i for i, r in enumerate(records)}, P, min(n // 2, len(records)),
                min_size=cover_families,
            ))
        progress(0.92, "spreading the batch over parents and clusters")
        rest = [i for i in range(len(records)) if i not in first]
        sel = pick_uncertain(
            P[rest],
            embedding_part(X, enc.n_emb_cols)[rest],
            [parent_path(records[i].rel_path) for i in rest],
            n - len(first),
            per_parent=per_parent,
            pool_factor=pool_factor,
            groups=list(P[rest].argmax(axis=1)) if balance else None,
        )
        m = margins(P)
        picked = sorted([*first, *(rest[j] for j in sel)], key=lambda i: (m[i], i))
    finally:
        dbs.dispose()
    labels = list(loaded.labels)
    out = []
    for i in picked:
        o = np.argsort(-P[i], kind="stable")
        out.append(
            Proposal(
                records[i].folder_id,
                records[i].rel_path,
                records[i].name,
                float(P[i, o[0]] - P[i, o[1]]),
                labels[o[0]],
                float(P[i, o[0]]),
                labels[o[1]],
                float(P[i, o[1]]),
                first.get(i, 0),
            )
        )
    progress(1.0, f"{len(out)} folders proposed")
    return out


# Columns the app's "Label next" sample adds to the samples CSV (after SAMPLE_COLUMNS).
LABEL_NEXT_COLUMNS = ("model_label", "model_p", "second_label", "second_p", "margin", "family")


def uncertain_sample(
    settings: StorageSettings,
    snapshot_id: int,
    output_csv: str | Path,
    *,
    n: int = 20,
    model: Any = None,
    min_depth: int = 1,
    max_depth: int = 10_000,
    progress: ProgressFn = no_progress,
    should_stop: StopFn = never_stop,
) -> tuple[list[Proposal], list[dict[str, str]]]:
    """Write the samples CSV of the ``n`` folders to label next (:func:`select_uncertain`
    over the unlabelled folders between ``min_depth`` and ``max_depth``), with the model's
    top two labels and margin in :data:`LABEL_NEXT_COLUMNS`. Returns (proposals, CSV rows as
    strings, most uncertain first) - the rows the app shows, exactly as written."""
    from engine.core.csvio import write_csv
    from engine.labels.saving import labels_for_snapshot
    from engine.samples.picking import SAMPLE_COLUMNS, load_candidates, sample_row
    from engine.storage import Databases

    progress(0.0, "finding unlabelled folders")
    dbs = Databases.open(settings)
    try:
        cands = load_candidates(dbs, snapshot_id, max(1, min_depth), max_depth)
    finally:
        dbs.dispose()
    labelled = set(labels_for_snapshot(settings, snapshot_id)[1])
    fresh = {c.folder_id: c for c in cands if c.folder_id not in labelled}
    if not fresh:
        raise UserError(
            "Every folder between depth "
            f"{max(1, min_depth)} and {max_depth} is already labelled: there is nothing left to propose."
            if cands
            else f"Snapshot {snapshot_id} has no features yet: extract features first."
        )
    proposals = select_uncertain(
        settings,
        n=n,
        model=model,
        candidate_ids=list(fresh),
        snapshot_id=snapshot_id,
        progress=wrap_progress(progress, 0.02, 0.95),
        should_stop=should_stop,
    )
    check_stop(should_stop)
    rows: list[dict[str, str]] = []
    for p in proposals:
        r = {k: "" if v is None else str(v) for k, v in sample_row(fresh[p.folder_id], snapshot_id).items()}
        r.update(
            model_label=p.top_label,
            model_p=f"{p.p_top:.3f}",
            second_label=p.second_label,
            second_p=f"{p.p_second:.3f}",
            margin=f"{p.margin:.3f}",
            family=str(p.family_size) if p.family_size else "",
        )
        rows.append(r)
    write_csv(output_csv, SAMPLE_COLUMNS + LABEL_NEXT_COLUMNS, rows)
    progress(1.0, f"{len(rows)} folders to label next")
    return proposals, rows


def uncertainty_picker(dbs: Any, fresh: list, snapshot_id: int, config: Any, progress: ProgressFn, should_stop: StopFn) -> list:
    """``generate-samples --strategy uncertainty``: the folders the current model (newest trained,
    else the baseline) hesitates on most, spread over parents and name clusters."""
    proposals = select_uncertain(
        dbs.settings,
        n=config.sample_size,
        candidate_ids=[c.folder_id for c in fresh],
        snapshot_id=snapshot_id,
        progress=progress,
        should_stop=should_stop,
    )
    by_id = {c.folder_id: c for c in fresh}
    return [by_id[p.folder_id] for p in proposals if p.folder_id in by_id]


def picker_for(strategy: str) -> Callable[..., list] | None:
    """The picker ``engine.samples.picking.generate_samples`` takes for a config's ``strategy``."""
    return uncertainty_picker if strategy == "uncertainty" else None

