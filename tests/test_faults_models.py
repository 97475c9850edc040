"""Fault suite, model folders (issue 15, items 5 and 8): saved readable by other users, a full
disk during the save is one clear line and leaves nothing behind, and no pickle-format file
anywhere in a folder fsorg did not write reaches a loader."""

from __future__ import annotations

import os
import pickle
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from engine.core.errors import environment_error
from engine.core.jobs import UserError
from engine.core.taxonomy import label_names
from engine.models import base as B
from engine.models.inputs import DEFAULT_RECIPE, feature_dim
from engine.models.modelio import Head, load_model_folder, save_model_folder

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _save(target: Path, body_src: Path | None = None) -> Path:
    labels = list(label_names())
    dim = feature_dim(DEFAULT_RECIPE, 384)
    head = Head(np.zeros((len(labels), dim), np.float32), np.zeros(len(labels), np.float32))

    def write_body(d: Path) -> None:
        shutil.copytree(body_src, d)
        from safetensors.numpy import save_file

        save_file({"x": np.zeros(3, np.float32)}, str(d / "extra.safetensors"))  # written 0600

    meta = {
        "labels": labels,
        "recipe": dict(DEFAULT_RECIPE),
        "emb_dim": 384,
        "kind": "finetuned",
        "body": {"type": "folder"} if body_src else {"type": "base", "name": "all-MiniLM-L6-v2"},
    }
    return save_model_folder(
        target, metadata=meta, head=head, report={"n": 0}, write_body=write_body if body_src else None
    )


def test_a_saved_model_is_readable_by_other_users(tmp_path):
    old = os.umask(0o022)
    try:
        model = _save(tmp_path / "clf", B.packaged_base_path())
    finally:
        os.umask(old)
    modes = {
        p.relative_to(model).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [model, *model.rglob("*")]
    }
    assert modes["body/extra.safetensors"] == 0o644  # safetensors alone would leave 0600
    assert all(m == (0o755 if (model / rel).is_dir() else 0o644) for rel, m in modes.items()), modes
    load_model_folder(model, taxonomy=list(label_names()))


@pytest.mark.skipif(not IS_ROOT, reason="mounting a small file system needs root")
def test_full_disk_while_saving_a_model(tmp_path):
    where = Path(tempfile.mkdtemp(prefix="fsorg-tmpfs-"))
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(where)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs")
    try:
        with pytest.raises(OSError) as info:
            _save(where / "clf", B.packaged_base_path())  # ~90 MB of body on 40 MB
        err = environment_error(info.value)
        assert err is not None and "disk is full" in str(err)
        assert os.listdir(where) == []  # no half-written model, no .fsorg-tmp-* left
    finally:
        subprocess.run(["umount", "-l", str(where)])
        shutil.rmtree(where, ignore_errors=True)


class _Payload:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


MARKER = Path(tempfile.gettempdir()) / f"fsorg-pickle-ran-{os.getpid()}"


@pytest.mark.parametrize(
    "where",
    [
        "body/pytorch_model.bin",
        "body/1_Pooling/pytorch_model.bin",
        "body/weights_without_a_suffix",
        "notes/x.pkl",
    ],
)
def test_pickle_anywhere_in_a_model_folder_is_refused(tmp_path, where):
    """Before: a pytorch_model.bin was accepted when a *.safetensors sat beside it, and
    subfolders were never looked at (only torch's default stopped the payload)."""
    model = _save(tmp_path / "clf", B.packaged_base_path())
    (model / where).parent.mkdir(parents=True, exist_ok=True)
    (model / where).write_bytes(pickle.dumps(_Payload(), protocol=4))
    MARKER.unlink(missing_ok=True)
    with pytest.raises(UserError, match="pickle") as info:
        load_model_folder(model, taxonomy=list(label_names()))
    assert where.split("/")[-1] in str(info.value)
    with pytest.raises(UserError, match="pickle"):
        B.load_body(model / "body") if where.startswith("body") else B.check_no_pickle(
            model, trust_pickle=False, what="x"
        )
    assert not MARKER.exists()
