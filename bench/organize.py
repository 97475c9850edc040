"""Benchmark of ``organize``: plan for a 100,000-folder library, link-mode apply files/s.

    .venv/bin/python bench/organize.py                      # 100,000 folders; 20,000 files applied
    .venv/bin/python bench/organize.py --folders 20000 --files 5000 --dir /tmp/fsorg-org-bench

1. **Plan.** A synthetic TTRPG-shaped snapshot (creators / asset types / subjects with
   Day, Night, Gridless folders and numbered, sized and seasonal siblings) is written straight
   into index.db, with a prediction run over every folder and a user label run over 1 % of
   them, plus three file rows per folder with files. Timed: the whole ``organize plan``
   in-process (catalogue + variant groups + layout + conflicts + plan CSV), and the same as a
   CLI process (interpreter start included). Target: <= 10 s.
2. **Apply.** A real tree of ``--files`` small files is written, scanned with ``gather``,
   labelled the same way, planned, then applied in link mode (journal + fsync per batch).
   Prints files/s (target >= 5,000/s) and the undo time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.core.settings import StorageSettings  # noqa: E402
from engine.storage import Databases  # noqa: E402

ORDER = ["creator_or_studio", "content_subject", "descriptor", "asset_type", "other", "unknown"]
ADJ = "Ancient Burning Frozen Sunken Haunted Royal Hidden Crystal Goblin Dwarven Elven Forgotten Misty Iron".split()
NOUN = "Tavern Crypt Forest Harbor Temple Bridge Mine Castle Market Swamp Tower Camp Cave Library Keep".split()
TYPES = ("Maps", "Tokens", "scenes", "animated_maps")
VARIANTS = ("Day", "Night", "Gridless")


def shape(folders: int, seed: int = 7):
    """Yield (rel_path, label, files) for a library of about ``folders`` folders (parents first)."""
    rnd = random.Random(seed)
    n = 0
    c = 0
    while n < folders:
        creator = f"Studio {c:04d} {rnd.choice(ADJ)}"
        c += 1
        yield creator, "creator_or_studio", 0
        n += 1
        for t in TYPES:
            tp = f"{creator}/{t}"
            yield tp, "asset_type", 0
            n += 1
            for s in range(25):
                base = f"{rnd.choice(ADJ)} {rnd.choice(NOUN)} {s:02d}"
                name = rnd.choice([base, base.replace(" ", "_"), f"{base}_30x40", f"{base} (Winter)", f"{base} v2"])
                sp = f"{tp}/{name}"
                yield sp, "content_subject", 1
                n += 1
                for v in VARIANTS[: rnd.randint(0, 3)]:
                    yield f"{sp}/{v}", "descriptor", rnd.randint(2, 4)
                    n += 1
                if n >= folders:
                    return


def write_synthetic(settings: StorageSettings, folders: int) -> tuple[int, int]:
    """The snapshot, its files, a prediction run and a 1 % label run; returns (folders, files)."""
    Databases.open(settings).dispose()
    con = sqlite3.connect(settings.index_db)
    con.execute("PRAGMA synchronous=OFF")
    rows = list(shape(folders))
    sid = con.execute(
        "INSERT INTO snapshots (root, started_at, finished_at, status, folder_count) VALUES (?,?,?,?,?)",
        ("/synthetic/library", time.time(), time.time(), "complete", len(rows) + 1),
    ).lastrowid
    ids = {"": con.execute(
        "INSERT INTO folders (snapshot_id, parent_id, rel_path, name, depth) VALUES (?, NULL, '', 'library', 0)", (sid,)
    ).lastrowid}
    frows = []
    for rel, _lab, nfiles in rows:
        parent = rel.rpartition("/")[0]
        fid = con.execute(
            "INSERT INTO folders (snapshot_id, parent_id, rel_path, name, depth, file_count) VALUES (?,?,?,?,?,?)",
            (sid, ids[parent], rel, rel.rpartition("/")[2], rel.count("/") + 1, nfiles),
        ).lastrowid
        ids[rel] = fid
        stem = rel.rpartition("/")[2].lower().replace(" ", "_")
        frows.extend((fid, f"{stem}_{i:02d}.webp", "webp", 1000) for i in range(nfiles))
    con.executemany("INSERT INTO files (folder_id, name, ext, size) VALUES (?,?,?,?)", frows)
    con.commit()
    con.close()
    _label(settings, sid, {rel: ids[rel] for rel, _l, _n in rows}, {rel: lab for rel, lab, _n in rows})
    return len(rows) + 1, len(frows)


def _label(settings: StorageSettings, sid: int, ids: dict[str, int], truth: dict[str, str]) -> None:
    import numpy as np

    con = sqlite3.connect(settings.training_db)
    con.execute("PRAGMA synchronous=OFF")
    pr = con.execute(
        "INSERT INTO prediction_runs (kind, snapshot_id, labels, created_at, status, labeled_only) "
        "VALUES ('finetuned', ?, ?, ?, 'complete', 0)",
        (sid, json.dumps(ORDER), time.time()),
    ).lastrowid
    probs = {lab: np.eye(len(ORDER), dtype=np.float32)[ORDER.index(lab)].tobytes() for lab in ORDER}
    con.executemany(
        "INSERT INTO predictions (prediction_run_id, folder_id, label, confidence, probs, abstained) VALUES (?,?,?,?,?,0)",
        ((pr, ids[rel], lab, 0.9, probs[lab]) for rel, lab in truth.items()),
    )
    run = con.execute(
        "INSERT INTO label_runs (created_at, labeler, source, snapshot_id) VALUES (?, 'bench', 'bench', ?)",
        (time.time(), sid),
    ).lastrowid
    con.executemany(
        "INSERT INTO labels (label_run_id, folder_id, snapshot_id, rel_path, label, updated_at) VALUES (?,?,?,?,?,?)",
        ((run, ids[rel], sid, rel, lab, time.time()) for i, (rel, lab) in enumerate(truth.items()) if i % 100 == 0),
    )
    con.commit()
    con.close()


def plan_inprocess(settings: StorageSettings, target: Path, out: Path) -> dict:
    from engine.organize.catalogue import build_catalogue
    from engine.organize.layout import propose
    from engine.organize.plan import write_plan

    t0 = time.perf_counter()
    cat = build_catalogue(settings)
    t1 = time.perf_counter()
    lay = propose(cat, target, settings=settings)
    t2 = time.perf_counter()
    n = write_plan(lay, cat.root, out)
    t3 = time.perf_counter()
    return {"catalogue_s": t1 - t0, "layout_s": t2 - t1, "csv_s": t3 - t2, "total_s": t3 - t0, "rows": n,
            "items": len(cat.items), "groups": len(cat.groups), "conflicts": len(lay.conflicts), "files": lay.files}


def make_tree(root: Path, files: int, per_folder: int) -> Path:
    lib = root / "library"
    if lib.exists():
        shutil.rmtree(lib)
    made = 0
    for rel, _lab, nfiles in shape(10**9, seed=11):
        d = lib / rel
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_folder if nfiles else 0):
            (d / f"{d.name.lower().replace(' ', '_')}_{i:02d}.webp").write_bytes(b"x" * 64)
            made += 1
        if made >= files:
            break
    return lib


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folders", type=int, default=100_000)
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--per-folder", type=int, default=20,
                    help="files per folder with files (the dev library has 19.6 on average)")
    ap.add_argument("--dir", default="/tmp/fsorg-organize-bench")
    a = ap.parse_args()
    work = Path(a.dir)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)

    # 1. plan
    settings = StorageSettings.from_storage_arg(work / "synthetic-data")
    t = time.perf_counter()
    nf, nfiles = write_synthetic(settings, a.folders)
    print(f"synthetic snapshot: {nf:,} folders, {nfiles:,} files (written in {time.perf_counter() - t:.1f} s)")
    r = plan_inprocess(settings, work / "synthetic-target", work / "plan-synthetic.csv")
    print(f"plan in-process: {r['total_s']:.2f} s (catalogue {r['catalogue_s']:.2f} s, layout {r['layout_s']:.2f} s, "
          f"CSV {r['csv_s']:.2f} s): {r['items']:,} items, {r['groups']:,} variant groups, {r['rows']:,} plan rows, "
          f"{r['conflicts']:,} conflicts")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t = time.perf_counter()
    p = subprocess.run([sys.executable, str(ROOT / "organizer.py"), "organize", "plan", "--storage",
                        str(settings.data_dir), "--target", str(work / "synthetic-target"), "--output",
                        str(work / "plan-cli.csv")], env=env, capture_output=True, text=True)
    print(f"plan as a CLI process: {time.perf_counter() - t:.2f} s (exit {p.returncode})")

    # 2. link-mode apply on real files
    from engine.organize.apply import apply_plan, undo
    from engine.organize.plan import read_plan
    from engine.scan.gather import gather

    lib = make_tree(work, a.files, a.per_folder)
    s2 = StorageSettings.from_storage_arg(work / "data")
    g = gather(str(lib), s2)
    Databases.open(s2).dispose()  # training.db with its tables
    con = sqlite3.connect(s2.index_db)
    ids = dict(con.execute("SELECT rel_path, id FROM folders WHERE snapshot_id = ? AND parent_id IS NOT NULL",
                           (g.snapshot_id,)).fetchall())
    con.close()
    truth = {rel: lab for rel, lab, _n in shape(len(ids), seed=11) if rel in ids}
    _label(s2, g.snapshot_id, {k: ids[k] for k in truth}, truth)
    r2 = plan_inprocess(s2, work / "organized", work / "plan.csv")
    plan = read_plan(work / "plan.csv")
    res = apply_plan(plan, work / "organized", "link", journal_dir=work / "journals")
    rate = res.done / res.seconds
    print(f"apply (link): {res.done:,} files, {res.dirs_made:,} folders in {res.seconds:.2f} s = {rate:,.0f} files/s "
          f"(plan of {g.folders:,} folders took {r2['total_s']:.2f} s)")
    u = undo(res.journal)
    print(f"undo: {u.restored:,} files, {u.dirs_removed:,} folders in {u.seconds:.2f} s = "
          f"{u.restored / u.seconds:,.0f} files/s")
    print(json.dumps({"plan_100k_s": round(r["total_s"], 2), "link_files_per_s": round(rate)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
