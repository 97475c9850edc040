"""Label smarter (issue 9): what to label next, which labels look wrong, which folders look
alike, when the model should say ``unknown``, and why it said what it said.

Everything here works on the *same inputs the models see*: the input recipe of
:mod:`engine.models.inputs` built by :func:`engine.models.data.featurize` from cached
embeddings, and linear heads fitted by :func:`engine.models.training.fit_head`. Nothing
re-implements the recipe, and after the first call nothing is encoded again (the vectors
are cached by text in ``training.db``).

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
    to everything already chosen``). Measured in ``bench/active_learning.py``.

Suspect labels (:func:`find_suspects`)
    Out-of-fold probabilities: the labelled folders are split into ``k_folds`` stratified
    folds, a head is fitted on the others and predicts each fold, so no folder is judged
    by a head that saw its own label. The default body is the *frozen base* body: a
    fine-tuned body has seen the labels (wrong ones included) and would vouch for them.
    A folder's suspicion score is ``1 - p(its label)`` (confident learning's
    "self-confidence" ranking). Measured on the dev set with 5 % of the labels flipped, it
    puts more flipped labels in the top 5 % than the margin ``max p(other) - p(label)``
    (59 % vs 44 % of them, 5 seeds; top 10 %: 86 % vs 80 %). ``repeats`` > 1 averages the
    out-of-fold probabilities over several fold splits (steadier, ``repeats`` times the
    cost). Labels with fewer than ``min_class_size`` examples are not judged (a head
    cannot learn them from the other folds).

Abstain (:func:`choose_thresholds`, :func:`apply_abstention`, :func:`coverage_curve`)
    Per predicted class, the smallest confidence threshold whose kept predictions reach
    ``target_precision`` on the validation probabilities; classes with too few validation
    predictions use one global threshold chosen the same way over all classes.

Propagate (:func:`look_alikes`, :func:`name_key`)
    See :func:`look_alikes` for the definition of a look-alike.

Explain (:class:`Explainer`, :func:`explain`)
    The heuristic rule and label stored by ``extract-features``, the model's top three
    labels, and the three labelled folders nearest in the model's embedding space.

Engine rules: no Qt; heavy imports (torch, sklearn) only inside functions; long functions
take ``progress`` / ``should_stop``; user-fixable problems raise :class:`UserError`.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, select

from engine.jobs import ProgressFn, StopFn, UserError, check_stop, never_stop, no_progress, wrap_progress
from engine.settings import StorageSettings
from engine.storage import schema as S

UNKNOWN = "unknown"

# ======================================================================== model + inputs


@dataclass
class Encoder:
    """How folders become input rows: a body (its cache key) and the input recipe."""

    recipe: dict[str, Any]
    model_key: str
    emb_dim: int
    get_body: Callable[[], Any]
    name: str

    @property
    def n_emb_cols(self) -> int:
        return self.emb_dim * len(self.recipe["blocks"])


def base_encoder() -> Encoder:
    """The frozen base body (all-MiniLM-L6-v2 from the installed package) with the default recipe."""
    from engine.models import base as B
    from engine.models.inputs import DEFAULT_RECIPE

    path = B.resolve_base_model(None)
    holder: dict[str, Any] = {}

    def get_body() -> Any:
        if "b" not in holder:
            holder["b"] = B.load_body(path)
        return holder["b"]

    return Encoder(dict(DEFAULT_RECIPE), B.body_key(path), 384, get_body, "frozen base body")


def model_encoder(model: Any) -> Encoder:
    """The encoder of a loaded fsorg model (:class:`engine.models.modelio.LoadedModel`)."""
    from engine.models import base as B

    holder: dict[str, Any] = {}

    def get_body() -> Any:
        if "b" not in holder:
            holder["b"] = B.load_body(model.body_path)
        return holder["b"]

    name = f"model {model.path}" if model.path else f"{model.kind} model"
    return Encoder(dict(model.recipe), model.body_key, int(model.emb_dim), get_body, name)


def load_model(training: Engine, model: Any = None, *, allow_baseline: bool = True) -> Any:
    """A :class:`LoadedModel`: ``model`` itself, the folder it names, the newest trained model,
    or (``allow_baseline``) the shipped baseline. UserError when there is none."""
    from engine.models.modelio import LoadedModel, load_model_folder
    from engine.taxonomy import label_names

    if isinstance(model, LoadedModel):
        return model
    taxonomy = list(label_names())
    if model is not None:
        return load_model_folder(Path(model), taxonomy=taxonomy)
    with training.connect() as c:
        rows = c.execute(
            select(S.models.c.path).where(S.models.c.kind == "finetuned").order_by(S.models.c.id.desc())
        ).all()
    found = next((Path(p) for (p,) in rows if p and Path(p).is_dir()), None)
    if found is not None:
        return load_model_folder(found, taxonomy=taxonomy)
    if allow_baseline:
        from engine.models.baseline import load_baseline

        return load_baseline(taxonomy)
    raise UserError("No trained model yet. Train one first: python organizer.py model train")


def feature_matrix(
    training: Engine,
    records: Sequence[Any],
    encoder: Encoder,
    *,
    progress: ProgressFn = no_progress,
    should_stop: StopFn = never_stop,
) -> np.ndarray:
    """The model input rows of ``records`` (the models engineer's recipe; cached embeddings)."""
    from engine.models.data import featurize

    return featurize(
        records,
        encoder.recipe,
        training=training,
        model_key=encoder.model_key,
        emb_dim=encoder.emb_dim,
        get_body=encoder.get_body,
        batch_size=128,
        progress=progress,
        should_stop=should_stop,
    )


def embedding_part(X: np.ndarray, n_emb_cols: int) -> np.ndarray:
    """The L2-normalised embedding blocks of input rows (structured features dropped)."""
    E = np.asarray(X[:, :n_emb_cols], dtype=np.float32)
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    return E / np.maximum(norms, 1e-9)


def fit_predict_head(
    X_train: np.ndarray,
    y_train: Sequence[str],
    X_pred: np.ndarray,
    labels: Sequence[str],
    *,
    C: float = 1.0,
    seed: int = 42,
) -> np.ndarray:
    """Probabilities over ``labels`` for ``X_pred`` from the models' class-balanced head.

    With a single class in ``y_train`` there is nothing to learn: that class gets p = 1.
    """
    from engine.models.training import fit_head

    labels = list(labels)
    if len(set(y_train)) < 2:
        P = np.zeros((len(X_pred), len(labels)), np.float32)
        if len(y_train):
            P[:, labels.index(y_train[0])] = 1.0
        return P
    with _one_blas_thread():
        head = fit_head(X_train, list(y_train), labels, C=C, seed=seed)
    return head.predict_proba(X_pred)


def _one_blas_thread():
    """These heads are small (hundreds of rows): BLAS threads cost more than they give, and
    on a busy machine they make a fit ~10x slower (measured: 1.3 s -> 0.12 s for 250 rows)."""
    try:
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        import contextlib

        return contextlib.nullcontext()


def _parent_path(rel_path: str) -> str:
    return rel_path.rsplit("/", 1)[0] if "/" in rel_path else ""


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
    progress: ProgressFn = no_progress,
    should_stop: StopFn = never_stop,
) -> list[Proposal]:
    """The ``n`` unlabelled folders to label next, most informative first.

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
        if candidate_ids is None:
            if probs is not None:
                raise ValueError("probs needs candidate_ids (its rows)")
            from engine.browse import labels_for_snapshot

            snap = snapshot_id if snapshot_id is not None else require_features(dbs.training)
            # labels made on an older scan of the same root count too (matched by path)
            labelled = set(labels_for_snapshot(settings, snap)[1])
            records = [
                r
                for r in load_records(dbs.training, snapshot_id=snap)
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
        progress(0.92, "spreading the batch over parents and clusters")
        picked = pick_uncertain(
            P,
            embedding_part(X, enc.n_emb_cols),
            [_parent_path(r.rel_path) for r in records],
            n,
            per_parent=per_parent,
            pool_factor=pool_factor,
            groups=list(P.argmax(axis=1)) if balance else None,
        )
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
            )
        )
    progress(1.0, f"{len(out)} folders proposed")
    return out


# Columns the app's "Label next" sample adds to the samples CSV (after SAMPLE_COLUMNS).
LABEL_NEXT_COLUMNS = ("model_label", "model_p", "second_label", "second_p", "margin")


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
    from engine.browse import labels_for_snapshot
    from engine.csvio import write_csv
    from engine.sampling import SAMPLE_COLUMNS, load_candidates, sample_row
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
        )
        rows.append(r)
    write_csv(output_csv, SAMPLE_COLUMNS + LABEL_NEXT_COLUMNS, rows)
    progress(1.0, f"{len(rows)} folders to label next")
    return proposals, rows


# ---------------------------------------------------------------- learning-curve simulation


@dataclass(frozen=True)
class CurvePoint:
    n_labels: int
    macro_f1: float  # on the folders not labelled yet (classes with >= min_support of them)
    n_eval: int
    classes: tuple[str, ...]
    macro_f1_heldout: float | None = None  # on a fixed held-out set, when one was asked for


def macro_f1_min_support(
    y_true: Sequence[str], y_pred: Sequence[str], min_support: int = 3
) -> tuple[float, list[str]]:
    """Macro F1 over the classes with at least ``min_support`` true examples (the quality protocol's)."""
    from engine.evaluation import compute_report

    if not y_true:
        return float("nan"), []
    rep = compute_report(list(y_true), list(y_pred), sorted(set(y_true) | set(y_pred)))
    scored = [lb for lb in rep.labels if rep.per_class[lb].support >= min_support]
    if not scored:
        return float("nan"), []
    return sum(rep.per_class[lb].f1 for lb in scored) / len(scored), scored


def _stratified_holdout(y: Sequence[str], fraction: float, seed: int) -> set[int]:
    rng = random.Random(seed)
    by: dict[str, list[int]] = defaultdict(list)
    for i, lb in enumerate(y):
        by[lb].append(i)
    out: set[int] = set()
    for lb in sorted(by):
        idx = by[lb][:]
        rng.shuffle(idx)
        k = min(len(idx) - 1, int(round(fraction * len(idx))))
        out.update(idx[: max(0, k)])
    return out


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
    :func:`engine.sampling.select_samples`; ``uncertainty``: :func:`pick_uncertain`), and
    after each batch the frozen-body head is scored on the rest. On a fully labelled
    library (the dev set) this is the issue's experiment; on a user's labels it answers
    "how many of my labels would the other order have needed". Averaged over ``seeds``.
    """
    from engine.labels import load_labels, resolve_label_run
    from engine.models.data import load_records
    from engine.sampling import load_candidates, select_samples
    from engine.storage import Databases
    from engine.taxonomy import label_names

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
    parents = [_parent_path(r.rel_path) for r in records]
    row_of = {r.folder_id: i for i, r in enumerate(records)}
    series: dict[str, list[CurvePoint]] = {}
    total = len(strategies) * len(seeds)
    done = 0
    for strategy in strategies:
        runs = []
        for seed in seeds:
            held = _stratified_holdout(y, heldout_fraction, seed) if heldout_fraction > 0 else set()

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


# ============================================================================= suspects


@dataclass(frozen=True)
class Suspect:
    folder_id: int
    path: str
    label: str  # the user's label
    predicted: str  # the out-of-fold prediction
    p_label: float
    p_predicted: float
    score: float  # 1 - p(label): how little the out-of-fold model believes the label

    @property
    def disagrees(self) -> bool:
        return self.predicted != self.label


def stratified_folds(y: Sequence[str], k: int, seed: int) -> np.ndarray:
    """A fold number per row, each class dealt round-robin over ``k`` folds after a shuffle."""
    rng = random.Random(seed)
    fold = np.zeros(len(y), dtype=int)
    by: dict[str, list[int]] = defaultdict(list)
    for i, lb in enumerate(y):
        by[lb].append(i)
    offset = 0
    for lb in sorted(by):
        idx = by[lb][:]
        rng.shuffle(idx)
        for j, i in enumerate(idx):
            fold[i] = (offset + j) % k
        offset += len(idx)
    return fold


def oof_probabilities(
    X: np.ndarray,
    y: Sequence[str],
    labels: Sequence[str],
    *,
    k_folds: int = 5,
    seed: int = 42,
    C: float = 1.0,
    progress: ProgressFn = no_progress,
    should_stop: StopFn = never_stop,
) -> np.ndarray:
    """Out-of-fold probabilities over ``labels``: each row predicted by a head that never saw it."""
    y = list(y)
    k = max(2, min(int(k_folds), len(y)))
    fold = stratified_folds(y, k, seed)
    P = np.zeros((len(y), len(labels)), np.float32)
    for f in range(k):
        check_stop(should_stop)
        te = np.flatnonzero(fold == f)
        tr = np.flatnonzero(fold != f)
        if len(te) == 0:
            continue
        P[te] = fit_predict_head(X[tr], [y[i] for i in tr], X[te], labels, C=C, seed=seed)
        progress((f + 1) / k, f"fold {f + 1}/{k}")
    return P


def rank_suspects(
    folder_ids: Sequence[int],
    paths: Sequence[str],
    y: Sequence[str],
    P: np.ndarray,
    labels: Sequence[str],
    *,
    min_class_size: int = 3,
) -> list[Suspect]:
    """Suspects ranked by score, most suspicious first (see the module docstring)."""
    labels = list(labels)
    sizes = Counter(y)
    out = []
    for i, lb in enumerate(y):
        if sizes[lb] < min_class_size or lb not in labels:
            continue
        k = labels.index(lb)
        p = P[i]
        j = int(np.argmax(p))
        out.append(
            Suspect(int(folder_ids[i]), paths[i], lb, labels[j], float(p[k]), float(p[j]), float(1.0 - p[k]))
        )
    out.sort(key=lambda s: (-s.score, s.path))
    return out


def find_suspects(
    settings: StorageSettings,
    label_run_id: int | None = None,
    k_folds: int = 5,
    *,
    model: Any = None,
    seed: int = 42,
    repeats: int = 1,
    min_class_size: int = 3,
    progress: ProgressFn = no_progress,
    should_stop: StopFn = never_stop,
) -> list[Suspect]:
    """Every judged label of the run, most suspicious first (out-of-fold predictions).

    ``model``: None = the frozen base body (recommended, see the module docstring), or a
    LoadedModel / model folder whose body and recipe build the inputs.
    """
    from engine.labels import load_labels, resolve_label_run
    from engine.models.data import load_records, require_features
    from engine.storage import Databases
    from engine.taxonomy import label_names

    progress(0.0, "loading labels")
    dbs = Databases.open(settings)
    try:
        require_features(dbs.training)
        run = resolve_label_run(dbs.training, label_run_id)
        rows = load_labels(dbs.training, run)
        recs = {r.folder_id: r for r in load_records(dbs.training, folder_ids=[r.folder_id for r in rows])}
        rows = [r for r in rows if r.folder_id in recs]
        y = [r.label for r in rows]
        big = [lb for lb, n in Counter(y).items() if n >= min_class_size]
        if len(rows) < 2 * k_folds or len(big) < 2:
            raise UserError(
                f"Label run {run} has {len(rows)} labelled folders with features; finding suspect labels "
                f"needs at least {2 * k_folds}, with {min_class_size} or more in each of two labels."
            )
        enc = base_encoder() if model is None else model_encoder(load_model(dbs.training, model))
        records = [recs[r.folder_id] for r in rows]
        X = feature_matrix(
            dbs.training, records, enc, progress=wrap_progress(progress, 0.02, 0.5), should_stop=should_stop
        )
    finally:
        dbs.dispose()
    labels = [lb for lb in label_names() if lb in set(y)]
    repeats = max(1, int(repeats))
    P = np.zeros((len(y), len(labels)), np.float32)
    for r in range(repeats):
        P += oof_probabilities(
            X,
            y,
            labels,
            k_folds=k_folds,
            seed=seed + 1000 * r,
            progress=wrap_progress(progress, 0.5 + 0.48 * r / repeats, 0.5 + 0.48 * (r + 1) / repeats),
            should_stop=should_stop,
        )
    P /= repeats
    out = rank_suspects(
        [r.folder_id for r in rows], [r.rel_path for r in rows], y, P, labels, min_class_size=min_class_size
    )
    progress(1.0, f"{sum(s.disagrees for s in out)} labels disagree with the out-of-fold model")
    return out


def flag_suspects(
    suspects: Sequence[Suspect], *, min_score: float = 0.5, max_fraction: float = 0.1, at_least: int = 5
) -> list[Suspect]:
    """The suspects worth showing the user: the out-of-fold model predicts another label and
    gives the user's label less than ``1 - min_score``; at most the top ``max_fraction`` of
    the judged labels (but ``at_least`` when that many qualify), most suspicious first.

    Why a cap: a user reviews a short list; on the dev set with 5 % of labels flipped the
    top 10 % holds most of the flipped ones (module docstring)."""
    ranked = sorted(suspects, key=lambda s: (-s.score, s.path))
    cap = max(at_least, int(np.ceil(max_fraction * len(ranked))))
    return [s for s in ranked if s.disagrees and s.score >= min_score][:cap]


# ============================================================================== abstain


def _threshold_for(conf: np.ndarray, correct: np.ndarray, target: float) -> float | None:
    """Smallest confidence t such that predictions with conf >= t have precision >= target."""
    if len(conf) == 0:
        return None
    order = np.argsort(-conf, kind="stable")
    c = conf[order]
    ok = correct[order].astype(np.float64)
    prec = np.cumsum(ok) / np.arange(1, len(ok) + 1)
    # Only cut between distinct confidences (ties are kept or dropped together).
    last_of_tie = np.r_[c[1:] != c[:-1], True]
    good = np.flatnonzero((prec >= target - 1e-12) & last_of_tie)
    if len(good) == 0:
        return None
    return float(c[good[-1]])


def choose_thresholds(
    probs_val: np.ndarray,
    y_val: Sequence[str],
    labels: Sequence[str],
    target_precision: float = 0.8,
    *,
    min_predictions: int = 5,
) -> dict[str, float]:
    """Per-label confidence thresholds: a prediction of label L is kept when its confidence is
    at least ``thresholds[L]``, else it becomes ``unknown``.

    For each label, among the validation rows predicted as it, the smallest threshold whose
    kept rows reach ``target_precision``. A label predicted fewer than ``min_predictions``
    times on validation gets the global threshold (all labels pooled), and so does a label whose
    predictions miss the target at every threshold: a rare class (a dozen creator folders among
    200 labels) rarely reaches 90 % out of fold, and greying out every prediction of it would hide
    the class from the user altogether. Only when the pooled predictions miss the target too is
    the threshold 1.0 (everything abstains: nothing can be trusted that far).
    ``unknown`` itself is never thresholded.
    """
    if not 0.0 < target_precision <= 1.0:
        raise ValueError(f"target_precision must be in (0, 1], got {target_precision}")
    labels = list(labels)
    P = np.asarray(probs_val, dtype=np.float64)
    if len(P) != len(y_val):
        raise ValueError("probs_val and y_val differ in length")
    top = P.argmax(axis=1) if len(P) else np.zeros(0, int)
    conf = P[np.arange(len(P)), top] if len(P) else np.zeros(0)
    pred = np.array([labels[j] for j in top], dtype=object)
    correct = pred == np.asarray(list(y_val), dtype=object)
    g = _threshold_for(conf, correct, target_precision)
    global_t = 1.0 if g is None else g
    out: dict[str, float] = {}
    for lb in labels:
        if lb == UNKNOWN:
            out[lb] = 0.0
            continue
        mask = pred == lb
        if mask.sum() < min_predictions:
            out[lb] = global_t
            continue
        t = _threshold_for(conf[mask], correct[mask], target_precision)
        out[lb] = global_t if t is None else t
    return out


def thresholds_from_oof(
    X: np.ndarray,
    y: Sequence[str],
    labels: Sequence[str],
    target_precision: float = 0.8,
    *,
    k_folds: int = 5,
    seed: int = 42,
    C: float = 1.0,
    min_predictions: int = 5,
) -> dict[str, float]:
    """:func:`choose_thresholds` on out-of-fold probabilities of ``X``/``y``.

    For a head fitted on train *and* validation (as ``model train`` does), the validation
    rows are no longer unseen; cross-fitted probabilities of every labelled row are, and
    there are more of them (rare labels get their own thresholds sooner).
    """
    P = oof_probabilities(X, y, labels, k_folds=k_folds, seed=seed, C=C)
    return choose_thresholds(P, y, labels, target_precision, min_predictions=min_predictions)


def apply_abstention(probs: np.ndarray, labels: Sequence[str], thresholds: Mapping[str, float]) -> list[str]:
    """The argmax label per row, or ``unknown`` where its confidence is below its threshold."""
    labels = list(labels)
    P = np.asarray(probs, dtype=np.float64)
    if len(P) == 0:
        return []
    top = P.argmax(axis=1)
    conf = P[np.arange(len(P)), top]
    out = []
    for j, c in zip(top, conf):
        lb = labels[j]
        t = thresholds.get(lb, 0.0)
        out.append(lb if c >= t - 1e-9 else UNKNOWN)
    return out


@dataclass(frozen=True)
class CoveragePoint:
    threshold: float
    coverage: float  # share of rows kept (not sent to unknown)
    macro_f1: float  # on the kept rows
    accuracy: float  # on the kept rows
    n_kept: int


def coverage_curve(
    probs: np.ndarray,
    y_true: Sequence[str],
    labels: Sequence[str],
    thresholds: Sequence[float] | None = None,
    *,
    min_support: int = 1,
) -> list[CoveragePoint]:
    """Coverage and Macro F1 on the kept predictions for one global confidence threshold each.

    Macro F1 on kept rows averages the classes with at least ``min_support`` kept true rows.
    """
    from engine.evaluation import compute_report

    labels = list(labels)
    P = np.asarray(probs, dtype=np.float64)
    y = list(y_true)
    top = P.argmax(axis=1)
    conf = P[np.arange(len(P)), top]
    pred = [labels[j] for j in top]
    if thresholds is None:
        thresholds = [0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    out = []
    for t in thresholds:
        keep = [i for i in range(len(y)) if conf[i] >= t - 1e-9]
        if not keep:
            out.append(CoveragePoint(float(t), 0.0, float("nan"), float("nan"), 0))
            continue
        yt = [y[i] for i in keep]
        yp = [pred[i] for i in keep]
        rep = compute_report(yt, yp, sorted(set(yt) | set(yp)))
        scored = [lb for lb in rep.labels if rep.per_class[lb].support >= min_support]
        f1 = sum(rep.per_class[lb].f1 for lb in scored) / len(scored) if scored else float("nan")
        out.append(CoveragePoint(float(t), len(keep) / len(y), f1, rep.accuracy, len(keep)))
    return out


def abstention_report(
    probs: np.ndarray,
    y_true: Sequence[str],
    labels: Sequence[str],
    thresholds: Mapping[str, float],
    *,
    min_support: int = 1,
) -> CoveragePoint:
    """Coverage and Macro F1 on the kept rows under per-label ``thresholds``."""
    from engine.evaluation import compute_report

    pred = apply_abstention(probs, labels, thresholds)
    keep = [i for i, p in enumerate(pred) if p != UNKNOWN]
    if not keep:
        return CoveragePoint(float("nan"), 0.0, float("nan"), float("nan"), 0)
    yt = [y_true[i] for i in keep]
    yp = [pred[i] for i in keep]
    rep = compute_report(yt, yp, sorted(set(yt) | set(yp)))
    scored = [lb for lb in rep.labels if rep.per_class[lb].support >= min_support]
    f1 = sum(rep.per_class[lb].f1 for lb in scored) / len(scored) if scored else float("nan")
    return CoveragePoint(float("nan"), len(keep) / len(y_true), f1, rep.accuracy, len(keep))


# ============================================================================= propagate

_DIGITS = re.compile(r"\d+")


def name_key(name: str) -> tuple[str, ...]:
    """The words of a name that carry meaning, canonical: :func:`engine.text.normalize_name`
    tokens (ordering prefix, grid size, ``_various`` and format suffix removed, lower case),
    with every digit run written ``#`` (``floor_2`` and ``floor_3`` are the same shape)."""
    from engine.text import normalize_name

    toks = normalize_name(name).tokens
    return tuple(_DIGITS.sub("#", t) for t in toks) or (name.strip().lower(),)


def shape_match(a: tuple[str, ...], b: tuple[str, ...]) -> str | None:
    """Why two name keys have the same shape, or None.

    * ``same name`` — equal keys: ``Night`` ~ ``night``, ``01_Night_30x30`` ~ ``Night``,
      ``floor_2`` ~ ``floor_3``.
    * ``same pattern`` — two or more words each, same count, exactly one word differs and a
      differing word is not the only non-number word: ``01_inn_fog`` ~ ``02_tavern_fog``
      (pattern ``* fog``), ``Dungeon Day`` ~ ``Dungeon Night`` (pattern ``dungeon *``).
    """
    if a == b:
        return "same name"
    if len(a) >= 2 and len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            shared = [t for i, t in enumerate(a) if i != diff[0] and t != "#"]
            if shared:
                return "same pattern"
    return None


@dataclass(frozen=True)
class Candidate:
    folder_id: int
    path: str
    name: str
    current_label: str | None
    reason: str = ""  # same name | same pattern | variant set
    relation: str = ""  # sibling | cousin
    suggested: bool = True  # pre-ticked in the preview dialog


def look_alikes(
    settings: StorageSettings,
    folder_id: int,
    *,
    label: str | None = None,
    include_variants: bool = True,
) -> list[Candidate]:
    """Folders that look like ``folder_id``: its siblings and its cousins (children of its
    parent's siblings) whose name has the same shape (:func:`shape_match`).

    With ``include_variants``, also the *variant set*: a name that recurs under two or
    more of those parents together with the folder's own name (``Day`` next to ``Night``
    under every sibling map) and that the heuristic puts in the same label as the folder
    (so ``Tokens``, which also recurs next to ``Night``, is left out once features exist)
    is offered too, not pre-ticked (``suggested=False``), since it is a sibling variant
    rather than the same thing. Folders already labelled ``label``
    are listed unticked. Ordered siblings first, then by path.
    """
    from engine.browse import labels_for_snapshot
    from engine.storage.db import open_index

    index = open_index(settings)
    try:
        f = S.folders.c
        with index.connect() as c:
            me = c.execute(
                select(f.id, f.snapshot_id, f.parent_id, f.rel_path, f.name).where(f.id == folder_id)
            ).first()
            if me is None:
                raise UserError(f"There is no folder {folder_id} in this library (was it rescanned?).")
            if me.parent_id is None:
                return []
            parent = c.execute(select(f.id, f.parent_id).where(f.id == me.parent_id)).first()
            parent_ids = [me.parent_id]
            if parent is not None and parent.parent_id is not None:
                parent_ids = [
                    pid
                    for (pid,) in c.execute(
                        select(f.id).where(f.snapshot_id == me.snapshot_id, f.parent_id == parent.parent_id)
                    )
                ]
            family = c.execute(
                select(f.id, f.parent_id, f.rel_path, f.name).where(
                    f.snapshot_id == me.snapshot_id, f.parent_id.in_(parent_ids)
                )
            ).all()
    finally:
        index.dispose()
    _, labels = labels_for_snapshot(settings, me.snapshot_id)
    kind = _heuristic_labels(settings, [r.id for r in family])
    my_key = name_key(me.name)
    keys = {r.id: name_key(r.name) for r in family}
    # which parents each key occurs under
    where: dict[tuple[str, ...], set[int]] = defaultdict(set)
    for r in family:
        where[keys[r.id]].add(r.parent_id)
    my_parents = where[my_key]
    out = []
    for r in family:
        if r.id == me.id:
            continue
        why = shape_match(my_key, keys[r.id])
        suggested = True
        if why is None and include_variants:
            both = where[keys[r.id]] & my_parents
            same_kind = kind.get(r.id) == kind.get(me.id) or not kind
            if len(both) >= 2 and same_kind:
                why, suggested = "variant set", False
        if why is None:
            continue
        cur = labels.get(r.id)
        if label is not None and cur == label:
            suggested = False
        out.append(
            Candidate(
                r.id,
                r.rel_path,
                r.name,
                cur,
                why,
                "sibling" if r.parent_id == me.parent_id else "cousin",
                suggested,
            )
        )
    out.sort(key=lambda cd: (cd.relation != "sibling", cd.reason == "variant set", cd.path.casefold()))
    return out


def _heuristic_labels(settings: StorageSettings, folder_ids: Sequence[int]) -> dict[int, str | None]:
    """The heuristic's label per folder where features were extracted ({} when none were)."""
    from engine.storage.db import open_training

    if not settings.training_db.exists():
        return {}
    training = open_training(settings)
    try:
        t = S.folder_features.c
        out: dict[int, str | None] = {}
        ids = list(folder_ids)
        with training.connect() as c:
            for i in range(0, len(ids), 900):
                out.update(
                    c.execute(
                        select(t.folder_id, t.heuristic_label).where(t.folder_id.in_(ids[i : i + 900]))
                    ).all()
                )
        return out
    finally:
        training.dispose()


# =============================================================================== explain


@dataclass(frozen=True)
class Neighbour:
    folder_id: int
    path: str
    label: str
    similarity: float

    def __iter__(self):  # (folder_id, path, label, similarity), as the issue names them
        return iter((self.folder_id, self.path, self.label, self.similarity))


@dataclass(frozen=True)
class Explanation:
    folder_id: int
    path: str
    heuristic_rule: str | None
    heuristic_label: str | None
    heuristic_confidence: float | None
    top3: list[tuple[str, float]]
    nearest: list[Neighbour]
    model: str  # which model explained it
    user_label: str | None = None


class Explainer:
    """Explains folders with one model; keeps the labelled folders' embeddings between calls.

    Not thread-safe: use one per worker thread (the app keeps one per view, on one pool).
    """

    def __init__(self, settings: StorageSettings, model: Any = None) -> None:
        self.settings = settings
        self._model_arg = model
        self._model: Any = None
        self._enc: Encoder | None = None
        self._lab: tuple[int, list[int], list[str], list[str], np.ndarray] | None = None

    def _ensure(self, dbs: Any, progress: ProgressFn, should_stop: StopFn) -> None:
        if self._model is None:
            self._model = load_model(dbs.training, self._model_arg)
            self._enc = model_encoder(self._model)
        from engine.labels import load_labels, newest_label_run_id
        from engine.models.data import load_records

        run = newest_label_run_id(dbs.training)
        if run is None:
            self._lab = (-1, [], [], [], np.zeros((0, 1), np.float32))
            return
        rows = load_labels(dbs.training, run)
        stamp = hash(tuple((r.folder_id, r.label) for r in rows))
        if self._lab is not None and self._lab[0] == stamp:
            return
        recs = load_records(dbs.training, folder_ids=[r.folder_id for r in rows])
        lab = {r.folder_id: r.label for r in rows}
        assert self._enc is not None
        X = feature_matrix(dbs.training, recs, self._enc, progress=progress, should_stop=should_stop)
        self._lab = (
            stamp,
            [r.folder_id for r in recs],
            [r.rel_path for r in recs],
            [lab[r.folder_id] for r in recs],
            embedding_part(X, self._enc.n_emb_cols),
        )

    def explain(
        self,
        folder_id: int,
        *,
        k: int = 3,
        progress: ProgressFn = no_progress,
        should_stop: StopFn = never_stop,
    ) -> Explanation:
        from engine.models.data import load_records
        from engine.storage import Databases

        dbs = Databases.open(self.settings)
        try:
            with dbs.training.connect() as c:
                row = c.execute(
                    select(
                        S.folder_features.c.rel_path,
                        S.folder_features.c.heuristic_rule,
                        S.folder_features.c.heuristic_label,
                        S.folder_features.c.heuristic_confidence,
                    ).where(S.folder_features.c.folder_id == folder_id)
                ).first()
            if row is None:
                raise UserError(
                    f"Folder {folder_id} has no features yet. Run extract-features for its snapshot "
                    "(python organizer.py model extract-features)."
                )
            self._ensure(dbs, wrap_progress(progress, 0.0, 0.8), should_stop)
            check_stop(should_stop)
            assert self._enc is not None and self._lab is not None
            rec = load_records(dbs.training, folder_ids=[folder_id])
            x = feature_matrix(dbs.training, rec, self._enc, should_stop=should_stop)
        finally:
            dbs.dispose()
        p = self._model.head.predict_proba(x)[0]
        labels = list(self._model.labels)
        order = np.argsort(-p, kind="stable")[:3]
        top3 = [(labels[j], float(p[j])) for j in order]
        _, ids, paths, labs, E = self._lab
        nearest: list[Neighbour] = []
        user_label = None
        if ids:
            e = embedding_part(x, self._enc.n_emb_cols)[0]
            sims = E @ e
            for j in np.argsort(-sims, kind="stable"):
                if ids[j] == folder_id:
                    user_label = labs[j]
                    continue
                nearest.append(Neighbour(ids[j], paths[j], labs[j], float(sims[j])))
                if len(nearest) >= k:
                    break
        progress(1.0, "explained")
        kind = self._model.kind
        name = f"{kind} model" + (f" ({self._model.path.name})" if self._model.path else "")
        return Explanation(
            folder_id,
            row.rel_path,
            row.heuristic_rule,
            row.heuristic_label,
            None if row.heuristic_confidence is None else float(row.heuristic_confidence),
            top3,
            nearest,
            name,
            user_label,
        )


def explain(
    settings: StorageSettings,
    folder_id: int,
    model: Any = None,
    *,
    progress: ProgressFn = no_progress,
    should_stop: StopFn = never_stop,
) -> Explanation:
    """Why the model says what it says about one folder (see :class:`Explainer`)."""
    return Explainer(settings, model).explain(folder_id, progress=progress, should_stop=should_stop)


__all__ = [
    "Candidate",
    "CoveragePoint",
    "CurvePoint",
    "CurveResult",
    "Explainer",
    "Explanation",
    "LABEL_NEXT_COLUMNS",
    "Neighbour",
    "Proposal",
    "Suspect",
    "apply_abstention",
    "choose_thresholds",
    "coverage_curve",
    "explain",
    "find_suspects",
    "flag_suspects",
    "learning_curves",
    "look_alikes",
    "name_key",
    "oof_probabilities",
    "pick_uncertain",
    "select_uncertain",
    "thresholds_from_oof",
    "uncertain_sample",
]
