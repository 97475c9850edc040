"""Folder records straight from a file listing (``files.txt``) and a labelled ``folders.csv``.

Why: the shipped baseline is rebuilt from the dev dataset (``scripts/build_baseline.py``)
without scanning a disk or touching a user's database, and the research / held-out-creator
evaluation needs the same :class:`~engine.models.inputs.FolderRecord` fields that
``extract-features`` stores (name, parent, grandparent, depth, children, siblings, top
extensions, counts), with the same caps.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

from engine.models.inputs import FolderRecord


def records_from_listing(
    files_txt: Path,
    *,
    prefix: str = "library/",
    child_cap: int = 8,
    sibling_cap: int = 8,
    ext_cap: int = 5,
) -> list[FolderRecord]:
    """One record per folder under ``prefix`` (the root itself excluded); ids are 1..N by path."""
    files_by_dir: dict[str, Counter] = defaultdict(Counter)
    dirs: set[str] = set()
    for line in Path(files_txt).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line.startswith(prefix):
            continue
        rel = line[len(prefix) :]
        parts = rel.split("/")
        folder = "/".join(parts[:-1])
        name = parts[-1]
        ext = name.rsplit(".", 1)[1].lower() if "." in name[1:] else ""
        files_by_dir[folder][ext] += 1
        for i in range(1, len(parts)):
            dirs.add("/".join(parts[:i]))
    children: dict[str, list[str]] = defaultdict(list)
    for d in dirs:
        parent = d.rsplit("/", 1)[0] if "/" in d else ""
        children[parent].append(d.rsplit("/", 1)[-1])
    records = []
    for i, d in enumerate(sorted(dirs), start=1):
        parts = d.split("/")
        parent = "/".join(parts[:-1])
        name = parts[-1]
        depth = len(parts)
        parent_name = parts[-2] if depth >= 2 else Path(prefix.rstrip("/")).name
        grand = parts[-3] if depth >= 3 else (Path(prefix.rstrip("/")).name if depth == 2 else None)
        kids = sorted(children.get(d, []))
        sibs = sorted(n for n in children.get(parent, []) if n != name)
        exts = files_by_dir.get(d, Counter())
        records.append(
            FolderRecord(
                folder_id=i,
                rel_path=d,
                name=name,
                depth=depth,
                parent_name=parent_name,
                grandparent_name=grand,
                children=tuple(kids[:child_cap]),
                siblings=tuple(sibs[:sibling_cap]),
                top_exts=tuple(sorted(exts.items(), key=lambda kv: (-kv[1], kv[0]))[:ext_cap]),
                file_count=sum(exts.values()),
                subfolder_count=len(kids),
            )
        )
    return records


def read_folder_labels(folders_csv: Path) -> dict[str, str]:
    """``{relative path: label}`` from a dataset's ``folders.csv``."""
    with open(folders_csv, encoding="utf-8-sig", newline="") as fh:
        return {row["path"]: row["label"].strip() for row in csv.DictReader(fh)}
