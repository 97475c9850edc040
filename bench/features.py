"""Benchmark: feature extraction (+ heuristic) throughput on a 100,000-folder snapshot.

Usage::

    .venv/bin/python bench/features.py [--folders 100000] [--files-per-folder 4] [--data DIR] [--rebuild]

Builds (once, then reuses) a synthetic but library-shaped snapshot in ``DIR/index.db``
(creators > packs > maps/tokens/props > map folders with variants, names with ordering
prefixes, grid sizes and ``_various``), then runs :func:`engine.features.extract.extract_features`
twice (the second run measures the idempotent replace) and prints folders/s, then times
generate-samples (200 of all folders).
The snapshot is written with plain ``sqlite3`` so building it does not dominate the run.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.core.config import GenerateSamplesConfig  # noqa: E402
from engine.core.settings import StorageSettings  # noqa: E402
from engine.features.extract import extract_features  # noqa: E402
from engine.samples.picking import generate_samples  # noqa: E402
from engine.storage import Databases  # noqa: E402

WORDS = (
    "ancient dragon lair tavern harbour old mill crypt forest temple sunken city goblin camp "
    "pirate cove wizard tower frozen lake desert oasis haunted manor dwarven forge elven grove "
    "sewer tunnels bandit hideout royal palace market square lighthouse swamp shrine"
).split()
VARIANTS = ["night", "winter", "fog", "rain", "autumn", "sunset", "original", "snow", "flooded"]
ASSETS = ["maps", "tokens", "props", "tiles", "assets", "scenes", "audio", "art", "handouts"]
EXTS = ["webp", "png", "jpg", "dungeondraft_map", "json", "txt", "mp4", "pdf"]


def _name(rng: random.Random) -> str:
    words = rng.sample(WORDS, rng.randint(1, 3))
    style = rng.random()
    if style < 0.4:
        base = "_".join(words) + f"_{rng.randint(10, 60)}x{rng.randint(10, 60)}"
    elif style < 0.6:
        base = " ".join(w.capitalize() for w in words)
    elif style < 0.8:
        base = "-".join(words)
    else:
        base = f"{rng.randint(1, 20):02d}_" + "_".join(words)
    return base


def build_snapshot(settings: StorageSettings, n_folders: int, files_per_folder: int, seed: int = 0) -> int:
    """Write a complete synthetic snapshot of ``n_folders`` folders; returns its id."""
    Databases.open(settings).dispose()  # create the schema through the migrations
    rng = random.Random(seed)
    con = sqlite3.connect(settings.index_db)
    con.execute("PRAGMA journal_mode=WAL")
    now = time.time()
    sid = con.execute(
        "INSERT INTO snapshots (root, started_at, status) VALUES (?, ?, 'running')", ("/bench/library", now)
    ).lastrowid
    base = (con.execute("SELECT max(id) FROM folders").fetchone()[0] or 0) + 1
    folders: list[tuple] = []
    files: list[tuple] = []
    next_id = base

    def add(parent: int | None, parent_rel: str, name: str, depth: int, n_files: int) -> int:
        nonlocal next_id
        fid = next_id
        next_id += 1
        rel = "" if depth == 0 else (f"{parent_rel}/{name}" if parent_rel else name)
        for k in range(n_files):
            ext = rng.choice(EXTS)
            files.append((fid, f"{name}_{k}.{ext}", ext, rng.randint(1000, 5_000_000)))
        folders.append((fid, sid, parent, rel, name, depth, n_files, 0, 0))
        return fid

    root = add(None, "", "library", 0, 0)
    creator_i = 0
    while len(folders) < n_folders:
        creator_i += 1
        cname = f"Creator {creator_i} Studio" if creator_i % 3 else f"creator{creator_i}-free-maps"
        c = add(root, "", cname, 1, 0)
        crel = cname
        for p in range(rng.randint(2, 6)):
            pname = f"Pack {p + 1} " + _name(rng)
            pk = add(c, crel, pname, 2, rng.randint(0, 2))
            prel = f"{crel}/{pname}"
            for a in rng.sample(ASSETS, rng.randint(1, 3)):
                ak = add(pk, prel, a, 3, 0)
                arel = f"{prel}/{a}"
                for _ in range(rng.randint(3, 25)):
                    mname = _name(rng)
                    m = add(ak, arel, mname, 4, rng.randint(0, files_per_folder * 2))
                    mrel = f"{arel}/{mname}"
                    for v in rng.sample(VARIANTS, rng.randint(0, 3)):
                        add(m, mrel, f"{mname.split('_')[0]}_{v}", 5, rng.randint(1, files_per_folder * 2))
                    if len(folders) >= n_folders:
                        break
                if len(folders) >= n_folders:
                    break
            if len(folders) >= n_folders:
                break
    # Fill subfolder counts.
    kids: dict[int, int] = {}
    for f in folders:
        if f[2] is not None:
            kids[f[2]] = kids.get(f[2], 0) + 1
    folders = [f[:7] + (kids.get(f[0], 0), 0) for f in folders]
    with con:
        con.executemany(
            "INSERT INTO folders (id, snapshot_id, parent_id, rel_path, name, depth, file_count, "
            "subfolder_count, total_size) VALUES (?,?,?,?,?,?,?,?,?)",
            folders,
        )
        con.executemany("INSERT INTO files (folder_id, name, ext, size) VALUES (?,?,?,?)", files)
        con.execute(
            "UPDATE snapshots SET status='complete', finished_at=?, folder_count=?, file_count=? WHERE id=?",
            (time.time(), len(folders), len(files), sid),
        )
    con.close()
    return sid


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folders", type=int, default=100_000)
    ap.add_argument("--files-per-folder", type=int, default=4)
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "fsorg-bench-features", "data"))
    ap.add_argument("--rebuild", action="store_true", help="build a new snapshot even if one exists")
    args = ap.parse_args()
    settings = StorageSettings.from_storage_arg(args.data)
    settings.ensure()

    sid = None
    if settings.index_db.exists() and not args.rebuild:
        con = sqlite3.connect(settings.index_db)
        row = con.execute(
            "SELECT id FROM snapshots WHERE status='complete' AND folder_count=? ORDER BY id DESC LIMIT 1",
            (args.folders,),
        ).fetchone()
        con.close()
        sid = row[0] if row else None
    if sid is None:
        t = time.perf_counter()
        sid = build_snapshot(settings, args.folders, args.files_per_folder)
        print(f"built snapshot {sid} ({args.folders:,} folders) in {time.perf_counter() - t:.1f} s")
    else:
        print(f"reusing snapshot {sid} in {settings.index_db}")
    con = sqlite3.connect(settings.index_db)
    n_files = con.execute(
        "SELECT count(*) FROM files f JOIN folders d ON d.id=f.folder_id WHERE d.snapshot_id=?", (sid,)
    ).fetchone()[0]
    con.close()

    dbs = Databases.open(settings)
    try:
        for label in ("first run", "re-run (replace)"):
            r = extract_features(dbs, sid)
            print(
                f"extract-features {label}: {r.folders:,} folders ({n_files:,} files) in {r.seconds:.2f} s "
                f"= {r.folders_per_second:,.0f} folders/s"
            )
        out = Path(tempfile.gettempdir()) / "fsorg-bench-samples.csv"
        t = time.perf_counter()
        res = generate_samples(dbs, sid, out, GenerateSamplesConfig(sample_size=200))
        print(
            f"generate-samples: {res.rows} of {res.candidates:,} candidates in {time.perf_counter() - t:.2f} s"
        )
    finally:
        dbs.dispose()
    print(f"(load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
