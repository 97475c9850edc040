"""Folder records straight from a file listing (``files.txt``) and a labelled ``folders.csv``.

Kept for quick research scripts (``bench/train.py``) that need records without scanning a
disk. The shipped baseline is NOT built from these any more (issue 14): their sibling
windows and heuristic inputs differ from what ``extract-features`` stores, so the baseline
now learns from :mod:`engine.models.corpus` (materialize, ``gather``, ``extract-features``).
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


def fill_samples_csv(samples_csv: Path, truth: dict[str, str]) -> set[str]:
    """Fill the ``label`` column of a samples CSV from a dataset's labels (what a person would
    type), in place; returns the paths it labelled. For benches and evaluation scripts."""
    with open(samples_csv, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["label"] = truth[r["path"]]
    with open(samples_csv, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    return {r["path"] for r in rows}


def heuristic_from_listing(
    files_txt: Path,
    *,
    prefix: str = "library/",
    use_known_creators: bool = True,
    vocab_dir: Path | None = None,
) -> dict[str, tuple[str, float, str]]:
    """``{relative path: (heuristic_label, heuristic_confidence, heuristic_rule)}`` for a listing.

    The same rule engine and the same inputs as ``extract-features`` (the scanned root at
    depth 0 named like the prefix, full child lists, direct file and image counts), so a head
    trained on these guesses sees what prediction later reads from ``folder_features``.
    ``use_known_creators=False`` switches off ``creators.json:known_creators`` (honest
    held-out figures: that list names a few creators of the dev library); ``vocab_dir``
    reads the keyword lists from another folder (an ablated copy, see build_baseline.py).
    """
    from engine.features.extract import IMAGE_EXTS
    from engine.features.heuristics import FolderInput, Heuristic, Vocabulary, default_vocabulary

    files: Counter = Counter()
    images: Counter = Counter()
    dirs: set[str] = {""}
    for line in Path(files_txt).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line.startswith(prefix):
            continue
        parts = line[len(prefix) :].split("/")
        folder = "/".join(parts[:-1])
        name = parts[-1]
        ext = name.rsplit(".", 1)[1].lower() if "." in name[1:] else ""
        files[folder] += 1
        if ext in IMAGE_EXTS:
            images[folder] += 1
        for i in range(1, len(parts)):
            dirs.add("/".join(parts[:i]))
    order = sorted(dirs)
    pos = {d: i for i, d in enumerate(order)}
    root_name = Path(prefix.rstrip("/")).name or "library"
    inputs = []
    for d in order:
        parent = None if d == "" else pos[d.rsplit("/", 1)[0] if "/" in d else ""]
        inputs.append(
            FolderInput(
                name=d.rsplit("/", 1)[-1] if d else root_name,
                depth=0 if d == "" else d.count("/") + 1,
                parent=parent,
                file_count=files.get(d, 0),
                image_files=images.get(d, 0),
            )
        )
    for i, f in enumerate(inputs):
        if f.parent is not None:
            inputs[f.parent].children.append(i)
    for f in inputs:
        f.children.sort(key=lambda j: inputs[j].name.casefold())
    vocab = (
        Vocabulary.load(vocab_dir, use_known_creators=use_known_creators)
        if vocab_dir is not None
        else default_vocabulary(use_known_creators=use_known_creators)
    )
    guesses = Heuristic(vocab).classify_all(inputs)
    return {d: (g.label, float(g.confidence), g.rule) for d, g in zip(order, guesses) if d}
