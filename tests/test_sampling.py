"""generate-samples: diverse, deterministic, never re-offers labelled folders, writes the contract CSV."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from engine.core.config import GenerateSamplesConfig
from engine.core.csvio import read_csv
from engine.core.jobs import Cancelled, UserError
from engine.core.settings import StorageSettings
from engine.features.extract import extract_features
from engine.labels.runs import LabelRow, create_label_run, set_labels
from engine.samples.picking import (
    CONTRACT_COLUMNS,
    SAMPLE_COLUMNS,
    Candidate,
    _quotas,
    generate_samples,
    select_samples,
)
from engine.scan.gather import gather
from engine.storage import Databases
from tests.conftest import run_cli
from tests.test_features import make_tree


def cand(i: int, label: str, parent: str, depth: int = 3, name: str | None = None) -> Candidate:
    return Candidate(
        folder_id=i,
        rel_path=f"{parent}/{name or f'f{i}'}",
        name=name or f"folder_{i}",
        depth=depth,
        parent_name=parent.rsplit("/", 1)[-1],
        children_json="[]",
        top_exts_json="[]",
        file_count=1,
        subfolder_count=0,
        heuristic_label=label,
        heuristic_confidence=0.5,
        heuristic_rule="r",
    )


def skewed_pool() -> list[Candidate]:
    pool = [cand(i, "content_subject", f"lib/p{i % 5}", depth=2 + i % 4) for i in range(900)]
    pool += [cand(1000 + i, "descriptor", f"lib/d{i % 3}") for i in range(60)]
    pool += [cand(2000 + i, "other", "lib/o") for i in range(8)]
    pool += [cand(3000 + i, "creator_or_studio", "lib", depth=1) for i in range(3)]
    return pool


def test_quotas_blend_proportional_and_equal():
    sizes = {"a": 900, "b": 60, "c": 8, "d": 3}
    assert sum(_quotas(sizes, 100, 0.7).values()) == 100
    prop = _quotas(sizes, 100, 0.0)
    assert prop["a"] >= 90
    eq = _quotas(sizes, 100, 1.0)
    assert eq["c"] == 8 and eq["d"] == 3  # capped by what exists, the rest redistributed
    assert _quotas(sizes, 10_000, 0.5) == sizes


def test_rare_labels_are_not_drowned():
    picked = select_samples(skewed_pool(), 100, 0.7, seed=1)
    counts = Counter(c.heuristic_label for c in picked)
    assert len(picked) == 100 and len({c.folder_id for c in picked}) == 100
    assert counts["creator_or_studio"] == 3 and counts["other"] == 8
    assert counts["descriptor"] >= 20
    # Spread over parents and depths inside the big class.
    subj = [c for c in picked if c.heuristic_label == "content_subject"]
    assert len({c.parent_path for c in subj}) == 5
    assert len({c.depth for c in subj}) == 4


def test_selection_is_deterministic_for_a_seed():
    a = [c.folder_id for c in select_samples(skewed_pool(), 50, 0.7, seed=42)]
    b = [c.folder_id for c in select_samples(list(reversed(skewed_pool())), 50, 0.7, seed=42)]
    c = [c.folder_id for c in select_samples(skewed_pool(), 50, 0.7, seed=43)]
    assert a == b
    assert a != c


def test_asking_for_more_than_exists_returns_all():
    pool = skewed_pool()[:20]
    assert {c.folder_id for c in select_samples(pool, 500, 0.5, seed=0)} == {c.folder_id for c in pool}


LIB = [
    f"Creator {c}/maps/map_{m}_{10 + m}x20/v_{v}/f.webp"
    for c in range(3)
    for m in range(12)
    for v in range(2)
]
LIB += [f"Creator {c}/tokens/t{t}.png" for c in range(3) for t in range(3)] + ["misc/readme.txt"]


@pytest.fixture
def lib_dbs(tmp_path):
    root = make_tree(tmp_path / "library", LIB)
    settings = StorageSettings.from_storage_arg(tmp_path / "data")
    sid = gather(root, settings).snapshot_id
    dbs = Databases.open(settings)
    extract_features(dbs, sid)
    yield dbs, sid, settings
    dbs.dispose()


def test_writes_contract_csv(lib_dbs, tmp_path):
    dbs, sid, _ = lib_dbs
    out = tmp_path / "out" / "samples.csv"
    res = generate_samples(dbs, None, out, GenerateSamplesConfig(sample_size=30, min_depth=1, max_depth=4))
    assert res.rows == 30 and res.snapshot_id == sid
    table = read_csv(out)
    assert tuple(table.header) == SAMPLE_COLUMNS
    assert tuple(table.header[: len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS
    for r in table.rows:
        assert r.values["label"] == ""
        assert 1 <= int(r.values["depth"]) <= 4
        assert r.values["snapshot_id"] == str(sid)
        assert r.values["path"].endswith(r.values["name"])
        assert r.values["heuristic_prediction"] and r.values["heuristic_rule"]
        float(r.values["heuristic_confidence"])
    big = [r for r in table.rows if int(r.values["subfolder_count"]) > 8]  # child_cap is 8
    assert big, "the sample should include a folder with more children than the cap"
    for r in big:
        assert r.values["children"].endswith("more)")
    paths = [r.values["path"] for r in table.rows]
    assert paths == sorted(paths, key=str.casefold)  # siblings side by side for the labeller


def test_same_seed_same_file(lib_dbs, tmp_path):
    dbs, _, _ = lib_dbs
    cfg = GenerateSamplesConfig(sample_size=25)
    generate_samples(dbs, None, tmp_path / "a.csv", cfg)
    generate_samples(dbs, None, tmp_path / "b.csv", cfg)
    generate_samples(dbs, None, tmp_path / "c.csv", cfg.update(seed=7))
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()


def test_labelled_folders_are_never_offered_again(lib_dbs, tmp_path):
    dbs, sid, _ = lib_dbs
    first = read_csv(
        generate_samples(dbs, None, tmp_path / "a.csv", GenerateSamplesConfig(sample_size=40)).path
    )
    labelled = {int(r.values["folder_id"]): r.values["path"] for r in first.rows}
    with dbs.training.begin() as c:
        run = create_label_run(c, labeler="t", source="test", snapshot_id=sid)
        set_labels(c, run, [LabelRow(fid, sid, p, "content_subject") for fid, p in labelled.items()])
    res = generate_samples(dbs, None, tmp_path / "b.csv", GenerateSamplesConfig(sample_size=1000))
    second = {int(r.values["folder_id"]) for r in read_csv(res.path).rows}
    assert res.excluded_labelled == 40
    assert not second & set(labelled)


def test_labels_from_an_older_scan_of_the_same_root_match_by_path(lib_dbs, tmp_path):
    dbs, sid, settings = lib_dbs
    first = read_csv(
        generate_samples(dbs, None, tmp_path / "a.csv", GenerateSamplesConfig(sample_size=10)).path
    )
    with dbs.training.begin() as c:
        run = create_label_run(c, labeler="t", source="test", snapshot_id=sid)
        set_labels(
            c, run, [LabelRow(int(r.values["folder_id"]), sid, r.values["path"], "other") for r in first.rows]
        )
    with dbs.index.connect() as c:
        root = c.exec_driver_sql("SELECT root FROM snapshots WHERE id=?", (sid,)).scalar()
    sid2 = gather(root, settings).snapshot_id
    extract_features(dbs, sid2)
    res = generate_samples(dbs, sid2, tmp_path / "b.csv", GenerateSamplesConfig(sample_size=1000))
    offered = {r.values["path"] for r in read_csv(res.path).rows}
    assert not offered & {r.values["path"] for r in first.rows}
    assert res.excluded_labelled == 10


@pytest.mark.parametrize(
    ("cfg", "match"),
    [
        (GenerateSamplesConfig(min_depth=50, max_depth=60), "Widen"),
    ],
)
def test_user_errors(lib_dbs, tmp_path, cfg, match):
    dbs, _, _ = lib_dbs
    with pytest.raises(UserError, match=match):
        generate_samples(dbs, None, tmp_path / "x.csv", cfg)
    assert not (tmp_path / "x.csv").exists()


def test_snapshot_without_features(tmp_path):
    settings = StorageSettings.from_storage_arg(tmp_path / "data")
    gather(make_tree(tmp_path / "lib", ["a/b.png"]), settings)
    dbs = Databases.open(settings)
    try:
        with pytest.raises(UserError, match="extract-features"):
            generate_samples(dbs, None, tmp_path / "x.csv")
    finally:
        dbs.dispose()


def test_cancel_writes_no_file(lib_dbs, tmp_path):
    dbs, _, _ = lib_dbs
    with pytest.raises(Cancelled):
        generate_samples(dbs, None, tmp_path / "x.csv", should_stop=lambda: True)
    assert not list(tmp_path.glob("*.csv")) and not list(tmp_path.glob(".x.csv*"))


def test_cli_generate_samples(tmp_path):
    root = make_tree(tmp_path / "library", LIB)
    data = tmp_path / "data"
    assert run_cli("gather", str(root), "--storage", str(data)).returncode == 0
    assert run_cli("model", "extract-features", "--storage", str(data)).returncode == 0
    out = tmp_path / "s.csv"
    r = run_cli(
        "model", "generate-samples", "--storage", str(data), "--output-csv", str(out), "--sample-size", "12"
    )
    assert r.returncode == 0, r.stderr
    assert "Wrote 12 folders" in r.stdout
    with open(out, encoding="utf-8-sig", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 12
    # "Label next": the folders the shipped baseline is least sure about (no trained model yet).
    out2 = tmp_path / "next.csv"
    r = run_cli(
        "model",
        "generate-samples",
        "--storage",
        str(data),
        "--output-csv",
        str(out2),
        "--sample-size",
        "5",
        "--strategy",
        "uncertainty",
    )
    assert r.returncode == 0, r.stderr
    with open(out2, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5
    assert len({row["folder_id"] for row in rows}) == 5
