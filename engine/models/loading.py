"""The one way to load a model for the label-smarter tools and build the inputs it sees.

An :class:`Encoder` turns names into vectors with a model's body; :func:`load_model` resolves a
model folder (or the shipped baseline); :func:`feature_matrix` and :func:`fit_predict_head` build
the model's input matrix and fit a linear head on it.
"""


from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, select

from engine.core.jobs import ProgressFn, StopFn, UserError, never_stop, no_progress
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


def newest_trained_model_path(training: Engine) -> Path | None:
    """The newest fine-tuned model folder recorded in training.db that still exists."""
    with training.connect() as c:
        rows = c.execute(
            select(S.models.c.path).where(S.models.c.kind == "finetuned").order_by(S.models.c.id.desc())
        ).all()
    return next((Path(p) for (p,) in rows if p and Path(p).is_dir()), None)


def load_model(
    training: Engine,
    model: Any = None,
    *,
    baseline: bool = False,
    allow_baseline: bool = True,
    trust_pickle: bool = False,
    missing: str | None = None,
) -> Any:
    """The one model loader: a :class:`LoadedModel` for ``model`` itself, the folder it names,
    the shipped baseline (``baseline``), the newest trained model, or — when there is none and
    ``allow_baseline`` — the shipped baseline. UserError (``missing``, if given) when there is none."""
    from engine.core.taxonomy import label_names
    from engine.models.modelio import LoadedModel, load_model_folder

    if isinstance(model, LoadedModel):
        return model
    taxonomy = list(label_names())
    if baseline:
        from engine.models.baseline import load_baseline

        return load_baseline(taxonomy)
    if model is not None:
        return load_model_folder(Path(model), taxonomy=taxonomy, trust_pickle=trust_pickle)
    found = newest_trained_model_path(training)
    if found is not None:
        return load_model_folder(found, taxonomy=taxonomy, trust_pickle=trust_pickle)
    if allow_baseline:
        from engine.models.baseline import load_baseline

        return load_baseline(taxonomy)
    raise UserError(missing or "No trained model yet. Train one first: python organizer.py model train")


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


def parent_path(rel_path: str) -> str:
    return rel_path.rsplit("/", 1)[0] if "/" in rel_path else ""


