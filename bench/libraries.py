"""Part of a labelled dataset as a real library on disk, for the benches."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def dataset_library(work: Path, dataset: str, n: int) -> Path:
    """The first ``n`` folders of ``../shared/datasets/<dataset>`` (whole ancestor chains of the
    listed files), materialized with empty files under ``work/tree``; returns ``library/``."""
    listing = DATASETS / dataset / "files.txt"
    folders: set[str] = set()
    keep: list[str] = []
    for line in listing.read_text(encoding="utf-8").splitlines():
        parts = line.split("/")
        new = {"/".join(parts[:i]) for i in range(2, len(parts))} - folders
        if len(folders) + len(new) > n:
            continue
        folders |= new
        keep.append(line)
    (work / "files.txt").write_text("\n".join(keep) + "\n", encoding="utf-8")
    subprocess.run([sys.executable, str(DATASETS / "materialize.py"), str(work / "files.txt"), str(work / "tree")],
                   check=True, capture_output=True)
    return work / "tree" / "library"
