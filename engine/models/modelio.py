"""Model folders: what fsorg writes, how it is saved atomically, and how it is checked on load.

Layout of a folder fsorg writes (no file in it is ever unpickled)::

    metadata.json       format, labels, base model, label run, config, input recipe, metrics,
                        abstention thresholds (optional), fsorg version, sha256 of every
                        file below
    head.safetensors    the classifier head: ``coef`` (labels x features), ``intercept``
    body/               the fine-tuned sentence body (sentence-transformers save, safetensors);
                        absent when the body is the unchanged base model (``metadata.body``
                        then names the base and its weights' sha256)
    report.json         the evaluation report on the held-out split (drawn by the app)

Saving writes everything into a hidden temporary folder next to the target and renames it
into place, so a crash or a Cancel never leaves a half-written model where a model is
expected. Loading checks every promise above and turns each broken case (missing,
half-written, another label set, corrupt, pickle) into a :class:`~engine.core.jobs.UserError`
that says what to do.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine import __version__
from engine.core.csvio import process_umask
from engine.core.jobs import UserError
from engine.core.leftovers import sweep
from engine.models import base as B
from engine.models.inputs import check_recipe, feature_dim

FORMAT = "fsorg-model"
FORMAT_VERSION = 1
METADATA = "metadata.json"
HEAD = "head.safetensors"
REPORT = "report.json"
BODY_DIR = "body"
TMP_MARK = ".fsorg-tmp-"
PREVIOUS_SUFFIX = ".previous"  # train keeps the model it replaces as <name>.previous


@dataclass
class Head:
    """A linear softmax head: ``probs = softmax(X @ coef.T + intercept)``.

    Stored as two float32 tensors; prediction needs numpy only (no sklearn, no pickle), and
    the same code computes the probabilities at evaluation and at prediction time, so the
    stored label is always the argmax of the stored probabilities.
    """

    coef: np.ndarray  # (n_labels, n_features) float32
    intercept: np.ndarray  # (n_labels,) float32

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        logits = X.astype(np.float32, copy=False) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits.astype(np.float32, copy=False)

    @classmethod
    def from_sklearn(cls, clf: Any, labels: Sequence[str]) -> "Head":
        """From a fitted LogisticRegression, rows reordered to ``labels``."""
        classes = [str(c) for c in clf.classes_]
        coef = np.asarray(clf.coef_, dtype=np.float32)
        inter = np.asarray(clf.intercept_, dtype=np.float32)
        if len(classes) == 2 and coef.shape[0] == 1:  # binary LR: sigmoid == softmax([0, z])
            coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
            inter = np.array([0.0, inter[0]], dtype=np.float32)
        out_c = np.zeros((len(labels), coef.shape[1]), dtype=np.float32)
        # A label absent from training can never win: a very low intercept.
        out_i = np.full(len(labels), -1e4, dtype=np.float32)
        for k, lb in enumerate(labels):
            if lb in classes:
                out_c[k] = coef[classes.index(lb)]
                out_i[k] = inter[classes.index(lb)]
        return cls(out_c, out_i)


@dataclass
class LoadedModel:
    """A model ready to predict: where its body is, its head, labels and input recipe."""

    path: Path | None
    kind: str  # finetuned | baseline
    labels: list[str]
    recipe: dict[str, Any]
    head: Head
    body_path: Path
    body_key: str
    emb_dim: int
    metadata: dict[str, Any] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    return B.file_sha256(path)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f"{TMP_MARK}{path.name}.{uuid.uuid4().hex[:8]}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def is_model_folder(path: Path) -> bool:
    try:
        meta = json.loads((path / METADATA).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT


def save_model_folder(
    target: Path,
    *,
    metadata: dict[str, Any],
    head: Head,
    report: dict[str, Any] | None,
    write_body: Callable[[Path], None] | None,
    should_commit: Callable[[], bool] = lambda: True,
    keep_previous: bool = False,
) -> Path:
    """Write a model folder atomically; returns the final path.

    ``write_body(dir)`` saves the fine-tuned body into ``dir`` (None: the body is the base).
    ``should_commit()`` is asked right before the rename: returning False (a Cancel) removes
    the temporary folder and leaves ``target`` untouched. An existing fsorg model at
    ``target`` is replaced only after the new one is complete; any other non-empty folder is
    refused (fsorg never overwrites the user's files). With ``keep_previous`` the fsorg model
    it replaces is kept as ``<target>.previous`` (replacing an older ``.previous`` model).
    """
    from safetensors.numpy import save_file

    target = Path(target).expanduser().resolve()
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not is_model_folder(target))):
        raise UserError(
            f"{target} exists and is not an fsorg model folder; fsorg will not overwrite it. "
            "Choose another --model-path."
        )
    previous = target.with_name(target.name + PREVIOUS_SUFFIX) if keep_previous and is_model_folder(target) else None
    if previous is not None and previous.exists() and not is_model_folder(previous):
        raise UserError(
            f"{previous} exists and is not an fsorg model folder, so the model at {target} cannot be kept "
            "there; fsorg will not overwrite it. Move it away or choose another --model-path."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    # The pid in the name lets the next save remove what a killed one left (engine.core.leftovers).
    sweep(target.parent, f"{TMP_MARK}{target.name}.")
    tmp = target.parent / f"{TMP_MARK}{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        files: dict[str, str] = {}
        if write_body is not None:
            write_body(tmp / BODY_DIR)
            for p in sorted((tmp / BODY_DIR).rglob("*")):
                if p.is_file():
                    files[p.relative_to(tmp).as_posix()] = _sha256(p)
        save_file({"coef": head.coef, "intercept": head.intercept}, str(tmp / HEAD))
        files[HEAD] = _sha256(tmp / HEAD)
        if report is not None:
            (tmp / REPORT).write_text(json.dumps(report, indent=2), encoding="utf-8")
        meta = dict(metadata)
        meta.update(format=FORMAT, format_version=FORMAT_VERSION, fsorg_version=__version__, files=files)
        meta.setdefault("created_at", time.time())
        # metadata.json last: a folder without it is recognisably half-written.
        _atomic_write_text(tmp / METADATA, json.dumps(meta, indent=2, sort_keys=True))
        _share(tmp)
        if not should_commit():
            raise _Abort()
        old = None
        if previous is not None:
            if previous.exists():
                old = target.parent / f"{TMP_MARK}{previous.name}.old.{os.getpid()}.{uuid.uuid4().hex[:8]}"
                os.replace(previous, old)
            os.replace(target, previous)
        elif target.exists():
            old = target.parent / f"{TMP_MARK}{target.name}.old.{os.getpid()}.{uuid.uuid4().hex[:8]}"
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return target
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, _Abort):
            from engine.core.jobs import Cancelled

            raise Cancelled() from None
        raise


class _Abort(Exception):
    pass


def _share(folder: Path) -> None:
    """Readable by other users like any file the user makes (0644 / 0755 under the usual umask):
    safetensors and temporary files are written 0600, and a model is meant to be shared."""
    umask = process_umask()
    os.chmod(folder, 0o777 & ~umask)
    for p in folder.rglob("*"):
        if p.is_symlink():
            continue
        os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~umask)


def _bad(path: Path, why: str, todo: str = "Train the model again (python organizer.py model train).") -> UserError:
    return UserError(f"The model folder {path} {why}. {todo}")


def load_model_folder(
    path: Path | str,
    *,
    taxonomy: Sequence[str],
    trust_pickle: bool = False,
    verify: bool = True,
) -> LoadedModel:
    """Open and check a model folder fsorg wrote; every broken case is a clear UserError."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(path).expanduser().resolve()
    if not path.exists():
        raise UserError(
            f"There is no model folder at {path}. Train one (python organizer.py model train "
            "--model-path DIR), or set use_baseline=true in the predict config."
        )
    if not path.is_dir():
        raise _bad(path, "is a file, not a model folder", "Pass the folder that 'train' wrote.")
    if path.name.startswith(TMP_MARK):
        raise _bad(path, "is a half-written temporary folder left by an interrupted save", "Delete it and train again.")
    meta_path = path / METADATA
    if not meta_path.exists():
        risky = B.pickle_files(path)
        if risky:
            if not trust_pickle:
                raise UserError(
                    f"The model folder {path} was not written by fsorg and needs pickle to load "
                    f"({', '.join(sorted(set(risky)))}); unpickling can run arbitrary code. fsorg refuses it. "
                    "If you trust where it came from, pass --trust-pickle."
                )
            raise UserError(
                f"The model folder {path} is not an fsorg model (no {METADATA}) and not a SetFit folder "
                "(no model_head.pkl) that 'predict --trust-pickle' can use. Train a model with fsorg."
            )
        raise _bad(path, f"has no {METADATA}: it is empty, half-written or not an fsorg model")
    # fsorg never writes pickle: any pickle-format file anywhere means the folder came from elsewhere.
    B.check_no_pickle(path, trust_pickle=trust_pickle, what="The model folder")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise _bad(path, f"has a corrupt {METADATA} ({type(e).__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _bad(path, f"has a {METADATA} that is not an fsorg model's")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise UserError(f"The model at {path} was written by a newer fsorg. Update fsorg to use it.")
    try:
        labels = [str(x) for x in meta["labels"]]
        recipe = dict(meta["recipe"])
        check_recipe(recipe)
        emb_dim = int(meta["emb_dim"])
        files: dict[str, str] = dict(meta["files"])
    except (KeyError, TypeError, ValueError) as e:
        raise _bad(path, f"has incomplete metadata ({e})") from None
    unknown = [lb for lb in labels if lb not in taxonomy]
    if unknown or len(set(labels)) != len(labels) or len(labels) < 2:
        raise UserError(
            f"The model at {path} was trained for the labels {labels}, which do not match this "
            f"fsorg's labels {list(taxonomy)}. Train a new model on your current labels."
        )
    for rel, digest in files.items():
        p = path / rel
        if not p.is_file():
            raise _bad(path, f"is missing {rel} (half-written or damaged)")
        if verify and (rel == HEAD or rel.endswith(".safetensors")) and _sha256(p) != digest:
            raise _bad(path, f"is corrupt: {rel} does not match its checksum")
    if HEAD not in files:
        raise _bad(path, f"lists no {HEAD}")
    try:
        tensors = load_file(str(path / HEAD))
        head = Head(np.asarray(tensors["coef"], np.float32), np.asarray(tensors["intercept"], np.float32))
    except (SafetensorError, KeyError, OSError, ValueError) as e:
        raise _bad(path, f"has an unreadable head ({type(e).__name__})") from None
    if head.coef.shape != (len(labels), feature_dim(recipe, emb_dim)) or head.intercept.shape != (len(labels),):
        raise _bad(path, f"has a head of shape {head.coef.shape} that does not fit its labels and recipe")
    body = meta.get("body") or {}
    if body.get("type") == "base":
        body_path = B.resolve_base_model(body.get("name"))
        key = B.body_key(body_path)
        if body.get("sha256") and key != body["sha256"]:
            raise UserError(
                f"The model at {path} was trained on a different copy of the base model "
                f"'{body.get('name')}' (weights checksum differs). Train it again with this installation."
            )
    elif body.get("type") == "folder":
        body_path = path / BODY_DIR
        if not (body_path / "modules.json").is_file():
            raise _bad(path, "is missing its fine-tuned body (body/modules.json)")
        B.check_no_pickle(body_path, trust_pickle=trust_pickle, what="The fine-tuned body")
        key = B.body_key(body_path)
    else:
        raise _bad(path, "does not say where its sentence body is")
    return LoadedModel(
        path=path,
        kind=str(meta.get("kind", "finetuned")),
        labels=labels,
        recipe=recipe,
        head=head,
        body_path=body_path,
        body_key=key,
        emb_dim=emb_dim,
        metadata=meta,
    )
