"""Learning curves: simulate labelling with the diverse sampler vs label next and score each step.
"""


from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.active.label_next import pick_uncertain
from engine.core.jobs import ProgressFn, StopFn, UserError, check_stop, never_stop, no_progress, wrap_progress
from engine.core.settings import StorageSettings
from engine.evaluation.report import macro_f1_min_support
from engine.models.loading import (
    Encoder,
    base_encoder,
    embedding_part,
    feature_matrix,
    fit_predict_head,
    parent_path,
)

# ---------------------------------------------------------------- learning-curve simulation


@dataclass(frozen=True)
class CurvePoint:
    n_labels: int
    macro_f1: float  # on the folders not labelled yet (classes with >= min_support of them)
    n_eval: int
    classes: tuple[str, ...]
    macro_f1_heldout: float | None = None  # on a fixed held-out set, when one was asked for


def simulate_curve(
    X: np.ndarray,
    y: Sequence[str],
    parents: Sequence[str],
    diverse_pick: Callable[[Sequence[int], int, int], list[int]],
    *,
    strategy: str,
    labels: Sequence[str],
    batch_size: int = 25,
    max_labels: int = 250,
    n_emb_cols: int | None = None,
    heldout: Iterable[int] = (),
    min_support: int = 3,
    per_parent: int = 2,
    pool_factor: float = 4.0,
    balance: bool = True,
    cover_labelled: bool = False,
    C: float = 1.0,
    seed: int = 42,
    progress: ProgressFn = no_progress,
    should_stop: StopFn = never_stop,
) -> list[CurvePoint]:
    """A simulated user labels ``batch_size`` folders at a time, chosen by ``strategy``
    (``diverse``: ``diverse_pick(pool_rows, k, round)``; ``uncertainty``: the first batch
    diverse, then :func:`pick_uncertain` on a head fitted to the labels so far). After every
    batch a head is fitted and scored on every folder not labelled yet (and on ``heldout``,
    which is never offered for labelling)."""
    if strategy not in ("diverse", "uncertainty"):
        raise ValueError(f"unknown strategy {strategy!r}")
    y = list(y)
    N = len(y)
    held = sorted(set(heldout))
    held_set = set(held)
    E = embedding_part(X, n_emb_cols or X.shape[1])
    labelled: list[int] = []
    points: list[CurvePoint] = []
    P_all: np.ndarray | None = None  # the head fitted after the last batch, on every row
    rounds = max(1, -(-max_labels // batch_size))
    for r in range(rounds):
        check_stop(should_stop)
        lab_set = set(labelled)
        pool = [i for i in range(N) if i not in lab_set and i not in held_set]
        k = min(batch_size, max_labels - len(labelled), len(pool))
        if k <= 0:
            break
        if strategy == "diverse" or P_all is None or len(set(y[i] for i in labelled)) < 2:
            new = diverse_pick(pool, k, r)
        else:
            # The head the user's labels so far give (fitted once, after the last batch).
            Pp = P_all[pool]
            rows = pick_uncertain(
                Pp,
                E[pool],
                [parents[i] for i in pool],
                k,
                per_parent=per_parent,
                pool_factor=pool_factor,
                groups=list(Pp.argmax(axis=1)) if balance else None,
                labelled_emb=E[labelled] if cover_labelled else None,
            )
            new = [pool[j] for j in rows]
        labelled += new
        lab_set = set(labelled)
        rest = [i for i in range(N) if i not in lab_set]
        P_all = fit_predict_head(X[labelled], [y[i] for i in labelled], X, labels, C=C, seed=seed)
        pred = [labels[j] for j in P_all[rest].argmax(axis=1)]
        f1, classes = macro_f1_min_support([y[i] for i in rest], pred, min_support)
        f1_held = None
        if held:
            pos = {i: k for k, i in enumerate(rest)}
            f1_held, _ = macro_f1_min_support([y[i] for i in held], [pred[pos[i]] for i in held], min_support)
        points.append(CurvePoint(len(labelled), f1, len(rest), tuple(classes), f1_held))
        progress((r + 1) / rounds, f"{strategy}: {len(labelled)} labels, Macro F1 {f1:.3f}")
    return points


@dataclass
class CurveResult:
    series: dict[str, list[CurvePoint]]  # strategy -> points (the app draws these)
    n_pool: int
    label_run_id: int
    encoder: str
    batch_size: int
    seeds: list[int] = field(default_factory=list)

    def labels_to_reach(self, strategy: str, target: float, *, heldout: bool = False) -> int | None:
        """Fewest labels at which ``strategy``'s curve reaches ``target`` (None: never)."""
        for p in self.series[strategy]:
            v = p.macro_f1_heldout if heldout else p.macro_f1
            if v is not None and v >= target - 1e-12:
                return p.n_labels
        return None


def _mean_points(runs: list[list[CurvePoint]]) -> list[CurvePoint]:
    out = []
    for pts in zip(*runs):
        f1 = float(np.nanmean([p.macro_f1 for p in pts]))
        held = [p.macro_f1_heldout for p in pts if p.macro_f1_heldout is not None]
        out.append(
            CurvePoint(
                pts[0].n_labels,
                f1,
                int(np.mean([p.n_eval for p in pts])),
                pts[0].classes,
                float(np.nanmean(held)) if held else None,
            )
        )
    return out


def learning_curves(
    settings: StorageSettings,
    *,
    label_run_id: int | None = None,
    strategies: Sequence[str] = ("diverse", "uncertainty"),
    batch_size: int = 25,
    max_labels: int = 250,
    seeds: Sequence[int] = (42,),
    heldout_fraction: float = 0.0,
    encoder: Encoder | None = None,
    diversity_factor: float = 0.7,
    per_parent: int = 2,
    pool_factor: float = 4.0,
    balance: bool = True,
    progress: ProgressFn = no_progress,
    should_stop: StopFn = never_stop,
) -> CurveResult:
    """Macro F1 against the number of labels for each strategy, replaying a label run.

    The labelled folders of the run are the pool: a simulated user labels them
    ``batch_size`` at a time in the order each strategy asks (``diverse``: the real
    :func:`engine.samples.picking.select_samples`; ``uncertainty``: :func:`pick_uncertain`), and
    after each batch the frozen-body head is scored on the rest. On a fully labelled
    library (the dev set) this is the issue's experiment; on a user's labels it answers
    "how many of my labels would the other order have needed". Averaged over ``seeds``.
    """
    from engine.core.taxonomy import label_names
    from engine.labels.runs import load_labels, resolve_label_run
    from engine.models.data import load_records
    from engine.samples.picking import load_candidates, select_samples
    from engine.storage import Databases

    dbs = Databases.open(settings)
    try:
        run = resolve_label_run(dbs.training, label_run_id)
        truth = {r.folder_id: r.label for r in load_labels(dbs.training, run)}
        records = [r for r in load_records(dbs.training, folder_ids=list(truth)) if r.folder_id in truth]
        if len(records) < 2 * batch_size or len(set(truth[r.folder_id] for r in records)) < 2:
            raise UserError(
                f"Label run {run} has {len(records)} labelled folders with features; a learning curve "
                f"needs at least {2 * batch_size} of two or more labels."
            )
        enc = encoder or base_encoder()
        X = feature_matrix(
            dbs.training, records, enc, progress=wrap_progress(progress, 0.0, 0.2), should_stop=should_stop
        )
        snaps = sorted({r.snapshot_id for r in load_labels(dbs.training, run)})
        cands: dict[int, Any] = {}
        for s in snaps:
            for c in load_candidates(dbs, s, 0, 10_000):
                cands[c.folder_id] = c
    finally:
        dbs.dispose()
    y = [truth[r.folder_id] for r in records]
    labels = [lb for lb in label_names() if lb in set(y)]
    parents = [parent_path(r.rel_path) for r in records]
    row_of = {r.folder_id: i for i, r in enumerate(records)}
    from engine.labels.splits import family_groups, split_train_test

    families = family_groups([r.rel_path for r in records])
    series: dict[str, list[CurvePoint]] = {}
    total = len(strategies) * len(seeds)
    done = 0
    for strategy in strategies:
        runs = []
        for seed in seeds:
            held = set(split_train_test(y, families, heldout_fraction, seed)[1]) if heldout_fraction > 0 else set()

            def diverse_pick(pool: Sequence[int], k: int, rnd: int, _seed: int = seed) -> list[int]:
                cs = [cands[records[i].folder_id] for i in pool if records[i].folder_id in cands]
                picked = select_samples(cs, k, diversity_factor, _seed + 1000 * rnd)
                return [row_of[c.folder_id] for c in picked]

            runs.append(
                simulate_curve(
                    X,
                    y,
                    parents,
                    diverse_pick,
                    strategy=strategy,
                    labels=labels,
                    batch_size=batch_size,
                    max_labels=max_labels,
                    n_emb_cols=enc.n_emb_cols,
                    heldout=held,
                    per_parent=per_parent,
                    pool_factor=pool_factor,
                    balance=balance,
                    seed=seed,
                    progress=wrap_progress(
                        progress, 0.2 + 0.8 * done / total, 0.2 + 0.8 * (done + 1) / total
                    ),
                    should_stop=should_stop,
                )
            )
            done += 1
        series[strategy] = _mean_points(runs)
    progress(1.0, "learning curves ready")
    return CurveResult(series, len(records), run, enc.name, batch_size, list(seeds))


