"""A small labelled TTRPG library on disk for the organize tests (not a test module).

``make_library(root)`` writes ~50 folders of real (small, distinct) files shaped like real
packs; ``scan_and_label(lib, storage)`` gathers it and stores a label for each folder
in ``LABELS`` as a user label run, plus a prediction run for the rest (one abstained).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

# path -> label (the user's); folders not listed get a model prediction (PREDICTED).
LABELS = {
    "Forgotten Adventures": "creator_or_studio",
    "Forgotten Adventures/Maps": "asset_type",
    "Forgotten Adventures/Maps/Fantasy Tavern": "content_subject",
    "Forgotten Adventures/Maps/Fantasy Tavern/Day": "descriptor",
    "Forgotten Adventures/Maps/Fantasy Tavern/Night": "descriptor",
    "Forgotten Adventures/Maps/Fantasy Tavern/Gridless": "descriptor",
    "Forgotten Adventures/Maps/Fantasy_Tavern_02": "content_subject",
    "Forgotten Adventures/Maps/FantasyTavern (Winter)": "content_subject",
    "Forgotten Adventures/Maps/Goblin Cave": "content_subject",
    "Forgotten Adventures/Maps/Chapter 1 - Harbor": "content_subject",
    "Forgotten Adventures/Maps/Chapter 2 - Harbor": "content_subject",
    "Forgotten Adventures/Tokens": "asset_type",
    "Forgotten Adventures/Tokens/Humanoids": "descriptor",
    "Forgotten Adventures/Tokens/Humanoids/Goblin": "content_subject",
    "Forgotten Adventures/Tokens/Humanoids/Goblin Large": "content_subject",
    "Forgotten Adventures/Tokens/Humanoids/Orc": "content_subject",
    "Czepeku": "creator_or_studio",
    "Czepeku/maps": "asset_type",
    "Czepeku/maps/arctic_expedition_45x87": "content_subject",
    "Czepeku/maps/arctic_expedition_45x87/gridded": "descriptor",
    "Czepeku/maps/arctic_expedition_45x87/gridless": "descriptor",
    "Czepeku/animated_maps": "asset_type",
    "Czepeku/animated_maps/arctic_expedition": "content_subject",
    "Czepeku/maps/03_tavern": "content_subject",
    "Czepeku/maps/03_tavern/02_tavern_winter": "descriptor",
    "Czepeku/maps/03_tavern/04_tavern_stage": "content_subject",
    "Loose Downloads": "other",
    "Loose Downloads/random map pack": "content_subject",
    "Loose Downloads/random map pack/forest": "descriptor",
    "Loose Downloads/random map pack/forest/Wolves Den v2": "content_subject",
    "Loose Downloads/random map pack/forest/Wolves Den v3": "content_subject",
}
# Folders with a model prediction only; 'abstained' ones are unknown.
PREDICTED = {
    "Mystery Pack": ("creator_or_studio", False),
    "Mystery Pack/stuff": ("other", True),  # abstained -> unknown
    "Mystery Pack/stuff/Crypt": ("content_subject", False),
}
# Folder -> number of files to put in it.
FILES = {
    "Forgotten Adventures/Maps/Fantasy Tavern": 2,
    "Forgotten Adventures/Maps/Fantasy Tavern/Day": 3,
    "Forgotten Adventures/Maps/Fantasy Tavern/Night": 3,
    "Forgotten Adventures/Maps/Fantasy Tavern/Gridless": 2,
    "Forgotten Adventures/Maps/Fantasy_Tavern_02": 2,
    "Forgotten Adventures/Maps/FantasyTavern (Winter)": 2,
    "Forgotten Adventures/Maps/Goblin Cave": 3,
    "Forgotten Adventures/Maps/Chapter 1 - Harbor": 2,
    "Forgotten Adventures/Maps/Chapter 2 - Harbor": 2,
    "Forgotten Adventures/Tokens/Humanoids/Goblin": 4,
    "Forgotten Adventures/Tokens/Humanoids/Goblin Large": 2,
    "Forgotten Adventures/Tokens/Humanoids/Orc": 3,
    "Czepeku/maps/arctic_expedition_45x87": 1,
    "Czepeku/maps/arctic_expedition_45x87/gridded": 2,
    "Czepeku/maps/arctic_expedition_45x87/gridless": 2,
    "Czepeku/animated_maps/arctic_expedition": 2,
    "Czepeku/maps/03_tavern": 1,
    "Czepeku/maps/03_tavern/02_tavern_winter": 2,
    "Czepeku/maps/03_tavern/04_tavern_stage": 2,
    "Loose Downloads/random map pack/forest/Wolves Den v2": 2,
    "Loose Downloads/random map pack/forest/Wolves Den v3": 2,
    "Loose Downloads": 1,
    "Mystery Pack/stuff/Crypt": 2,
    "Mystery Pack/stuff": 1,
}


def make_library(root: Path, extra_empty: int = 0) -> Path:
    """Write the library under ``root/library``; returns that folder."""
    lib = root / "library"
    for rel in [*LABELS, *PREDICTED]:
        (lib / rel).mkdir(parents=True, exist_ok=True)
    for rel, n in FILES.items():
        stem = Path(rel).name.replace(" ", "_").lower()
        for i in range(n):
            ext = ("jpg", "png", "webp", "webm")[i % 4]
            (lib / rel / f"{stem}_{i:02d}.{ext}").write_bytes(f"{rel}#{i}".encode() * (i + 3))
    for i in range(extra_empty):
        (lib / "Forgotten Adventures" / f"empty {i}").mkdir()
    return lib


def tree_digest(root: Path) -> dict[str, str]:
    """{relative path: sha1 of the content, or 'dir'} of everything under root."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for d in dirnames:
            out[os.path.normpath(os.path.join(rel_dir, d))] = "dir"
        for f in filenames:
            p = os.path.join(dirpath, f)
            out[os.path.normpath(os.path.join(rel_dir, f))] = hashlib.sha1(Path(p).read_bytes()).hexdigest()
    return out


def scan_and_label(lib: Path, storage: Path):
    """Gather ``lib`` into ``storage`` and store LABELS (user) and PREDICTED (a prediction run)."""
    from sqlalchemy import insert, select

    import engine.labels.runs as L
    from engine.core.settings import StorageSettings
    from engine.scan.gather import gather
    from engine.storage import Databases
    from engine.storage import schema as S

    settings = StorageSettings.from_storage_arg(storage)
    res = gather(str(lib), settings)
    dbs = Databases.open(settings)
    try:
        with dbs.index.connect() as c:
            ids = {
                r.rel_path: r.id
                for r in c.execute(
                    select(S.folders.c.id, S.folders.c.rel_path).where(S.folders.c.snapshot_id == res.snapshot_id)
                )
            }
        with dbs.training.begin() as conn:
            run = L.create_label_run(conn, labeler="test", source="test", snapshot_id=res.snapshot_id)
            L.set_labels(conn, run, [L.LabelRow(ids[p], res.snapshot_id, p, lab) for p, lab in LABELS.items()])
            order = ["creator_or_studio", "content_subject", "descriptor", "asset_type", "other", "unknown"]
            pr = conn.execute(
                insert(S.prediction_runs).values(
                    kind="finetuned", snapshot_id=res.snapshot_id, labels=json.dumps(order), created_at=time.time()
                )
            ).inserted_primary_key[0]
            rows = []
            for p, fid in ids.items():
                if not p:
                    continue
                lab, abst = PREDICTED.get(p, ("other", False))
                probs = np.full(len(order), 0.02, dtype=np.float32)
                probs[order.index(lab)] = 0.9
                rows.append(dict(prediction_run_id=pr, folder_id=fid, label=lab, confidence=0.9 if not abst else 0.3,
                                 probs=probs.tobytes(), abstained=abst))
            conn.execute(insert(S.predictions), rows)
    finally:
        dbs.dispose()
    return settings
