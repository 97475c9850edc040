"""Bench helper for bench/quality.py's ``ft*`` baseline variants: the baseline on a body
fine-tuned (SetFit's contrastive phase, :func:`engine.models.finetune.finetune_body`) on the
TRAINING sources' labelled folders only.

For one held-out source: a fresh copy of the base body is fine-tuned on
``finetune_texts`` of the training folders with their labels (what ``model train`` fine-tunes
on), then every text the baseline recipe needs (all folders, held-out ones included: encoding
a text tells the body nothing about its label) is re-encoded with it. The held-out source never
reaches the body's training. Vectors are cached per (held-out source, settings) as ``.npz``
under ``cache_dir`` when one is given, so a re-run prints the table without fine-tuning again.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import time
from pathlib import Path

import numpy as np


@dataclasses.dataclass(frozen=True)
class FtSettings:
    steps: int = 250
    batch: int = 16
    hardneg_k: int = 3
    lr: float = 2e-5
    seed: int = 42
    threads: int = 1  # on 2 shared cores, 2 torch threads measured ~4x slower than 1

    def tag(self) -> str:
        return f"s{self.steps}-b{self.batch}-k{self.hardneg_k}-lr{self.lr:g}-seed{self.seed}"


def _cache_file(cache_dir: Path, held_out: str, st: FtSettings, train_texts, texts) -> Path:
    h = hashlib.sha1("\x00".join(train_texts).encode() + b"\x01" + "\x00".join(texts).encode()).hexdigest()[:10]
    slug = held_out.replace("/", "__")
    return cache_dir / f"{slug}-{st.tag()}-{h}.npz"


def finetuned_vectors(D, train_idx, texts: list[str], held_out: str, st: FtSettings,
                      cache_dir: Path | None = None) -> tuple[dict, dict]:
    """``({text: vector} from a body fine-tuned on D's train_idx folders, info)``."""
    from engine.core.config import load_config
    from engine.core.jobs import never_stop, no_progress
    from engine.models import base as B
    from engine.models.embeddings import encode_texts
    from engine.models.finetune import finetune_body
    from engine.models.training import finetune_texts

    train_texts = finetune_texts([D.records[i] for i in train_idx])
    train_y = [D.y[i] for i in train_idx]
    path = _cache_file(cache_dir, held_out, st, [f"{t}\x02{y}" for t, y in zip(train_texts, train_y)],
                       texts) if cache_dir else None
    if path is not None and path.exists():
        z = np.load(path, allow_pickle=False)
        return dict(zip(texts, z["vecs"])), {"steps": int(z["steps"]), "seconds": float(z["seconds"]),
                                              "cached": True}
    import torch

    torch.set_num_threads(st.threads)
    t0 = time.monotonic()
    body = copy.deepcopy(B.shared_body(B.resolve_base_model(None)))  # fresh base body each time
    cfg = load_config("train").update(max_steps=st.steps, batch_size=st.batch, hardneg_k=st.hardneg_k,
                                      learning_rate=st.lr, seed=st.seed, num_epochs=100, time_budget_s=None)
    res = finetune_body(body, train_texts, train_y, cfg=cfg, progress=no_progress, should_stop=never_stop,
                        encode=lambda ts: encode_texts(body, ts))
    t_ft = time.monotonic() - t0
    vecs = encode_texts(body, texts)
    secs = time.monotonic() - t0
    info = {"steps": res.steps, "seconds": secs, "ft_seconds": t_ft, "cached": False,
            "pairs": dataclasses.asdict(res.pairs), "final_loss": res.final_loss}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, vecs=vecs, steps=res.steps, seconds=secs)
    return dict(zip(texts, vecs)), info


def finetuned_data(D, train_idx, held_out: str, recipe: dict, st: FtSettings, cache_dir: Path | None = None):
    """A copy of ``D`` whose vectors (the ``recipe``'s texts) come from the fine-tuned body."""
    from engine.models.inputs import distinct_texts

    texts = distinct_texts(D.records, recipe)
    vecs, info = finetuned_vectors(D, train_idx, texts, held_out, st, cache_dir)
    return dataclasses.replace(D, vecs=vecs, cache={}), info
