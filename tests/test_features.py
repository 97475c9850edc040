"""extract-features: name normalization, feature rows from a real scanned tree, idempotence,
cancel safety and the CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from engine.core.config import ExtractFeaturesConfig
from engine.core.jobs import Cancelled, UserError
from engine.core.settings import StorageSettings
from engine.core.text import name_flags, name_shape, normalize_name
from engine.features.extract import build_model_text, extract_features
from engine.scan.gather import gather
from engine.storage import Databases
from tests.conftest import run_cli

TREE = [
    "Tom Cartos/Maps/01_beach_town_31x46/beach_town_night.webp",
    "Tom Cartos/Maps/01_beach_town_31x46/beach_town_day.webp",
    "Tom Cartos/Maps/01_beach_town_31x46/notes.txt",
    "Tom Cartos/Maps/01_beach_town_31x46/03_beach_town_fog/fog.webp",
    "Tom Cartos/Maps/02_old_mill_various/mill.jpg",
    "Tom Cartos/Maps/harbour/harbour.png",
    "Tom Cartos/Maps/tavern/tavern.png",
    "Tom Cartos/Tokens/goblin.png",
    "Tom Cartos/Patreon Rewards/bonus.zip",
    "=cmd|' calc'!A0/x.png",
    "README.txt",
]


def make_tree(root: Path, files: list[str]) -> Path:
    for rel in files:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
    return root


@pytest.fixture
def scanned(tmp_path):
    lib = make_tree(tmp_path / "library", TREE)
    settings = StorageSettings.from_storage_arg(tmp_path / "data")
    g = gather(lib, settings)
    dbs = Databases.open(settings)
    yield dbs, g.snapshot_id
    dbs.dispose()


def _rows(dbs: Databases, snapshot_id: int) -> dict[str, dict]:
    with dbs.training.connect() as c:
        res = c.exec_driver_sql(
            "SELECT * FROM folder_features WHERE snapshot_id = ? ORDER BY folder_id", (snapshot_id,)
        )
        cols = list(res.keys())
        return {r[cols.index("rel_path")]: dict(zip(cols, r)) for r in res.fetchall()}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("01_inn", "inn"),
        ("07.2 SC Short Core Geomorphs", "short core geomorphs"),
        ("04 Sh Short Geomorphs", "short geomorphs"),
        ("beach_town_31x46", "beach town"),
        ("airships!_various", "airships"),
        ("BattlemapsOfTheFrostmaiden", "battlemaps of the frostmaiden"),
        ("town_webp", "town"),
        ("Forest Camp webp", "forest camp"),
        ("100x100 Core", "100x100 core"),
        ("2023", "2023"),
        ("Chapter 1 - Ten-Towns", "chapter 1 ten towns"),
        ("Ship's Locker", "ships locker"),
        ("D&D-maps", "dnd maps"),
        ("pf2e-free-rpg-day", "pf2e free rpg day"),
        ("quaint_village_school_30x48_$5_rewards", "quaint village school $5 rewards"),
        ("floor_2", "floor 2"),
    ],
)
def test_normalize_name(name, expected):
    assert normalize_name(name).text == expected


def test_normalize_records_what_it_removed():
    n = normalize_name("03_beach_town_31x46_various_webp")
    assert (n.text, n.order_prefix, n.dims, n.various, n.format_suffix) == (
        "beach town",
        "03",
        ("31x46",),
        True,
        "webp",
    )
    assert normalize_name("100x100 Core").dims_leading
    flags = name_flags("Chapter 2", normalize_name("Chapter 2"))
    assert flags["chapter_number"] == 2 and flags["bare_chapter"] is True
    assert name_flags("2023", normalize_name("2023"))["year"] is True
    assert name_flags("x_$5_rewards", normalize_name("x_$5_rewards"))["reward"] is True
    assert name_flags("map v2", normalize_name("map v2"))["version"] is True
    assert name_shape("beach_town_31x46") == "snake+dims"
    assert name_shape("01 Forest") == "spaced+num"


def test_extract_rows_have_every_feature(scanned):
    dbs, sid = scanned
    res = extract_features(dbs, sid)
    rows = _rows(dbs, sid)
    with dbs.index.connect() as c:
        n_folders = c.exec_driver_sql("SELECT count(*) FROM folders WHERE snapshot_id=?", (sid,)).scalar()
    assert res.folders == n_folders == len(rows)
    beach = rows["Tom Cartos/Maps/01_beach_town_31x46"]
    assert beach["name"] == "01_beach_town_31x46"
    assert beach["norm_name"] == "beach town"
    assert beach["depth"] == 3
    assert beach["parent_name"] == "Maps" and beach["grandparent_name"] == "Tom Cartos"
    assert json.loads(beach["children"]) == ["03_beach_town_fog"]
    assert json.loads(beach["siblings"]) == ["02_old_mill_various", "harbour", "tavern"]
    assert json.loads(beach["top_exts"]) == [["webp", 2], ["txt", 1]]
    assert (beach["file_count"], beach["subfolder_count"]) == (3, 1)
    flags = json.loads(beach["flags"])
    assert flags["dims"] is True and flags["order_prefix"] is True and flags["images"] == 2
    assert beach["model_text"].startswith("beach town | in: maps < tom cartos | has: beach town fog")
    assert "2 webp" in beach["model_text"]
    assert beach["heuristic_label"] in {"content_subject"} and beach["heuristic_rule"]
    assert 0 < beach["heuristic_confidence"] <= 1
    # The fog variant of the map named by its parent is a descriptor; the rest is plausible.
    assert rows["Tom Cartos/Maps/01_beach_town_31x46/03_beach_town_fog"]["heuristic_label"] == "descriptor"
    assert rows["Tom Cartos/Maps"]["heuristic_label"] == "asset_type"
    assert rows["Tom Cartos/Patreon Rewards"]["heuristic_label"] == "other"
    assert rows["Tom Cartos"]["heuristic_label"] == "creator_or_studio"
    root = rows[""]
    assert root["depth"] == 0 and root["parent_name"] is None
    # A formula-looking folder name is stored verbatim (the CSV writer makes it inert).
    assert "=cmd|' calc'!A0" in rows


def test_caps_are_respected(tmp_path):
    lib = make_tree(
        tmp_path / "lib",
        [
            f"big/child_{i:03d}/f{i % 7}.{['png', 'jpg', 'webp', 'txt', 'pdf', 'mp4', 'json'][i % 7]}"
            for i in range(40)
        ],
    )
    for i in range(9):
        (lib / "big" / f"x.{i}ext").write_bytes(b"")
    settings = StorageSettings.from_storage_arg(tmp_path / "data")
    sid = gather(lib, settings).snapshot_id
    dbs = Databases.open(settings)
    try:
        extract_features(dbs, sid, ExtractFeaturesConfig(child_cap=3, sibling_cap=4, ext_cap=2, batch_size=7))
        rows = _rows(dbs, sid)
    finally:
        dbs.dispose()
    big = rows["big"]
    assert json.loads(big["children"]) == ["child_000", "child_001", "child_002"]
    assert len(json.loads(big["top_exts"])) == 2
    mid = rows["big/child_020"]
    sibs = json.loads(mid["siblings"])
    assert len(sibs) == 4 and "child_020" not in sibs
    assert sibs == ["child_018", "child_019", "child_021", "child_022"]  # nearest in name order
    assert len(rows) == 42


def test_rerun_is_idempotent(scanned):
    dbs, sid = scanned
    extract_features(dbs, sid)
    first = _rows(dbs, sid)
    extract_features(dbs, sid, ExtractFeaturesConfig(batch_size=2))
    assert _rows(dbs, sid) == first


def test_cancel_leaves_previous_rows(scanned):
    dbs, sid = scanned
    extract_features(dbs, sid)
    before = _rows(dbs, sid)
    calls = {"n": 0}

    def stop_during_save() -> bool:
        calls["n"] += 1
        return calls["n"] > 6  # late: inside the write transaction

    with pytest.raises(Cancelled):
        extract_features(dbs, sid, ExtractFeaturesConfig(batch_size=1), should_stop=stop_during_save)
    assert _rows(dbs, sid) == before
    with pytest.raises(Cancelled):
        extract_features(dbs, sid, should_stop=lambda: True)
    assert _rows(dbs, sid) == before


def test_progress_reaches_one(scanned):
    dbs, sid = scanned
    seen: list[float] = []
    extract_features(dbs, sid, progress=lambda f, m: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)


def test_no_snapshot_is_a_user_error(tmp_path):
    dbs = Databases.open(StorageSettings.from_storage_arg(tmp_path / "data"))
    try:
        with pytest.raises(UserError, match="gather"):
            extract_features(dbs, None)
        with pytest.raises(UserError, match="no snapshot 7"):
            extract_features(dbs, 7)
    finally:
        dbs.dispose()


def test_model_text_is_short():
    text = build_model_text("x" * 50, "p" * 200, "g" * 200, ["c"] * 10, [("png", 3)], 3)
    assert len(text) <= 300
    assert build_model_text("inn", None, None, [], [], 0) == "inn | empty"


def test_cli_extract_features(tmp_path):
    lib = make_tree(tmp_path / "library", TREE)
    data = tmp_path / "data"
    assert run_cli("gather", str(lib), "--storage", str(data)).returncode == 0
    r = run_cli("model", "extract-features", "--storage", str(data))
    assert r.returncode == 0, r.stderr
    assert "Extracted features of" in r.stdout and "folders/s" in r.stdout
    con = sqlite3.connect(data / "training.db")
    assert con.execute("SELECT count(*) FROM folder_features").fetchone()[0] == 11
    con.close()
    bad = run_cli("model", "extract-features", "--storage", str(data), "--snapshot-id", "99")
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr
