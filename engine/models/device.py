"""Where the sentence body runs, and whether it encodes in int8: decided here, in one place.

Device
    ``cuda`` when torch sees a GPU, else ``cpu``. ``FSORG_DEVICE=cpu`` (or ``cuda``) forces it;
    asking for ``cuda`` where torch has none falls back to the CPU (a headless box next to the
    data may lack the driver the laptop had). Fine-tuning and encoding both follow the body's
    device, so a GPU speeds up both without other changes.

int8 encoding (CPU only)
    For *inference* the body's ``nn.Linear`` layers are swapped for dynamically quantized int8
    ones (``torch.ao.quantization.quantize_dynamic``: weights int8, activations quantized per
    batch; no new dependency). Measured (``bench/int8_quality.py``, README "Performance and
    quality"): encoding ~1.8x faster per CPU-second, the shipped baseline's labels unchanged,
    but a head trained on int8 vectors lost 0.036 Macro F1 on the dev library (the rule is
    < 0.005), so it is OFF by default; ``FSORG_INT8=1`` turns it on. Training never fine-tunes a quantized body: only
    a quantized *copy* encodes. Vectors encoded in int8 are cached under their own key
    (:func:`cache_key`), so fp32 and int8 vectors never mix in ``embedding_cache``.
"""

from __future__ import annotations

import copy
import os
from typing import Any

INT8_DEFAULT = False  # see the module docstring: failed the < 0.005 Macro F1 rule
_INT8_MARK = "_fsorg_int8"


def torch_device() -> str:
    """``"cuda"`` or ``"cpu"``: ``FSORG_DEVICE`` if set and usable, else cuda when available."""
    want = os.environ.get("FSORG_DEVICE", "").strip().lower()
    if want == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def int8_enabled(device: str | None = None) -> bool:
    """Whether encoding uses the int8 copy of the body (never on a GPU)."""
    flag = os.environ.get("FSORG_INT8", "").strip().lower()
    on = INT8_DEFAULT if flag == "" else flag not in ("0", "false", "no", "off")
    return on and (device or torch_device()) == "cpu"


def cache_key(model_key: str, int8: bool | None = None) -> str:
    """The ``embedding_cache`` key of vectors encoded by body ``model_key`` in this precision."""
    return f"{model_key}:int8" if (int8_enabled() if int8 is None else int8) else model_key


def is_int8(body: Any) -> bool:
    return bool(getattr(body, _INT8_MARK, False))


def quantized_copy(body: Any) -> Any:
    """An int8 copy of ``body`` for encoding (its Linear layers dynamically quantized)."""
    import warnings

    import torch

    with warnings.catch_warnings():  # torch 2.10+ points at torchao; the eager API still works
        warnings.simplefilter("ignore")
        q = torch.ao.quantization.quantize_dynamic(copy.deepcopy(body).cpu().eval(), {torch.nn.Linear},
                                                   dtype=torch.qint8)
    setattr(q, _INT8_MARK, True)
    return q


def for_inference(body: Any, int8: bool | None = None) -> Any:
    """``body`` itself, or its int8 copy when int8 encoding is on (a quantized body is kept)."""
    if is_int8(body) or not (int8_enabled() if int8 is None else int8):
        return body
    return quantized_copy(body)
