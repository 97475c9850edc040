"""Predicting with a model folder saved by SetFit itself (``model_head.pkl``), only with --trust-pickle.

SetFit stores its head with joblib (pickle), and unpickling can run arbitrary code, so fsorg
refuses such folders unless the user passes ``--trust-pickle``. With it, the folder is
loaded offline with ``SetFitModel.from_pretrained`` and fed the single context string that
``extract-features`` stores (``folder_features.model_text``), the input such models were
trained on in the project the fine-tuning guide comes from. The probabilities come from the
head's ``predict_proba`` in its ``classes_`` order, and fsorg still stores the argmax of
exactly those probabilities as the label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, select

from engine.core.jobs import ProgressFn, StopFn, UserError, check_stop
from engine.models import base as B
from engine.storage import schema as S

HEAD_FILE = "model_head.pkl"


def is_setfit_folder(path: Path) -> bool:
    return (path / HEAD_FILE).is_file() and not (path / "metadata.json").is_file()


@dataclass
class SetFitFolder:
    path: Path
    labels: list[str]
    model: Any

    def predict_proba(
        self, texts: Sequence[str], *, batch_size: int, progress: ProgressFn, should_stop: StopFn
    ) -> np.ndarray:
        parts = []
        step = max(batch_size, 256)
        for s in range(0, len(texts), step):
            check_stop(should_stop)
            p = self.model.predict_proba(list(texts[s : s + step]), batch_size=batch_size, as_numpy=True)
            parts.append(np.asarray(p, dtype=np.float32))
            progress(min(len(texts), s + step) / max(len(texts), 1), f"classified {min(len(texts), s + step):,} folders")
        return np.concatenate(parts) if parts else np.zeros((0, len(self.labels)), np.float32)


def load_setfit_folder(path: Path, taxonomy: Sequence[str]) -> SetFitFolder:
    """Load a SetFit folder (the caller has the user's explicit trust); clear errors otherwise."""
    B.force_offline()
    try:
        from setfit import SetFitModel

        model = SetFitModel.from_pretrained(str(path), local_files_only=True, device="cpu")
    except Exception as e:
        raise UserError(
            f"Cannot load the SetFit model at {path}: {type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
        ) from None
    classes = list(getattr(model.model_head, "classes_", []))
    if not classes:
        raise UserError(f"The SetFit model at {path} has an untrained head (no classes). Train it first.")
    if model.labels and all(isinstance(c, (int, np.integer)) for c in classes):
        labels = [str(model.labels[int(c)]) for c in classes]
    else:
        labels = [str(c) for c in classes]
    bad = [lb for lb in labels if lb not in taxonomy]
    if bad or len(labels) < 2:
        raise UserError(
            f"The SetFit model at {path} predicts the labels {labels}, which do not match this fsorg's "
            f"labels {list(taxonomy)}. Use a model trained on fsorg's labels."
        )
    return SetFitFolder(path, labels, model)


def model_texts(training: Engine, folder_ids: Sequence[int]) -> list[str]:
    """``folder_features.model_text`` of each folder, in the given order."""
    t = S.folder_features
    out: dict[int, str] = {}
    ids = list(folder_ids)
    with training.connect() as c:
        for i in range(0, len(ids), 900):
            for fid, text in c.execute(select(t.c.folder_id, t.c.model_text).where(t.c.folder_id.in_(ids[i : i + 900]))):
                out[fid] = text
    return [out.get(f, "") for f in ids]
