"""apply-classifications: every row validated first, nothing written on any bad row, a new
cumulative label run otherwise; and the whole new-user sequence on the dev library."""

from __future__ import annotations

import csv
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from engine.core.config import ApplyClassificationsConfig
from engine.core.csvio import read_csv, write_csv
from engine.core.jobs import Cancelled, UserError
from engine.core.settings import StorageSettings
from engine.core.taxonomy import label_names
from engine.features.extract import extract_features
from engine.labels.csv_import import apply_classifications, assign_splits
from engine.labels.runs import list_label_runs, load_labels, newest_label_run_id
from engine.samples.picking import SAMPLE_COLUMNS, generate_samples
from engine.scan.gather import gather
from engine.storage import Databases
from tests.conftest import DEV_LABELS, run_cli
from tests.test_features import make_tree

LIB = [f"Studio {c}/maps/map_{m}_{10 + m}x20/night/f.webp" for c in range(2) for m in range(10)]
LIB += [f"Studio {c}/tokens/t.png" for c in range(2)] + ["misc/readme.txt"]


def dump(db: Path) -> list[str]:
    """Every table's full content (and schema), for byte-for-byte content comparison."""
    con = sqlite3.connect(db)
    try:
        return list(con.iterdump())
    finally:
        con.close()


@pytest.fixture
def setup(tmp_path):
    root = make_tree(tmp_path / "library", LIB)
    settings = StorageSettings.from_storage_arg(tmp_path / "data")
    sid = gather(root, settings).snapshot_id
    dbs = Databases.open(settings)
    extract_features(dbs, sid)
    samples = generate_samples(dbs, sid, tmp_path / "samples.csv").path
    yield dbs, sid, settings, samples
    dbs.dispose()


def filled(samples: Path, out: Path, label_for=lambda r: "content_subject", edit=None) -> list[dict]:
    """Fill the label column the way a user would and save with our writer."""
    t = read_csv(samples)
    rows = []
    for r in t.rows:
        v = dict(r.values)
        v["label"] = label_for(v)
        rows.append(v)
    if edit:
        edit(rows)
    write_csv(out, t.header, rows)
    return rows


def test_import_creates_a_run_with_stratified_splits(setup, tmp_path):
    dbs, sid, _, samples = setup
    labels = label_names()
    rows = filled(
        samples, tmp_path / "f.csv", label_for=lambda v: labels[int(v["folder_id"]) % 4].upper() + "  "
    )
    rows_by_id = {int(v["folder_id"]): v for v in rows}
    res = apply_classifications(dbs, tmp_path / "f.csv")
    assert res.label_run_id == newest_label_run_id(dbs.training)
    assert res.labelled == len(rows) and res.carried_over == 0 and res.skipped_empty == 0
    stored = load_labels(dbs.training, res.label_run_id)
    assert len(stored) == len(rows)
    for lab in stored:
        v = rows_by_id[lab.folder_id]
        assert lab.label == labels[lab.folder_id % 4]
        assert lab.rel_path == v["path"] and lab.snapshot_id == sid
        assert lab.split in ("train", "validation", "test")
    # Grouped: no family (siblings, same-named folders) straddles test and the rest; every
    # label keeps training folders; test and validation each get some.
    from engine.labels.splits import family_groups, keeps_families_whole

    fams = family_groups([lab.rel_path for lab in stored])
    assert keeps_families_whole(fams, [lab.split for lab in stored])
    per_split = Counter(lab.split for lab in stored)
    assert per_split["test"] >= 1 and per_split["validation"] >= 1 and per_split["train"] > per_split["test"]
    for label in {lab.label for lab in stored}:
        assert any(lab.split == "train" for lab in stored if lab.label == label)
    run = list_label_runs(dbs.training)[-1]
    assert run.labeler == "user" and run.source == "csv:f.csv" and run.snapshot_id == sid


def test_second_import_carries_over_and_keeps_splits(setup, tmp_path):
    dbs, _, _, samples = setup
    rows = filled(samples, tmp_path / "a.csv", edit=lambda rs: [r.update(label="") for r in rs[10:]])
    first = apply_classifications(dbs, tmp_path / "a.csv")
    before = {lab.folder_id: lab for lab in load_labels(dbs.training, first.label_run_id)}
    assert first.labelled == 10 and first.skipped_empty == len(rows) - 10

    def relabel(rs):
        for r in rs[:5]:
            r["label"] = ""
        rs[5]["label"] = "descriptor"  # a change of mind
        for r in rs[10:20]:
            r["label"] = "other"
        for r in rs[20:]:
            r["label"] = ""

    filled(samples, tmp_path / "b.csv", edit=relabel)
    second = apply_classifications(dbs, tmp_path / "b.csv", ApplyClassificationsConfig(labeler="ann"))
    assert second.label_run_id == first.label_run_id + 1
    after = {lab.folder_id: lab for lab in load_labels(dbs.training, second.label_run_id)}
    assert len(after) == 20 and second.carried_over == 5 and second.total_in_run == 20
    assert after[int(rows[5]["folder_id"])].label == "descriptor"
    for fid, lab in before.items():
        assert after[fid].split == lab.split  # an earlier split is never moved
    # The first run is untouched.
    assert {lab.folder_id: lab for lab in load_labels(dbs.training, first.label_run_id)} == before


def test_label_spelling_is_forgiven(setup, tmp_path):
    dbs, _, _, samples = setup
    spellings = ["  Content_Subject ", "ASSET TYPE", "creator-or-studio", "Other\t"]
    filled(samples, tmp_path / "f.csv", label_for=lambda v: spellings[int(v["folder_id"]) % 4])
    res = apply_classifications(dbs, tmp_path / "f.csv")
    got = {lab.label for lab in load_labels(dbs.training, res.label_run_id)}
    assert got == {"content_subject", "asset_type", "creator_or_studio", "other"}


def test_cancel_writes_nothing(setup, tmp_path):
    dbs, _, settings, samples = setup
    filled(samples, tmp_path / "f.csv")
    before = dump(settings.training_db)
    with pytest.raises(Cancelled):
        apply_classifications(dbs, tmp_path / "f.csv", should_stop=lambda: True)
    assert dump(settings.training_db) == before


def test_given_split_applies_to_all_rows(setup, tmp_path):
    dbs, _, _, samples = setup
    filled(samples, tmp_path / "f.csv")
    res = apply_classifications(dbs, tmp_path / "f.csv", ApplyClassificationsConfig(split="test"))
    assert {lab.split for lab in load_labels(dbs.training, res.label_run_id)} == {"test"}


def test_validate_only_writes_nothing(setup, tmp_path):
    dbs, _, settings, samples = setup
    filled(samples, tmp_path / "f.csv")
    before = dump(settings.training_db)
    res = apply_classifications(dbs, tmp_path / "f.csv", ApplyClassificationsConfig(validate_only=True))
    assert res.validate_only and res.label_run_id is None and res.labelled > 0
    assert dump(settings.training_db) == before


def test_spreadsheet_written_file_is_accepted(setup, tmp_path):
    """BOM, CRLF, ';' separators, reordered and extra columns, a quoted newline, empty rows,
    identical duplicates, escaped formula cells."""
    dbs, _, _, samples = setup
    t = read_csv(samples)
    lines = ["\ufeffNotes;LABEL;extra;Path;folder_id"]
    for i, r in enumerate(t.rows[:6]):
        v = r.values
        lines.append(f'"my\r\nnote {i}"; Descriptor ;x;{v["path"]};{v["folder_id"]}')
    lines += [
        ";;;;",
        "",
        f";other;;{t.rows[0].values['path']};{t.rows[0].values['folder_id']}".replace("other", "descriptor"),
    ]
    p = tmp_path / "excel.csv"
    p.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    res = apply_classifications(dbs, p)
    assert res.labelled == 6 and res.duplicate_rows == 1
    assert {lab.label for lab in load_labels(dbs.training, res.label_run_id)} == {"descriptor"}


def _bad_cases(rows: list[dict]) -> dict[str, tuple]:
    return {
        "bad_label": (lambda rs: rs[2].update(label="mapz"), ["line 4", "'mapz'", "not one of the labels"]),
        "unknown_id": (
            lambda rs: rs[1].update(folder_id="999999"),
            ["line 3", "999999", "no folder has this folder_id"],
        ),
        "not_a_number": (lambda rs: rs[0].update(folder_id="abc"), ["line 2", "'abc'", "not a whole number"]),
        "missing_id": (lambda rs: rs[0].update(folder_id=""), ["line 2", "folder_id is missing"]),
        "path_mismatch": (
            lambda rs: rs[3].update(path="somewhere/else"),
            ["line 5", "somewhere/else", "does not match"],
        ),
        "wrong_snapshot": (lambda rs: rs[3].update(snapshot_id="77"), ["line 5", "not 77"]),
        "conflict": (
            lambda rs: rs.append(dict(rs[0], label="other")),
            [f"line {len(rows) + 2}", "also labelled 'content_subject' on line 2"],
        ),
    }


@pytest.mark.parametrize(
    "case",
    ["bad_label", "unknown_id", "not_a_number", "missing_id", "path_mismatch", "wrong_snapshot", "conflict"],
)
def test_each_bad_row_is_refused_and_nothing_is_written(setup, tmp_path, case):
    dbs, _, settings, samples = setup
    filled(samples, tmp_path / "ok.csv")
    apply_classifications(dbs, tmp_path / "ok.csv")  # an earlier run that must stay as it is
    rows = read_csv(samples).rows
    edit, expected = _bad_cases([r.values for r in rows])[case]
    filled(samples, tmp_path / "bad.csv", edit=edit)
    before = dump(settings.training_db)
    with pytest.raises(UserError) as ei:
        apply_classifications(dbs, tmp_path / "bad.csv")
    text = str(ei.value) + "\n" + (ei.value.details or "")
    assert "nothing was imported" in text
    for part in expected:
        assert part in text, (part, text)
    assert "Allowed labels: " + ", ".join(label_names()) in text
    assert dump(settings.training_db) == before
    if case == "path_mismatch":
        assert "delete the 'path' column" in text


def test_all_bad_rows_are_listed_together(setup, tmp_path):
    dbs, _, _, samples = setup

    def edit(rs):
        rs[0]["label"] = "nope"
        rs[4]["label"] = "Creator"
        rs[6]["folder_id"] = "12345678"

    filled(samples, tmp_path / "bad.csv", edit=edit)
    with pytest.raises(UserError) as ei:
        apply_classifications(dbs, tmp_path / "bad.csv")
    assert "3 invalid rows" in str(ei.value)
    assert [ln.split(":")[0].strip() for ln in ei.value.details.splitlines()[:3]] == [
        "line 2",
        "line 6",
        "line 8",
    ]


@pytest.mark.parametrize(
    ("header", "match"),
    [
        (["folder_id", "path", "name"], "no 'label' column"),
        (["id", "path", "label"], "no 'folder_id' column"),
    ],
)
def test_missing_columns(setup, tmp_path, header, match):
    dbs, _, _, _ = setup
    write_csv(tmp_path / "x.csv", header, [("1", "a", "other")])
    with pytest.raises(UserError, match=match):
        apply_classifications(dbs, tmp_path / "x.csv")


def test_no_labels_at_all(setup):
    dbs, _, _, samples = setup
    with pytest.raises(UserError, match="no labelled rows"):
        apply_classifications(dbs, samples)
    assert newest_label_run_id(dbs.training) is None


def test_assign_splits_small_classes():
    from engine.labels.runs import LabelRow

    # 20 folders of "a" in 20 different packs (no two are siblings or share a name), 2 of "b".
    names = "oak ash elm fir yew bay box ivy fig lime pine teak palm plum pear nut hazel alder birch rowan"
    rows = [LabelRow(i, 1, f"pack{chr(65 + i)}/{w} hall", "a") for i, w in enumerate(names.split())] + [
        LabelRow(100, 1, "packX/ship", "b"),
        LabelRow(101, 1, "packY/ship", "b"),  # same normalized name: one family
    ]
    s = assign_splits(rows, {}, 0.15, 0.15, seed=3)
    got = Counter(s[r.folder_id] for r in rows if r.label == "a")
    assert 2 <= got["test"] <= 4 and 2 <= got["validation"] <= 4 and got["train"] >= 12
    assert {s[100], s[101]} == {"train"}  # one family: cannot be on both sides, stays in training
    assert s == assign_splits(rows, {}, 0.15, 0.15, seed=3)
    # An existing split is kept, and a new sibling of a test folder joins it in test.
    kept = assign_splits(rows + [LabelRow(200, 1, "packA/cedar room", "a")], s, 0.15, 0.15, seed=9)
    assert all(kept[f] == v for f, v in s.items())
    assert kept[200] == s[0]


def test_cli_bad_csv_exit_2_and_unchanged_db(setup, tmp_path):
    dbs, _, settings, samples = setup
    filled(samples, tmp_path / "bad.csv", edit=lambda rs: rs[1].update(label="Battlemap"))
    before = dump(settings.training_db)
    r = run_cli(
        "model",
        "apply-classifications",
        "--storage",
        str(settings.data_dir),
        "--input-csv",
        str(tmp_path / "bad.csv"),
    )
    assert r.returncode == 2
    assert r.stderr.count("error: ") == 1 and "Traceback" not in r.stderr
    assert "line 3: 'Battlemap': not one of the labels" in r.stderr
    assert "Allowed labels: creator_or_studio" in r.stderr
    assert dump(settings.training_db) == before


def test_full_cli_sequence_on_dev_library(dev_library, tmp_path):
    """gather -> extract-features -> generate-samples 200 -> fill labels -> apply-classifications."""
    data = tmp_path / "data"
    r = run_cli("gather", str(dev_library), "--storage", str(data))
    assert r.returncode == 0, r.stderr
    r = run_cli("model", "extract-features", "--storage", str(data))
    assert r.returncode == 0, r.stderr
    out = tmp_path / "outputs" / "baseline_eval.csv"
    r = run_cli(
        "model", "generate-samples", "--storage", str(data), "--output-csv", str(out), "--sample-size", "200"
    )
    assert r.returncode == 0, r.stderr
    with open(DEV_LABELS, encoding="utf-8-sig", newline="") as fh:
        gold = {row["path"]: row["label"] for row in csv.DictReader(fh)}
    # The user fills the sheet in a spreadsheet program: simulate with pandas when present.
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 200 and list(rows[0]) == list(SAMPLE_COLUMNS)
    for row in rows:
        row["label"] = gold[row["path"]]
    with open(out, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\r\n")
        w.writeheader()
        w.writerows(rows)
    r = run_cli("model", "apply-classifications", "--storage", str(data), "--input-csv", str(out))
    assert r.returncode == 0, r.stderr
    assert "Imported 200 labels" in r.stdout and "label run 1" in r.stdout
    dbs = Databases.open(StorageSettings.from_storage_arg(data))
    try:
        stored = load_labels(dbs.training, 1)
    finally:
        dbs.dispose()
    assert len(stored) == 200
    assert all(gold[lab.rel_path] == lab.label for lab in stored)
    assert {lab.split for lab in stored} == {"train", "validation", "test"}
    # The next sample never offers what was just labelled.
    again = tmp_path / "outputs" / "more.csv"
    r = run_cli("model", "generate-samples", "--storage", str(data), "--output-csv", str(again))
    assert r.returncode == 0, r.stderr
    with open(again, encoding="utf-8-sig", newline="") as fh:
        offered = {row["path"] for row in csv.DictReader(fh)}
    assert not offered & {lab.rel_path for lab in stored}
