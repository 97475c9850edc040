"""The shipped baseline: the unchanged base body plus a head trained on the labelled dev library.

It lives in ``resources/baseline/`` as an ordinary fsorg model folder whose body is the
base model (``metadata.body.type == "base"``): a ``head.safetensors`` of a few hundred KB and
a ``metadata.json``. ``scripts/build_baseline.py`` rebuilds it with :func:`build_baseline`.
Because the body is the frozen base, the baseline shares the embedding cache with every
other use of the base model: a second prediction over the same library encodes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.config import shipped_dir
from engine.core.jobs import UserError, no_progress
from engine.models import base as B
from engine.models.inputs import DEFAULT_RECIPE, FolderRecord, build_matrix, distinct_texts
from engine.models.modelio import Head, LoadedModel, load_model_folder, save_model_folder

BASELINE_DIR = shipped_dir("resources") / "baseline"


def portable_recipe() -> dict[str, Any]:
    """The baseline's recipe: built for libraries it never saw.

    Measured on the dev set with one creator group held out: the parent/grandparent/children
    blocks and the layout features (absolute depth, sibling counts) learn one library's
    layout and hurt on another; the folder's own name, portable structure, how the name
    relates to its neighbours, and its similarity to the taxonomy's descriptions/examples
    (zero-shot prototypes) carry over better.
    """
    from engine.models.zeroshot import label_texts

    return {
        **DEFAULT_RECIPE,
        "blocks": ["name"],
        "structured_set": "portable",
        "relational": True,
        "relational_weight": 3.0,
        "prototypes": label_texts(),
    }


HEURISTIC_WEIGHT = 3.0


def heuristic_recipe(
    records: Sequence[FolderRecord], *, rules: bool = False, embeddings: bool = True
) -> dict[str, Any]:
    """The portable recipe plus the rule-based heuristic's guess (one-hot label x confidence).

    Why: the heuristic's rules are written for any library (general vocabulary, tree shape),
    while a head on name embeddings alone learns the dev library's naming; across creator
    groups the guess carries over far better (figures: scripts/build_baseline.py --compare).
    ``rules=True`` also one-hot encodes the rule that fired (the rule names seen in
    ``records``); measured, it adds nothing on held-out creators and ties the model to the
    current rule names, so the shipped baseline leaves it out. ``embeddings=False`` keeps
    only the heuristic and the portable structure (an ablation). The columns are fixed by the
    stored spec, so predict reads ``folder_features.heuristic_*`` into exactly these inputs.
    """
    from engine.core.taxonomy import label_names

    recipe = portable_recipe()
    if not embeddings:
        recipe = {**recipe, "blocks": [], "relational": False, "prototypes": {}}
    spec: dict[str, Any] = {"labels": list(label_names()), "weight": HEURISTIC_WEIGHT}
    if rules:
        spec["rules"] = sorted({r.heuristic_rule for r in records if r.heuristic_rule})
    recipe["heuristic"] = spec
    return recipe


def load_baseline(taxonomy: Sequence[str]) -> LoadedModel:
    if not (BASELINE_DIR / "metadata.json").is_file():
        raise UserError(
            f"The shipped baseline is missing from {BASELINE_DIR}. Reinstall fsorg, or rebuild it with "
            "python scripts/build_baseline.py."
        )
    m = load_model_folder(BASELINE_DIR, taxonomy=taxonomy)
    m.kind = "baseline"
    return m


def baseline_probabilities(
    records: Sequence[FolderRecord], *, training: Any, batch_size: int, should_stop: Any
) -> tuple[list[str], np.ndarray]:
    """(labels, probabilities) of the shipped baseline on ``records`` (the base body's cached
    embeddings): what ``model train`` compares the fine-tuned model with, on the same folders.

    The baseline is scored as ``model predict`` applies it: with its stored tree-aware second
    pass and heuristic mix (``metadata["collective"]``), whose neighbours come from each
    record's own snapshot. A report that compared against the first pass alone would credit
    the fine-tuned model with gains the user already had without training.
    """
    from engine.core.taxonomy import label_names
    from engine.models.data import featurize

    m = load_baseline(list(label_names()))

    def get_body():
        return B.shared_body(m.body_path)

    X = featurize(
        records,
        m.recipe,
        training=training,
        model_key=m.body_key,
        emb_dim=m.emb_dim,
        get_body=get_body,
        batch_size=batch_size,
        progress=no_progress,
        should_stop=should_stop,
    )
    P = m.head.predict_proba(X)
    if m.metadata.get("collective") and len(records):
        P = _with_second_pass(m, records, P, training=training, get_body=get_body, batch_size=batch_size,
                              should_stop=should_stop)
    return list(m.labels), P


def _with_second_pass(m: LoadedModel, records, P, *, training, get_body, batch_size, should_stop) -> np.ndarray:
    """``P`` after the baseline's stored second pass, one snapshot (tree) at a time."""
    from collections import defaultdict

    from engine.models.collective import predict_second_pass
    from engine.models.data import snapshots_of

    snap = snapshots_of(training, [r.folder_id for r in records])
    rows: dict[int, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        rows[snap[r.folder_id]].append(i)
    out = np.array(P, dtype=np.float32, copy=True)
    for sid, idx in rows.items():
        out[idx] = predict_second_pass(training, m, [records[i] for i in idx], sid, out[idx], get_body=get_body,
                                       batch_size=batch_size, should_stop=should_stop)
    return out


def embed_records(records: Sequence[FolderRecord], recipe: dict[str, Any], body: Any) -> dict[str, np.ndarray]:
    """Vectors for every text ``records`` need (no database: used by the build script)."""
    from engine.models.embeddings import encode_texts

    texts = distinct_texts(records, recipe)
    return dict(zip(texts, encode_texts(body, texts)))


def build_baseline(
    records: Sequence[FolderRecord],
    y: Sequence[str],
    *,
    labels: Sequence[str],
    target: Path,
    C: float = 1.0,
    seed: int = 42,
    body: Any = None,
    metrics: dict[str, Any] | None = None,
    source: str = "",
    recipe: dict[str, Any] | None = None,
    extra_metadata: dict[str, Any] | None = None,
) -> Path:
    """Fit the baseline head on ``records`` labelled ``y`` and save it to ``target``."""
    from engine.models.training import fit_head

    base_path = B.resolve_base_model(None)
    body = body or B.load_body(base_path)
    recipe = dict(recipe or portable_recipe())
    emb_dim = int(body.get_embedding_dimension())
    vecs = embed_records(records, recipe, body)
    X = build_matrix(records, recipe, vecs, emb_dim)
    used = [lb for lb in labels if lb in set(y)]
    head: Head = fit_head(X, y, used, C=C, seed=seed)
    meta = {
        "kind": "baseline",
        "labels": used,
        "base_model": B.DEFAULT_BASE,
        "body": {"type": "base", "name": B.DEFAULT_BASE, "sha256": B.body_key(base_path)},
        "body_sha256": B.body_key(base_path),
        "emb_dim": emb_dim,
        "recipe": recipe,
        "label_run_id": None,
        "config": {"head_c": C, "seed": seed, "trained_on": source, "n": len(records)},
        "metrics": metrics or {},
        **(extra_metadata or {}),  # e.g. "collective": the tree-aware second pass (issue 14)
    }
    return save_model_folder(target, metadata=meta, head=head, report=None, write_body=None)


__all__ = ["load_baseline", "build_baseline", "BASELINE_DIR", "no_progress"]
