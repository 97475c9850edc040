"""The small labelled library the repository carries (tests/data/ttrpg-mini) is what its
README says it is, and the fixture puts exactly that tree on disk."""

from __future__ import annotations

import csv
import os

from engine.core.taxonomy import label_names
from tests.conftest import DEV_LABELS, DEV_SET, read_labels


def test_every_label_class_and_several_sources_are_present():
    labels = read_labels()
    assert 250 <= len(labels) <= 400
    assert set(labels.values()) == set(label_names())
    with open(DEV_LABELS, encoding="utf-8", newline="") as fh:
        sets = {row["source"] for row in csv.DictReader(fh)}
    assert sets == {"ttrpg-dev", "ttrpg-dev2"}
    with open(DEV_SET / "sources.csv", encoding="utf-8", newline="") as fh:
        sources = list(csv.DictReader(fh))
    assert len({s["repository"] for s in sources}) >= 10
    assert sum(int(s["folders"]) for s in sources) == len(labels)
    readme = (DEV_SET / "README.md").read_text(encoding="utf-8")
    assert all(s["repository"] in readme for s in sources)


def test_the_carried_files_stay_small():
    assert sum(p.stat().st_size for p in DEV_SET.iterdir()) < 1_000_000


def test_the_fixture_materializes_exactly_the_labelled_folders(dev_set):
    on_disk, n_files = set(), 0
    for dirpath, _dirnames, filenames in os.walk(dev_set.library):
        rel = os.path.relpath(dirpath, dev_set.library)
        if rel != ".":
            on_disk.add(rel.replace(os.sep, "/"))
        n_files += len(filenames)
    assert on_disk == set(dev_set.labels)
    listed = [ln for ln in (DEV_SET / "files.txt").read_text(encoding="utf-8").splitlines() if ln]
    assert n_files == len(listed)
    # A closed tree: every labelled folder's parent is labelled too (or is the root).
    assert all(p.rpartition("/")[0] in dev_set.labels for p in dev_set.labels if "/" in p)
    with open(dev_set.labels_csv, encoding="utf-8", newline="") as fh:
        assert {r["path"]: r["label"] for r in csv.DictReader(fh)} == dev_set.labels
