"""The labelled corpus the shipped baseline learns from, built through the user's own path.

Why (issue 14): the baseline used to be trained on records rebuilt from a file listing
(:mod:`engine.models.listing`), whose sibling windows, parent names and heuristic inputs
differ from what ``extract-features`` stores for a user's library (581 of the 850 dev
folders had a different sibling set), so the figures it was chosen on were not what users
get. Here a labelled dataset (``files.txt`` + ``folders.csv``) is materialized on disk as
empty files, scanned with ``gather`` and featurized with ``extract_features`` - exactly
what a user's library goes through - and its rows are read back with
:func:`engine.models.data.load_records`, the function prediction reads them with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.core.jobs import UserError
from engine.models.inputs import FolderRecord


def materialize_listing(files_txt: Path, target: Path, prefix: str = "library/") -> Path:
    """Create ``target/<prefix>...`` as a tree of folders and empty files from a listing
    (one relative path per line); returns the ``prefix`` root. Existing files are kept."""
    root = Path(target).resolve()
    for raw in Path(files_txt).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            continue
        parts = line.split("/")
        if line.startswith("/") or "\\" in line or any(p in ("", ".", "..") for p in parts):
            raise UserError(f"{files_txt}: refusing unsafe path {line!r}")
        path = root.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.touch()
    return root / prefix.rstrip("/")


@dataclass
class Corpus:
    records: list[FolderRecord]
    labels: list[str]
    dataset: list[str]  # which dataset each record came from


def extracted_records(library_root: Path, storage: Path, *, use_known_creators: bool = False) -> list[FolderRecord]:
    """``gather`` + ``extract_features`` of ``library_root`` into ``storage``; every folder's
    feature row below the scanned root, as prediction reads it.

    ``use_known_creators=False``: the heuristic's list of known creators is left out (it names
    creators of the dev data; a head trained with it learns to lean on a list a user's
    library will not match)."""
    from engine.core.config import load_config
    from engine.core.settings import StorageSettings
    from engine.features.extract import extract_features
    from engine.features.heuristics import Heuristic, default_vocabulary
    from engine.models.data import load_records
    from engine.scan.gather import gather
    from engine.storage import Databases

    settings = StorageSettings.from_storage_arg(storage)
    g = gather(library_root, settings)
    dbs = Databases.open(settings)
    try:
        extract_features(
            dbs, g.snapshot_id, load_config("extract_features"),
            heuristic=Heuristic(default_vocabulary(use_known_creators=use_known_creators)),
        )
        return [r for r in load_records(dbs.training, snapshot_id=g.snapshot_id) if r.depth >= 1]
    finally:
        dbs.dispose()


def labelled_corpus(
    datasets: Sequence[tuple[str, Path, Mapping[str, str]]], work: Path, *, use_known_creators: bool = False
) -> Corpus:
    """The labelled folders of every ``(name, files.txt, {rel_path: label})`` dataset, each
    materialized under ``work/name``, scanned and featurized into ``work/name-data``."""
    out = Corpus([], [], [])
    for name, files_txt, truth in datasets:
        root = materialize_listing(files_txt, Path(work) / name)
        for r in extracted_records(root, Path(work) / f"{name}-data", use_known_creators=use_known_creators):
            if r.rel_path in truth:
                out.records.append(r)
                out.labels.append(truth[r.rel_path])
                out.dataset.append(name)
    return out


def sources_from_provenance(provenance_csv: Path) -> dict[str, str]:
    """``{top-level folder: repository}`` from a dataset's ``provenance.csv`` (the repository
    most of the folder's files come from); {} when there is no such file."""
    import csv
    from collections import Counter, defaultdict

    p = Path(provenance_csv)
    if not p.is_file():
        return {}
    top: dict[str, Counter] = defaultdict(Counter)
    with open(p, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            parts = row["path"].split("/")
            if len(parts) > 2:
                top[parts[1]][row["repo"]] += 1
    return {t: c.most_common(1)[0][0] for t, c in top.items()}
