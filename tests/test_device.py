"""Device selection (GPU when present, CPU fallback) and int8 encoding with its own cache key.

Real torch, the real base body, a real training.db. This machine has no GPU, so the CUDA
branch is exercised only through its fallback: asking for ``cuda`` where torch sees none
must still give a working CPU body.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sqlalchemy import select

from engine.core.jobs import never_stop, no_progress
from engine.core.settings import StorageSettings
from engine.models import base as B
from engine.models import device as D
from engine.models.embeddings import embed_cached
from engine.storage import Databases
from engine.storage import schema as S

TEXTS = ["forest camp", "goblin tokens", "haunted manor night", "dungeon tiles"]


@pytest.fixture(scope="module")
def fp32_body():
    return B.load_body(B.resolve_base_model(None))


@pytest.mark.parametrize("asked", ["", "cpu", "cuda"])
def test_device_is_cuda_only_when_torch_has_it(monkeypatch, asked):
    monkeypatch.setenv("FSORG_DEVICE", asked)
    want = "cuda" if torch.cuda.is_available() and asked != "cpu" else "cpu"
    assert D.torch_device() == want


def test_cpu_fallback_loads_a_working_body(monkeypatch):
    monkeypatch.setenv("FSORG_DEVICE", "cuda")  # asked for, absent here: the CPU is used
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    body = B.load_body(B.resolve_base_model(None))
    assert body.device.type == "cpu"
    v = body.encode(["forest camp"], convert_to_numpy=True)
    assert v.shape == (1, 384) and np.isfinite(v).all()


def test_int8_is_never_used_on_a_gpu(monkeypatch):
    monkeypatch.setenv("FSORG_INT8", "1")
    assert D.int8_enabled("cpu") is True
    assert D.int8_enabled("cuda") is False
    monkeypatch.setenv("FSORG_INT8", "0")
    assert D.int8_enabled("cpu") is False
    assert D.cache_key("abc", True) == "abc:int8" and D.cache_key("abc", False) == "abc"


def test_int8_copy_leaves_the_fp32_body_untouched(fp32_body):
    q = D.quantized_copy(fp32_body)
    assert D.is_int8(q) and not D.is_int8(fp32_body)
    assert D.for_inference(q, True) is q  # never quantized twice
    assert D.for_inference(fp32_body, False) is fp32_body
    kinds = {type(m) for m in fp32_body.modules()}
    assert torch.nn.Linear in kinds  # training fine-tunes this one: it must stay fp32
    assert torch.nn.Linear not in {type(m) for m in q.modules()}


def test_fp32_and_int8_vectors_are_cached_apart(tmp_path, monkeypatch, fp32_body):
    dbs = Databases.open(StorageSettings.from_storage_arg(tmp_path / "data"))
    loads = []

    def get_body():
        loads.append(1)
        return fp32_body

    def run():
        return embed_cached(TEXTS, training=dbs.training, model_key="k", get_body=get_body,
                            progress=no_progress, should_stop=never_stop)

    monkeypatch.setenv("FSORG_INT8", "0")
    v32 = run()
    monkeypatch.setenv("FSORG_INT8", "1")
    v8 = run()
    assert len(loads) == 2  # the int8 run did not reuse the fp32 vectors
    assert run() .keys() == v8.keys() and len(loads) == 2  # a second int8 run reads its own cache
    with dbs.training.connect() as c:
        keys = sorted({k for (k,) in c.execute(select(S.embedding_cache.c.model_key))})
    assert keys == ["k", "k:int8"]
    for t in TEXTS:
        ref = fp32_body.encode([t], normalize_embeddings=True, convert_to_numpy=True)[0]
        assert np.allclose(v32[t], ref, atol=1e-5)
        cos = float(np.dot(v32[t], v8[t]))
        assert 0.8 < cos < 0.99999  # close, but not the same vector
    dbs.dispose()


def test_encoding_batches_shrink_for_long_texts():
    from engine.models.embeddings import MAX_BATCH, MIN_BATCH, batch_size_for

    assert batch_size_for(["forest camp"] * 600) == MAX_BATCH  # short names: big batches
    assert batch_size_for(["x" * 100]) == 81  # the character budget
    assert batch_size_for(["x" * 100_000]) == MIN_BATCH  # never below the floor
    assert batch_size_for([]) == MAX_BATCH
