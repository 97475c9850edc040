"""Contrastive fine-tuning of the sentence body with mined hard negatives (SetFit's first phase).

Why our own loop instead of ``setfit.Trainer``: on a 2-core CPU the budget is a few hundred
steps, so every step must count and the loop must honour ``should_stop`` (Cancel) and a wall
clock budget between steps; SetFit's trainer runs its head phase without callbacks and
builds all pairs up front. The pairs are SetFit's idea, made "fewer but harder":

* **hard negatives** — for each anchor, the ``hardneg_k`` folders of *another* label whose
  texts the current body finds most similar (cosine >= ``hardneg_min_sim``), optionally only
  for anchors whose label is in ``hardneg_labels``; ``hardneg_factor`` scales how many;
* **positives** — ``positives_per_anchor`` random folders of the same label, preferring ones
  the body currently finds *least* similar (hard positives).

Loss: cosine similarity regression (SetFit's default ``CosineSimilarityLoss``): target 1 for
positives, 0 for negatives. Only distinct texts take part: two folders with the same text
and different labels cannot be told apart by the body, so such a pair is skipped (the head
sees the context blocks that separate them).
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.core.jobs import ProgressFn, StopFn, check_stop


@dataclass
class PairStats:
    anchors: int
    positives: int
    hard_negatives: int


@dataclass
class FinetuneResult:
    steps: int
    pairs: PairStats
    seconds: float
    stopped_by_budget: bool
    final_loss: float | None


def _label_texts(texts: Sequence[str], labels: Sequence[str]) -> tuple[list[str], list[str]]:
    """Distinct (text, label) with a text's majority label; ambiguous texts keep it too."""
    votes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for t, y in zip(texts, labels):
        votes[t][y] += 1
    out_t, out_y = [], []
    for t, v in votes.items():
        out_t.append(t)
        out_y.append(max(v.items(), key=lambda kv: (kv[1], kv[0]))[0])
    return out_t, out_y


def mine_pairs(
    texts: Sequence[str],
    labels: Sequence[str],
    emb: np.ndarray,
    *,
    hardneg_k: int,
    hardneg_min_sim: float,
    hardneg_factor: float,
    hardneg_labels: Sequence[str] | None,
    positives_per_anchor: int,
    seed: int,
) -> tuple[list[tuple[int, int, float]], PairStats]:
    """Pairs (i, j, target) over ``texts`` (distinct), using embeddings ``emb`` (normalized)."""
    rng = random.Random(seed)
    y = np.asarray(labels)
    n = len(texts)
    sims = emb @ emb.T
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, lb in enumerate(labels):
        by_label[lb].append(i)
    k = max(0, int(round(hardneg_k * hardneg_factor)))
    allowed = set(hardneg_labels) if hardneg_labels else None
    pairs: list[tuple[int, int, float]] = []
    seen: set[tuple[int, int]] = set()
    n_pos = n_neg = 0

    def add(i: int, j: int, target: float) -> bool:
        key = (min(i, j), max(i, j))
        if i == j or key in seen:
            return False
        seen.add(key)
        pairs.append((i, j, target))
        return True

    for i in range(n):
        if k and (allowed is None or labels[i] in allowed):
            other = y != y[i]
            cand = np.where(other & (sims[i] >= hardneg_min_sim))[0]
            if cand.size:
                top = cand[np.argsort(-sims[i, cand])[:k]]
                for j in top:
                    n_neg += add(i, int(j), 0.0)
        same = [j for j in by_label[labels[i]] if j != i]
        if same and positives_per_anchor:
            # Hard positives: of a random pool, the ones the body finds least similar.
            pool = rng.sample(same, min(len(same), 4 * positives_per_anchor))
            pool.sort(key=lambda j: sims[i, j])
            for j in pool[:positives_per_anchor]:
                n_pos += add(i, j, 1.0)
    rng.shuffle(pairs)
    return pairs, PairStats(n, n_pos, n_neg)


def finetune_body(
    body: Any,
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    cfg: Any,
    progress: ProgressFn,
    should_stop: StopFn,
    encode: Any,
) -> FinetuneResult:
    """Fine-tune ``body`` (a SentenceTransformer, in place) on labelled texts.

    ``encode(texts) -> np.ndarray`` embeds with the current body (used to mine pairs).
    Stops at ``max_steps``, ``num_epochs`` over the pairs, or ``time_budget_s`` (whichever
    first; the budget is checked between steps); raises ``Cancelled`` when ``should_stop()``.
    """
    import torch

    t0 = time.monotonic()
    dtexts, dlabels = _label_texts(texts, labels)
    progress(0.0, f"mining hard negatives among {len(dtexts)} distinct texts")
    emb = encode(dtexts)
    check_stop(should_stop)
    pairs, stats = mine_pairs(
        dtexts,
        dlabels,
        emb,
        hardneg_k=cfg.hardneg_k,
        hardneg_min_sim=cfg.hardneg_min_sim,
        hardneg_factor=cfg.hardneg_factor,
        hardneg_labels=cfg.hardneg_labels,
        positives_per_anchor=cfg.positives_per_anchor,
        seed=cfg.seed,
    )
    if not pairs:
        return FinetuneResult(0, stats, time.monotonic() - t0, False, None)
    bs = cfg.batch_size
    steps_per_epoch = math.ceil(len(pairs) / bs)
    total = steps_per_epoch * max(cfg.num_epochs, 1)
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    if total <= 0:
        return FinetuneResult(0, stats, time.monotonic() - t0, False, None)
    budget = cfg.time_budget_s
    torch.manual_seed(cfg.seed)
    body.train()
    opt = torch.optim.AdamW(body.parameters(), lr=cfg.learning_rate, weight_decay=0.01)
    warmup = max(1, int(0.1 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (total - s) / max(1, total - warmup))
    )
    device = body.device
    step = 0
    loss_val: float | None = None
    by_budget = False
    train_start = time.monotonic()
    try:
        while step < total:
            for b in range(0, len(pairs), bs):
                if step >= total:
                    break
                check_stop(should_stop)
                if budget is not None and time.monotonic() - t0 > budget:
                    by_budget = True
                    break
                batch = pairs[b : b + bs]
                a = [dtexts[i] for i, _, _ in batch]
                c = [dtexts[j] for _, j, _ in batch]
                target = torch.tensor([t for _, _, t in batch], dtype=torch.float32, device=device)
                feats = body.preprocess(a + c)
                feats = {k2: (v.to(device) if hasattr(v, "to") else v) for k2, v in feats.items()}
                out = body(feats)["sentence_embedding"]
                ea, ec = out[: len(batch)], out[len(batch) :]
                cos = torch.nn.functional.cosine_similarity(ea, ec)
                loss = torch.nn.functional.mse_loss(cos, target)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(body.parameters(), 1.0)
                opt.step()
                sched.step()
                step += 1
                loss_val = float(loss.detach())
                elapsed = time.monotonic() - train_start
                eta = elapsed / step * (total - step)
                if budget is not None:
                    eta = min(eta, max(0.0, budget - (time.monotonic() - t0)))
                progress(step / total, f"fine-tuning step {step}/{total}, loss {loss_val:.4f}, ETA {_fmt(eta)}")
            if by_budget:
                break
    finally:
        body.eval()
    return FinetuneResult(step, stats, time.monotonic() - t0, by_budget, loss_val)


def _fmt(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 60}:{s % 60:02d}"
