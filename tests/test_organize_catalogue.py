"""Catalogue, variant groups and the proposed layout on a real labelled library in tmp_path."""

from __future__ import annotations

import json

import pytest

from engine.core.jobs import UserError
from engine.organize import variants as V
from engine.organize.catalogue import build_catalogue
from engine.organize.layout import check_template, propose, safe_name
from engine.organize.plan import read_plan, write_plan
from tests.conftest import run_cli
from tests.organize_lib import make_library, scan_and_label


@pytest.fixture()
def lib(tmp_path):
    root = make_library(tmp_path)
    settings = scan_and_label(root, tmp_path / "data")
    return root, settings


def _by_path(cat):
    return {it.path: it for it in cat.items}


def test_parse_takes_out_variant_words_with_their_rules():
    cases = {
        "Fantasy_Tavern_01": ("fantasy tavern", ("numbered",)),
        "fantasy tavern 1": ("fantasy tavern", ("numbered",)),
        "Fantasy Tavern (Night Version)": ("fantasy tavern", ("time of day",)),
        "FantasyTavern_Day_02": ("fantasy tavern", ("time of day", "numbered")),
        "arctic_expedition_45x87": ("arctic expedition", ("size",)),
        "02_tavern_winter": ("tavern", ("season",)),
        "Map Gridless 4K": ("map", ("grid", "size")),
        "Wolves Den v2": ("wolves den", ("version",)),
        "Small Craft": ("small craft", ()),  # a name, not a size
        "Chapter 2 - Harbor": ("chapter 2 harbor", ()),  # enumerates distinct content
    }
    for name, (base, rules) in cases.items():
        p = V.parse(name)
        assert (p.base, p.rules) == (base, rules), name
    assert V.is_variant_name("Gridless") == "grid"
    assert V.is_variant_name("Night") == "time of day"
    assert V.is_variant_name("Harbor") is None


def test_group_joins_spellings_and_forms_but_not_distinct_content():
    names = ["Fantasy_Tavern_01", "fantasy tavern 1", "Fantasy Tavern (Night Version)", "FantasyTavern_Day_02",
             "Goblin Cave", "Goblin Caves", "Chapter 1", "Chapter 2", "Orc", "Owlbear"]
    groups = V.group(list(enumerate(names)))
    members = [sorted(g.members) for g in groups]
    assert members == [[0, 1, 2, 3], [4, 5]]
    assert "time of day" in groups[0].rule and "numbered" in groups[0].rule
    assert groups[1].rule.startswith("similar")
    assert groups[0].display == "Fantasy Tavern"


def test_catalogue_creator_type_tags_and_label_precedence(lib):
    _root, settings = lib
    cat = build_catalogue(settings)
    items = _by_path(cat)
    tav = items["Forgotten Adventures/Maps/Fantasy Tavern"]
    assert (tav.creator, tav.asset_types, tav.kind) == ("Forgotten Adventures", ["Maps"], "subject")
    assert set(tav.tags) >= {"Day", "Night", "Gridless"}
    assert {r for _n, r in tav.folder_variants} == {"time of day", "grid"}
    assert tav.files == 2 + 3 + 3 + 2 and tav.source == "user"  # the prediction ('other') lost
    goblin = items["Forgotten Adventures/Tokens/Humanoids/Goblin"]
    assert goblin.asset_types == ["Tokens"] and goblin.tags == ["Humanoids"]
    # A prediction counts where there is no label; an abstained one is listed, never guessed.
    crypt = items["Mystery Pack/stuff/Crypt"]
    assert crypt.source == "model" and crypt.creator == "Mystery Pack"
    assert any("abstained" in n for n in crypt.notes)
    stuff = items["Mystery Pack/stuff"]
    assert (stuff.kind, stuff.status) == ("folder", "abstained")
    loose = items["Loose Downloads"]
    assert loose.kind == "folder" and loose.creator is None
    # Every file belongs to exactly one item.
    assert sum(it.files for it in cat.items) == sum(f.files for f in cat.folders.values())


def test_variant_groups_record_their_rule(lib):
    _root, settings = lib
    cat = build_catalogue(settings)
    items = _by_path(cat)
    gid = items["Forgotten Adventures/Maps/Fantasy Tavern"].group
    assert gid is not None
    g = cat.group_of(items["Forgotten Adventures/Maps/Fantasy Tavern"])
    names = {cat.folders[m].name for m in g.members}
    assert names == {"Fantasy Tavern", "Fantasy_Tavern_02", "FantasyTavern (Winter)"}
    assert "season" in g.rule and "numbered" in g.rule
    # static and animated map of one place: one group, joined across asset types
    arctic = cat.group_of(items["Czepeku/maps/arctic_expedition_45x87"])
    assert arctic is not None and "asset type" in arctic.rule and "size" in arctic.rule
    # a nested subject that extends its parent's name is its variant
    stage = items["Czepeku/maps/03_tavern/04_tavern_stage"]
    assert stage.group == items["Czepeku/maps/03_tavern"].group and "extends parent" in cat.group_of(stage).rule
    assert items["Loose Downloads/random map pack/forest/Wolves Den v2"].group is not None
    # distinct content stays apart
    assert items["Forgotten Adventures/Maps/Chapter 1 - Harbor"].group is None
    assert items["Forgotten Adventures/Tokens/Humanoids/Orc"].group is None


def test_layout_default_template(lib, tmp_path):
    root, settings = lib
    cat = build_catalogue(settings)
    lay = propose(cat, tmp_path / "new", settings=settings)
    t = {p.source: p.target for p in lay.placements}
    assert t["Forgotten Adventures/Maps/Fantasy Tavern/Night"] == "Forgotten Adventures/Maps/Fantasy Tavern/Night"
    assert t["Forgotten Adventures/Maps/FantasyTavern (Winter)"] == "Forgotten Adventures/Maps/Fantasy Tavern/Winter"
    assert t["Forgotten Adventures/Maps/Fantasy_Tavern_02"] == "Forgotten Adventures/Maps/Fantasy Tavern/02"
    assert t["Czepeku/maps/03_tavern/04_tavern_stage"] == "Czepeku/maps/tavern/Stage"
    assert t["Loose Downloads"].startswith("_unknown creator/_unknown type/")
    assert len(set(t.values())) == len(t)  # no two folders to one path
    assert lay.files == sum(f.files for f in cat.folders.values())


def test_conflicts_are_found_and_resolved_deterministically(lib, tmp_path):
    _root, settings = lib
    cat = build_catalogue(settings)
    # {creator}/{variant} sends every plain item of a creator to one folder
    lay = propose(cat, tmp_path / "new", "{creator}/{item}:{first_tag}/{variant}", settings=settings)
    kinds = {c.kind for c in lay.conflicts}
    assert "bad_name" in kinds  # ':' is refused on Windows
    assert all(":" not in p.target for p in lay.placements)
    lay2 = propose(cat, tmp_path / "new", "{creator}/{asset_type}/{item}/{variant}", settings=settings)
    same = [c for c in lay2.conflicts if c.kind == "same_target"]
    targets = [p.target.casefold() for p in lay2.placements]
    assert len(set(targets)) == len(targets)
    again = propose(cat, tmp_path / "new", "{creator}/{asset_type}/{item}/{variant}", settings=settings)
    assert [p.target for p in again.placements] == [p.target for p in lay2.placements]  # deterministic
    # too long: a tiny limit shortens components with a stable hash
    short = propose(cat, tmp_path / "new", settings=settings, max_path=len(str(tmp_path / "new")) + 60)
    assert any(c.kind in ("too_long", "unresolved") for c in short.conflicts)
    # an existing, non-empty target folder is never written into
    occupied = tmp_path / "new" / "Czepeku" / "animated_maps" / "arctic_expedition"
    occupied.mkdir(parents=True)
    (occupied / "mine.txt").write_text("not fsorg's")
    lay3 = propose(cat, tmp_path / "new", settings=settings)
    hit = [c for c in lay3.conflicts if c.kind == "exists"]
    assert hit and hit[0].target_after.endswith("arctic_expedition (2)")
    del same


def test_safe_name_and_template_checks():
    assert safe_name("CON") == ("_CON", "reserved name on Windows")
    assert safe_name("a<b>")[0] == "a_b_"
    assert safe_name("trailing. ")[0] == "trailing"
    assert len(safe_name("x" * 300)[0].encode()) <= 255
    for bad in ("", "{creator}/{nope}/{subject}/{variant}", "{creator}/{variant}", "{creator}/../{subject}/{variant}"):
        with pytest.raises(UserError):
            check_template(bad)


def test_plan_csv_round_trip_and_validation(lib, tmp_path):
    root, settings = lib
    cat = build_catalogue(settings)
    lay = propose(cat, tmp_path / "new", settings=settings)
    path = tmp_path / "plan.csv"
    write_plan(lay, cat.root, path)
    plan = read_plan(path)
    assert len(plan.rows) == len(lay.placements) and plan.files == lay.files
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    # a user edit that sends two folders to one place, and one with '..', are refused with their lines
    bad = lines[0] + "\r\n" + lines[1] + "\r\n" + lines[1].replace(lines[1].split(",")[0], "Czepeku/maps", 1)
    (tmp_path / "bad.csv").write_text(bad + "\r\n" + lines[2].replace(",", ",../x", 1) + "\r\n", encoding="utf-8")
    with pytest.raises(UserError) as e:
        read_plan(tmp_path / "bad.csv")
    assert "line 3" in e.value.details and "line 4" in e.value.details


def test_cli_catalogue_and_plan(lib, tmp_path):
    _root, settings = lib
    out = tmp_path / "cat.json"
    r = run_cli("organize", "catalogue", "--storage", str(settings.data_dir), "--output-json", str(out),
                "--output-csv", str(tmp_path / "cat.csv"))
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    assert data["counts"]["creator"]["Forgotten Adventures"] >= 8 and data["variant_groups"]
    assert "rest on an unknown" in r.stdout
    r = run_cli("organize", "plan", "--storage", str(settings.data_dir), "--target", str(tmp_path / "n"),
                "--output", str(tmp_path / "p.csv"), "--template", "{creator}/{oops}")
    assert r.returncode == 2 and r.stderr.startswith("error: Unknown placeholder")
    r = run_cli("organize", "apply", str(tmp_path / "missing.csv"), "--target", str(tmp_path / "n"),
                "--storage", str(settings.data_dir))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    r = run_cli("organize", "plan", "--storage", str(tmp_path / "empty"), "--target", str(tmp_path / "n"),
                "--output", str(tmp_path / "p.csv"))
    assert r.returncode == 2 and "gather" in r.stderr


def test_organize_help_lists_every_command_and_imports_nothing_heavy():
    from engine.cli import ORGANIZE_COMMANDS
    from tests.test_cli import _heavy_loaded

    r = run_cli("organize", "--help")
    assert r.returncode == 0
    for cmd in ORGANIZE_COMMANDS:
        assert cmd.name in r.stdout
        h = run_cli("organize", cmd.name, "--help")
        assert h.returncode == 0 and "--storage" in h.stdout and "example" in h.stdout
    loaded = _heavy_loaded(
        "from engine.cli import build_parser\n"
        "p = build_parser()\n"
        "for c in ('catalogue', 'plan', 'apply', 'undo'):\n"
        "    try:\n"
        "        p.parse_args(['organize', c, '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
    )
    assert loaded["heavy"] == [] and loaded["commands"] == []


def test_file_variants_inside_items(lib, tmp_path):
    _root, settings = lib
    cat = build_catalogue(settings, with_files=True)
    cave = _by_path(cat)["Forgotten Adventures/Maps/Goblin Cave"]  # goblin_cave_00.jpg, _01.png, _02.webp
    assert cave.file_groups == 1 and cave.file_examples == ["Goblin Cave: 00, 01, 02"]
    assert build_catalogue(settings).items[0].file_groups == 0  # only when asked (plan skips it)
