"""Encoding texts with a sentence body, each distinct text once, cached in training.db.

Encoding is the cost on a laptop CPU (a few hundred short strings per second), so vectors
are cached in ``embedding_cache`` keyed by (body key + precision, text): a second run over the same
library with an unchanged body (the baseline, the frozen base, or the same fine-tuned model)
encodes nothing. New vectors are written after every chunk, so a cancelled run keeps what it
already paid for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Engine, insert, select

from engine.core.jobs import ProgressFn, StopFn, check_stop
from engine.storage import schema as S

_IN_CHUNK = 900  # SQLite's default limit on bound parameters is 999
# Texts per encoding batch. Measured with bench/predict.py (100,000 folders, 27,873 distinct
# names, 2 cores, load ~2): at most 128 per batch 600 folders/s cold (peak RSS 924 MB), 256:
# 2,098/s (1,003 MB), 512: 1,757/s (1,143 MB). Capped by a character budget so a chunk of long
# texts (the tail of the length-sorted list) stays small in memory.
MAX_BATCH = 256
MIN_BATCH = 16
BATCH_CHARS = 8_192


def batch_size_for(texts: Sequence[str]) -> int:
    """Encoding batch size for ``texts`` (one chunk of length-sorted texts)."""
    longest = max((len(t) for t in texts), default=1)
    return max(MIN_BATCH, min(MAX_BATCH, BATCH_CHARS // max(longest, 1)))


_LIBC: Any = None
TRIM_EVERY = 8  # chunks of encoded texts between two release_freed_memory() calls


def release_freed_memory() -> None:
    """Hand freed heap pages back to the OS (glibc's ``malloc_trim``; elsewhere a no-op).

    Why: each encoding batch allocates and frees tens of MB of token and activation buffers;
    glibc keeps the freed pages in its arenas, so without this the resident size grows batch
    after batch (bench/predict.py cold, 100,000 folders: ~+200 MB over 110 chunks). Called every
    ``TRIM_EVERY`` chunks: each call makes the next batches fault their buffers in again, so
    calling it after every chunk cost encoding time in a side-by-side run (noisy under load).
    """
    global _LIBC
    if _LIBC is None:
        _LIBC = False
        import sys

        if sys.platform.startswith("linux"):
            try:
                import ctypes

                libc = ctypes.CDLL("libc.so.6")
                _LIBC = libc if hasattr(libc, "malloc_trim") else False
            except OSError:
                pass
    if _LIBC:
        _LIBC.malloc_trim(0)


def cache_lookup(training: Engine, model_key: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Cached vectors of ``texts`` (those that are cached)."""
    out: dict[str, np.ndarray] = {}
    t = S.embedding_cache
    with training.connect() as c:
        for i in range(0, len(texts), _IN_CHUNK):
            chunk = list(texts[i : i + _IN_CHUNK])
            rows = c.execute(
                select(t.c.text, t.c.vector).where(t.c.model_key == model_key, t.c.text.in_(chunk))
            ).all()
            for text, blob in rows:
                out[text] = np.frombuffer(blob, dtype=np.float32)
    return out


def cache_store(training: Engine, model_key: str, vectors: dict[str, np.ndarray]) -> None:
    if not vectors:
        return
    rows = [
        {"model_key": model_key, "text": k, "vector": np.asarray(v, dtype=np.float32).tobytes()}
        for k, v in vectors.items()
    ]
    with training.begin() as c:
        c.execute(insert(S.embedding_cache).prefix_with("OR REPLACE"), rows)


def encode_texts(body: Any, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
    """L2-normalized float32 embeddings of ``texts`` (no cache)."""
    if not texts:
        dim = body.get_embedding_dimension()
        return np.zeros((0, dim), dtype=np.float32)
    emb = body.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(emb, dtype=np.float32)


def embed_cached(
    texts: Sequence[str],
    *,
    training: Engine | None,
    model_key: str,
    get_body: Callable[[], Any],
    batch_size: int = 256,
    progress: ProgressFn,
    should_stop: StopFn,
) -> dict[str, np.ndarray]:
    """``{text: vector}`` for every text: cached ones read, the rest encoded and cached.

    ``get_body`` is called only when something must be encoded, so a fully cached run never
    loads torch. With ``training=None`` nothing is cached (used when no database is at hand).
    """
    from engine.models.device import cache_key, for_inference, int8_enabled

    int8 = int8_enabled()
    model_key = cache_key(model_key, int8)  # int8 and fp32 vectors never share a key
    texts = list(dict.fromkeys(texts))
    found = cache_lookup(training, model_key, texts) if training is not None else {}
    missing = [t for t in texts if t not in found]
    if not missing:
        progress(1.0, f"{len(texts)} texts, all cached")
        return found
    progress(0.0, f"{len(found)} of {len(texts)} texts cached; encoding {len(missing)}")
    body = for_inference(get_body(), int8)
    # Similar lengths in one batch pad less; sentence-transformers sorts within a call,
    # sorting here too keeps our chunks homogeneous.
    missing.sort(key=len)
    chunk = max(batch_size, MAX_BATCH)  # texts encoded (and cached) between progress reports
    start = time.monotonic()
    done = 0
    for i in range(0, len(missing), chunk):
        check_stop(should_stop)
        part = missing[i : i + chunk]
        vecs = encode_texts(body, part, batch_size=batch_size_for(part))
        new = dict(zip(part, vecs))
        if training is not None:
            cache_store(training, model_key, new)
        found.update(new)
        del vecs, new
        if (i // chunk) % TRIM_EVERY == TRIM_EVERY - 1:
            release_freed_memory()
        done += len(part)
        rate = done / max(time.monotonic() - start, 1e-6)
        eta = (len(missing) - done) / rate if rate else 0.0
        progress(
            done / len(missing),
            f"encoded {done}/{len(missing)} new texts ({rate:.0f}/s), ETA {int(eta) // 60}:{int(eta) % 60:02d}",
        )
    release_freed_memory()
    return found
