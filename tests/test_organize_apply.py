"""Apply without risk: link tree, originals untouched, undo; move mode killed with SIGKILL
half-way, resumed and undone byte-identically. Real files, real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from engine.core.jobs import Cancelled, UserError
from engine.organize.apply import apply_plan, read_journal, undo
from engine.organize.catalogue import build_catalogue
from engine.organize.layout import propose
from engine.organize.plan import read_plan, write_plan
from tests.conftest import ROOT, run_cli
from tests.organize_lib import make_library, scan_and_label, tree_digest


@pytest.fixture()
def planned(tmp_path):
    lib = make_library(tmp_path)
    settings = scan_and_label(lib, tmp_path / "data")
    cat = build_catalogue(settings)
    target = tmp_path / "organized"
    lay = propose(cat, target, settings=settings)
    write_plan(lay, cat.root, tmp_path / "plan.csv")
    return lib, settings, target, tmp_path / "plan.csv"


def _inodes(root: Path) -> Counter:
    out: Counter = Counter()
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            st = os.lstat(os.path.join(dirpath, f))
            out[(st.st_dev, st.st_ino)] += 1
    return out


def test_link_apply_reaches_every_file_once_and_undo_removes_the_tree(planned):
    lib, settings, target, plan_csv = planned
    before = tree_digest(lib)
    originals = _inodes(lib)
    r = apply_plan(read_plan(plan_csv), target, "link", journal_dir=settings.data_dir / "journals")
    assert r.done == len(originals) and not r.skipped
    placed = _inodes(target)
    assert placed == originals  # every original file exactly once, as the same file
    assert tree_digest(lib) == before  # originals untouched
    assert (target / "Forgotten Adventures/Maps/Fantasy Tavern/Night").is_dir()
    again = apply_plan(read_plan(plan_csv), target, "link", journal_dir=settings.data_dir / "journals")
    assert (again.done, again.already) == (0, len(originals))  # idempotent: nothing doubled
    u = undo(r.journal)
    assert u.restored == len(originals) and not u.kept
    assert not target.exists()
    assert tree_digest(lib) == before
    assert read_journal(r.journal)[2] == "undone"


def test_link_mode_refuses_a_target_inside_the_library(planned):
    lib, settings, _target, plan_csv = planned
    with pytest.raises(UserError, match="inside the library"):
        apply_plan(read_plan(plan_csv), lib / "organized", "link", journal_dir=settings.data_dir / "journals")


def test_never_overwrites_and_undo_keeps_changed_files(planned):
    lib, settings, target, plan_csv = planned
    plan = read_plan(plan_csv)
    row = next(r for r in plan.rows if r.source.endswith("Fantasy Tavern/Night"))
    name = sorted(os.listdir(lib / row.source))[0]
    mine = target / row.target / name
    mine.parent.mkdir(parents=True)
    mine.write_text("the user's own file")
    r = apply_plan(plan, target, "copy", journal_dir=settings.data_dir / "journals")
    assert mine.read_text() == "the user's own file"
    assert len(r.skipped) == 1 and "not overwritten" in r.skipped[0]
    changed = next(p for p in (target / "Forgotten Adventures/Maps/Goblin Cave").iterdir())
    changed.write_bytes(b"edited after the copy, must survive undo")
    u = undo(r.journal)
    assert mine.read_text() == "the user's own file"
    assert changed.read_bytes().startswith(b"edited")
    assert [k for k in u.kept if "changed since" in k] == [f"{changed}: changed since it was placed; kept"]
    assert len(u.kept) == 2  # and the folder holding it


def test_cancel_leaves_a_resumable_journal(planned):
    lib, settings, target, plan_csv = planned
    plan = read_plan(plan_csv)
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return True

    os.environ["FSORG_ORGANIZE_OP_DELAY"] = ""
    with pytest.raises(Cancelled):
        apply_plan(plan, target, "symlink", journal_dir=settings.data_dir / "journals", should_stop=stop)
    r = apply_plan(plan, target, "symlink", journal_dir=settings.data_dir / "journals")
    assert r.resumed and r.files == sum(1 for _ in _walk_files(lib))
    assert all(os.path.islink(p) for p in _walk_files(target))
    undo(r.journal)
    assert not target.exists()


def _walk_files(root: Path):
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            yield os.path.join(dirpath, f)


def test_move_killed_half_way_resumes_and_undoes_byte_identically(planned):
    lib, settings, target, plan_csv = planned
    before = tree_digest(lib)
    total = sum(1 for _ in _walk_files(lib))
    env = dict(os.environ, FSORG_ORGANIZE_OP_DELAY="0.03", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, str(ROOT / "organizer.py"), "organize", "apply", str(plan_csv), "--mode", "move",
           "--target", str(target), "--storage", str(settings.data_dir)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        moved = sum(1 for _ in _walk_files(target)) if target.exists() else 0
        if moved >= total // 3:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    moved = sum(1 for _ in _walk_files(target))
    assert 0 < moved < total, "the kill must land half-way"
    assert moved + sum(1 for _ in _walk_files(lib)) >= total  # nothing lost
    # the same command resumes the journal and finishes
    r = run_cli(*cmd[2:])
    assert r.returncode == 0, r.stderr
    assert "Resumed" in r.stdout
    assert sum(1 for _ in _walk_files(target)) == total and not any(_walk_files(lib))
    journals = list((settings.data_dir / "journals").glob("*.jsonl"))
    assert len(journals) == 1
    u = run_cli("organize", "undo", str(journals[0]), "--storage", str(settings.data_dir))
    assert u.returncode == 0, u.stderr
    assert tree_digest(lib) == before
    assert not target.exists()
    assert run_cli("organize", "undo", str(journals[0])).returncode == 0  # undo twice: harmless
    assert tree_digest(lib) == before


def test_undo_of_bad_journal_is_one_line(tmp_path):
    (tmp_path / "j.jsonl").write_text("hello\n")
    r = run_cli("organize", "undo", str(tmp_path / "j.jsonl"))
    assert r.returncode == 2 and r.stderr.startswith("error:")


def test_undecodable_folder_names_are_left_out_and_listed(tmp_path):
    lib = make_library(tmp_path)
    odd = os.path.join(os.fsencode(lib / "Czepeku" / "maps"), b"Caf\xe9 Tavern")
    os.mkdir(odd)
    with open(os.path.join(odd, b"caf\xe9.png"), "wb") as fh:
        fh.write(b"bytes")
    settings = scan_and_label(lib, tmp_path / "data")
    cat = build_catalogue(settings)
    lay = propose(cat, tmp_path / "organized", settings=settings)
    bad = [c for c in lay.unresolved if "UTF-8" in c.message]
    assert len(bad) == 1 and "Caf" in bad[0].source
    write_plan(lay, cat.root, tmp_path / "plan.csv")
    plan = read_plan(tmp_path / "plan.csv")  # the rest is a valid plan
    r = apply_plan(plan, tmp_path / "organized", "link", journal_dir=settings.data_dir / "journals")
    assert r.done == sum(1 for _ in _walk_files(lib)) - 1 and not r.skipped
    assert os.path.exists(os.path.join(odd, b"caf\xe9.png"))
