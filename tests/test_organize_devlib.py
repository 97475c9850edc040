"""The whole flow on the real library the tests carry (tests/data/ttrpg-mini, its hand labels as
the user's labels): catalogue -> plan -> link apply -> every file once, originals untouched ->
undo -> target gone."""

from __future__ import annotations

import csv
import os
from collections import Counter

from engine.organize.apply import apply_plan, undo
from engine.organize.catalogue import build_catalogue
from engine.organize.layout import propose
from engine.organize.plan import read_plan, write_plan
from tests.conftest import DEV_LABELS


def _label_from_folders_csv(lib, storage):
    from sqlalchemy import select

    import engine.labels.runs as L
    from engine.core.settings import StorageSettings
    from engine.scan.gather import gather
    from engine.storage import Databases
    from engine.storage import schema as S

    settings = StorageSettings.from_storage_arg(storage)
    snap = gather(str(lib), settings).snapshot_id
    dbs = Databases.open(settings)
    try:
        with dbs.index.connect() as c:
            ids = dict(c.execute(select(S.folders.c.rel_path, S.folders.c.id).where(S.folders.c.snapshot_id == snap)).all())
        with open(DEV_LABELS, encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if r["path"] in ids]
        with dbs.training.begin() as conn:
            run = L.create_label_run(conn, labeler="dataset", source="test", snapshot_id=snap)
            L.set_labels(conn, run, [L.LabelRow(ids[r["path"]], snap, r["path"], r["label"]) for r in rows])
    finally:
        dbs.dispose()
    return settings


def _inodes(root) -> Counter:
    out: Counter = Counter()
    for dirpath, _d, files in os.walk(root):
        for f in files:
            st = os.lstat(os.path.join(dirpath, f))
            out[(st.st_dev, st.st_ino, st.st_size, int(st.st_mtime))] += 1
    return out


def test_dev_library_plan_link_undo(dev_library, tmp_path):
    settings = _label_from_folders_csv(dev_library, tmp_path / "data")
    n_files = sum(len(files) for _d, _s, files in os.walk(dev_library))
    cat = build_catalogue(settings)
    assert sum(it.files for it in cat.items) == n_files
    # the carried library has real variants (day/night, gridded/gridless, numbered copies): each
    # group says which rule or similarity grouped it
    assert cat.groups and all(g.rule and len(g.members) >= 2 for g in cat.groups)
    target = tmp_path / "organized"
    lay = propose(cat, target, settings=settings)
    write_plan(lay, cat.root, tmp_path / "plan.csv")
    before = _inodes(dev_library)
    r = apply_plan(read_plan(tmp_path / "plan.csv"), target, "link", journal_dir=tmp_path / "journals")
    assert r.done == n_files and not r.skipped
    assert _inodes(target) == before  # each original reachable exactly once
    assert _inodes(dev_library) == before  # originals untouched
    u = undo(r.journal)
    assert u.restored == n_files and not u.kept and not target.exists()
    assert _inodes(dev_library) == before
