"""Zero-shot classification: the taxonomy's descriptions and examples as synthetic class prototypes.

No user labels: each label's description and example names (``config/taxonomy.json``) are
embedded with the base body; a folder's normalized name is scored against each label by
the mean of (a) its cosine to the label's prototype (the normalized mean of the label's
texts) and (b) its best cosine to any single example (names are short; one close example
is strong evidence). A softmax with a fixed temperature turns scores into probabilities.
Names are the same cached texts the other models use, so a second run encodes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import Engine

from engine.core.jobs import ProgressFn, StopFn, wrap_progress
from engine.core.taxonomy import labels as taxonomy_labels
from engine.models import base as B
from engine.models.embeddings import embed_cached
from engine.models.inputs import FolderRecord, normalize_name

TEMPERATURE = 0.05


def label_texts() -> dict[str, list[str]]:
    """Per label: its description and its examples (normalized like folder names)."""
    out: dict[str, list[str]] = {}
    for lb in taxonomy_labels():
        texts = [lb.description.strip().lower()] + [normalize_name(e) for e in lb.examples]
        out[lb.name] = list(dict.fromkeys(t for t in texts if t))
    return out


def zero_shot_probs(
    records: Sequence[FolderRecord],
    *,
    training: Engine | None,
    batch_size: int,
    progress: ProgressFn,
    should_stop: StopFn,
) -> tuple[list[str], np.ndarray, int]:
    """(labels, probs, encoded?) for ``records``."""
    base_path = B.resolve_base_model(None)
    key = B.body_key(base_path)
    holder: dict[str, object] = {}

    def get_body():
        if "b" not in holder:
            holder["b"] = B.shared_body(base_path)
        return holder["b"]

    per_label = label_texts()
    labels = list(per_label)
    names = [normalize_name(r.name) for r in records]
    all_texts = list(dict.fromkeys([t for ts in per_label.values() for t in ts] + names))
    vecs = embed_cached(
        all_texts,
        training=training,
        model_key=key,
        get_body=get_body,
        batch_size=batch_size,
        progress=wrap_progress(progress, 0.0, 0.9),
        should_stop=should_stop,
    )
    dim = len(next(iter(vecs.values())))
    protos = np.zeros((len(labels), dim), np.float32)
    ex_mats = []
    for k, lb in enumerate(labels):
        m = np.stack([vecs[t] for t in per_label[lb]])
        p = m.mean(axis=0)
        protos[k] = p / max(float(np.linalg.norm(p)), 1e-9)
        ex_mats.append(m)
    uniq = list(dict.fromkeys(names))
    U = np.stack([vecs[t] for t in uniq]) if uniq else np.zeros((0, dim), np.float32)
    score = 0.5 * (U @ protos.T)
    for k, m in enumerate(ex_mats):
        score[:, k] += 0.5 * (U @ m.T).max(axis=1)
    z = score / TEMPERATURE
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    p_uniq = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    row = {t: i for i, t in enumerate(uniq)}
    probs = p_uniq[[row[t] for t in names]] if names else np.zeros((0, len(labels)), np.float32)
    progress(1.0, "scored")
    return labels, probs, int("b" in holder)
