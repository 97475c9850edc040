"""The heuristic: transparent rules driven by config/heuristics, measured on the dev library
(Macro F1 >= 0.55) and checked on a tree from other, made-up creators."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from engine.core.config import repo_config_dir
from engine.core.jobs import UserError
from engine.core.settings import StorageSettings
from engine.core.taxonomy import label_names
from engine.evaluation.report import compute_report
from engine.features.extract import extract_features
from engine.features.heuristics import FolderInput, Heuristic, Vocabulary, default_vocabulary
from engine.scan.gather import gather
from engine.storage import Databases
from tests.conftest import DEV_LABELS, read_labels


def tree_inputs(
    paths: list[str], files: dict[str, int] | None = None
) -> tuple[list[FolderInput], dict[str, int]]:
    """FolderInputs for a list of folder paths (parents are added), root at index 0."""
    files = files or {}
    all_paths = {""}
    for p in paths:
        parts = p.split("/")
        for i in range(1, len(parts) + 1):
            all_paths.add("/".join(parts[:i]))
    ordered = sorted(all_paths, key=lambda p: (p.count("/") if p else -1, p))
    idx = {p: i for i, p in enumerate(ordered)}
    out = []
    for p in ordered:
        parent = None if p == "" else idx[p.rsplit("/", 1)[0] if "/" in p else ""]
        n = files.get(p, 0)
        out.append(
            FolderInput(
                name=p.rsplit("/", 1)[-1] if p else "library",
                depth=0 if p == "" else p.count("/") + 1,
                parent=parent,
                file_count=n,
                image_files=n,
            )
        )
    for i, f in enumerate(out):
        if f.parent is not None:
            out[f.parent].children.append(i)
    return out, idx


@pytest.mark.parametrize(
    ("name", "parent", "label", "rule_prefix"),
    [
        ("misc", "maps", "other", "other:"),
        ("celestial_gate_34x51_bonus", "maps", "other", "other:org_marker"),
        ("quaint_school_30x48_$5_rewards", "maps", "other", "other:price_tier"),
        ("2023", "maps", "other", "other:number_or_date"),
        ("Chapter 2", "book", "other", "other:bare_chapter"),
        ("__MACOSX", None, "other", "other:"),
        ("Tokens", "Some Pack", "asset_type", "asset_type:asset_word"),
        ("animated_maps", "x", "asset_type", "asset_type:asset_word"),
        ("pack_1", "x", "asset_type", "asset_type:asset_word"),
        ("tavern_tokens", "tavern_30x30", "asset_type", "asset_type:companion_folder"),
        ("cattoken", "saloon", "asset_type", "asset_type:companion_folder"),
        ("cannon_tokens", "ocean_tokens", "content_subject", "subject:item_in_asset_folder"),
        ("forest", "maps", "descriptor", "descriptor:"),
        ("Random Encounters", "book", "descriptor", "descriptor:"),
        ("winter", "inn", "descriptor", "descriptor:variant"),
        ("03_barn_sunset", "01_barn", "descriptor", "descriptor:variant_of_parent"),
        ("02_barn_missing_sheep", "01_barn", "content_subject", "subject:"),
        ("pathfinder", "library", "descriptor", "descriptor:game_system"),
        ("dnd-maps", None, "descriptor", "descriptor:game_system"),
        ("02 LG Long Geomorphs", "Geomorphs", "descriptor", "descriptor:shape_class"),
        ("100x100 Core", "Tiles", "descriptor", "descriptor:size_class"),
        ("pngs", "papermini", "descriptor", "descriptor:file_format"),
        ("beach_town_31x46", "maps", "content_subject", "subject:map_with_grid_size"),
        ("Owlbear Den", "maps", "content_subject", "subject:"),
        ("zahi-cartography-free-maps", None, "creator_or_studio", "creator:studio_word"),
        ("Forgotten-Adventures", "Library", "creator_or_studio", "creator:known_name"),
        ("tmp", "x", "unknown", "unknown:"),
        ("Tom Cartos Patreon", None, "creator_or_studio", "creator:known_name"),
        ("Patreon Rewards", "Tom Cartos", "other", "other:org_marker"),
        ("mill_interior", "bone_mill", "content_subject", "subject:"),
    ],
)
def test_rules(name, parent, label, rule_prefix):
    g = Heuristic().classify_name(name, parent)
    assert (g.label, g.rule[: len(rule_prefix)]) == (label, rule_prefix), g
    assert 0.0 < g.confidence <= 1.0
    assert g.label in label_names()


def test_structure_rules():
    inputs, idx = tree_inputs(
        [
            "Gage Eakins/some-module-id/maps",
            "acme-free-token-collection/token",
            "brightwater/maps",
            "brightwater/tokens",
            "brightwater/scenes",
            "The Lost Crown of Embers/maps",
            "maps/towns",
            "maps/trails",
            "maps/schools",
            "maps/crypt",
            "Ice Maps/harbour",
            "Ice Maps/old-mill",
            "Ice Maps/tavern",
            "Ice Maps/desert",
            "CustomTiles/Custom Tiles",
        ],
        files={"Ice Maps/harbour": 2, "Ice Maps/old-mill": 3, "Ice Maps/tavern": 1, "Ice Maps/desert": 2},
    )
    guesses = Heuristic().classify_all(inputs)
    got = {p: guesses[i] for p, i in idx.items()}
    assert got["Gage Eakins"].rule == "creator:folder_of_projects"
    assert got["acme-free-token-collection"].rule == "creator:brand_with_generic_words"
    assert got["brightwater"].rule == "creator:folder_of_asset_types"
    assert got["The Lost Crown of Embers"].label == "content_subject"  # a title, not a maker
    assert got["maps/crypt"].label == "descriptor"  # a category among categories
    assert got["Ice Maps/tavern"].label == "content_subject"
    assert got["Ice Maps/desert"].rule == "subject:leaf_among_maps"  # a leaf map among map folders
    assert got["CustomTiles/Custom Tiles"].label == got["CustomTiles"].label == "asset_type"


def test_other_creators_library():
    """A library from made-up creators with other naming habits: the rules are not dev-specific."""
    expected = {
        "Moonfall Cartography": "creator_or_studio",
        "Moonfall Cartography/Battlemaps": "asset_type",
        "Moonfall Cartography/Battlemaps/Sunken Temple [30x30]": "content_subject",
        "Moonfall Cartography/Battlemaps/Sunken Temple [30x30]/Night": "descriptor",
        "Moonfall Cartography/Battlemaps/Sunken Temple [30x30]/Flooded": "descriptor",
        "Moonfall Cartography/Battlemaps/Swamp": "descriptor",
        "Moonfall Cartography/Battlemaps/Swamp/Witch Hut": "content_subject",
        "Moonfall Cartography/Tokens": "asset_type",
        "Moonfall Cartography/Tokens/Undead": "descriptor",
        "Moonfall Cartography/Tokens/Undead/Skeleton Archer": "content_subject",
        "Moonfall Cartography/Patreon Exclusive": "other",
        "Hollowmere Games": "creator_or_studio",
        "Hollowmere Games/Sci-Fi": "descriptor",
        "Hollowmere Games/Sci-Fi/Derelict Freighter_gridless": "content_subject",
        "Pathfinder 2e": "descriptor",
        "Misc": "other",
        "2021": "other",
        "__MACOSX": "other",
        "Dungeon Tiles": "asset_type",
        "Dungeon Tiles/Corridors": "content_subject",
        "Handouts": "asset_type",
        "Jane Doe": "creator_or_studio",
        "Jane Doe/the-ashen-crypt-of-velm": "content_subject",
        "Jane Doe/the-ashen-crypt-of-velm/maps": "asset_type",
        "Sunken Temple": "content_subject",
        "Sunken Temple/sunken_temple_level_1": "content_subject",
        "Sunken Temple/sunken_temple_level_2": "content_subject",
    }
    inputs, idx = tree_inputs(list(expected), files={p: 3 for p in expected if p.count("/") >= 2})
    guesses = Heuristic().classify_all(inputs)
    wrong = {p: (lab, guesses[idx[p]]) for p, lab in expected.items() if guesses[idx[p]].label != lab}
    # The heuristic is a first guess, not an oracle: allow at most two misses here.
    assert len(wrong) <= 2, wrong


def test_keyword_lists_are_data(tmp_path):
    folder = tmp_path / "heuristics"
    shutil.copytree(repo_config_dir() / "heuristics", folder)
    assert Heuristic(Vocabulary.load(folder)).classify_name("Zorblax", "maps").label == "content_subject"
    data = json.loads((folder / "descriptors.json").read_text(encoding="utf-8"))
    data["settings"].append("zorblax")
    (folder / "descriptors.json").write_text(json.dumps(data), encoding="utf-8")
    assert Heuristic(Vocabulary.load(folder)).classify_name("Zorblax", "maps").label == "descriptor"
    creators = json.loads((folder / "creators.json").read_text(encoding="utf-8"))
    creators["known_creators"].append("Quill & Compass")
    (folder / "creators.json").write_text(json.dumps(creators), encoding="utf-8")
    g = Heuristic(Vocabulary.load(folder)).classify_name("quill-and-compass-maps", None)
    assert g.label == "creator_or_studio"
    assert (
        Heuristic(Vocabulary.load(folder, use_known_creators=False))
        .classify_name("quill-and-compass-maps", None)
        .label
        != "creator_or_studio"
    )


@pytest.mark.parametrize(
    ("filename", "content", "match"),
    [
        ("descriptors.json", "{not json", "cannot read"),
        ("descriptors.json", '["a list"]', "JSON object"),
        ("descriptors.json", '{"biomes": ["x"]}', "unknown list 'biomes'"),
        ("descriptors.json", '{"settings": "forest"}', "list of strings"),
    ],
)
def test_bad_keyword_file_is_a_user_error(tmp_path, filename, content, match):
    folder = tmp_path / "heuristics"
    folder.mkdir()
    (folder / filename).write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=match):
        Vocabulary.load(folder)


def _dev_reports(dev_library: Path, tmp_path: Path, use_known_creators: bool):
    """The heuristic's report on the carried library: (whole set, its ttrpg-dev part)."""
    settings = StorageSettings.from_storage_arg(tmp_path / "data")
    sid = gather(dev_library, settings).snapshot_id
    dbs = Databases.open(settings)
    try:
        extract_features(
            dbs, sid, heuristic=Heuristic(default_vocabulary(use_known_creators=use_known_creators))
        )
        with dbs.training.connect() as c:
            guessed = dict(
                c.exec_driver_sql("SELECT rel_path, heuristic_label FROM folder_features").fetchall()
            )
    finally:
        dbs.dispose()
    with open(DEV_LABELS, encoding="utf-8-sig", newline="") as fh:
        gold = [(r["path"], r["label"], r["source"]) for r in csv.DictReader(fh)]
    assert all(p in guessed for p, _, _ in gold)

    def report(rows):
        return compute_report([lab for _, lab, _ in rows], [guessed[p] for p, _, _ in rows], label_names())

    return report(gold), report([g for g in gold if g[2] == "ttrpg-dev"])


# The keyword lists were written with the ttrpg-dev folder names in view (about 0.8 Macro F1 on
# that part of the carried set); the ttrpg-dev2 part (users' own Foundry folders, other languages)
# is much harder for them (about 0.35), and the whole set lands near 0.55. The bars below are
# regression guards with some room, not the measured figures.


def test_dev_library_macro_f1(dev_library, tmp_path):
    report, dev_part = _dev_reports(dev_library, tmp_path, use_known_creators=True)
    print(report.format_text("HEURISTIC ON THE CARRIED LIBRARY"))
    assert report.n == len(read_labels())
    assert report.macro_f1 >= 0.45
    assert dev_part.macro_f1 >= 0.7
    # Every rare class is found at all (Macro F1 lives on them).
    for label in ("creator_or_studio", "descriptor", "asset_type", "other"):
        assert report.per_class[label].f1 >= 0.4, label
        assert dev_part.per_class[label].f1 >= 0.5, label


def test_dev_library_without_known_creators(dev_library, tmp_path):
    """The structural rules alone (no creator names) still clear the bar."""
    report, dev_part = _dev_reports(dev_library, tmp_path, use_known_creators=False)
    assert report.macro_f1 >= 0.45
    assert dev_part.macro_f1 >= 0.7
