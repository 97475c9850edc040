"""The Catalogue and Organize tabs, offscreen, on a real small labelled library: filters and
counts, before/after trees with counts, conflicts, Apply as a background job, Cancel, Undo."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QSettings

from fsorg_desktop.app_settings import AppSettings
from fsorg_desktop.jobs import JobRunner
from fsorg_desktop.main_window import MainWindow
from fsorg_desktop.models.organize_tree_model import count_items
from fsorg_desktop.views.catalogue_view import CatalogueView
from fsorg_desktop.views.organize_view import OrganizeView
from tests.organize_lib import make_library, scan_and_label, tree_digest

TIMEOUT = 20_000


@pytest.fixture()
def lib(tmp_path):
    root = make_library(tmp_path)
    return root, scan_and_label(root, tmp_path / "data")


@pytest.fixture()
def runner(qtbot):
    r = JobRunner()
    yield r
    r.cancel_all()
    r.drain(20_000)


def _files(root):
    return sum(len(f) for _d, _s, f in os.walk(root))


def test_catalogue_view_filters_and_counts(qtbot, lib, runner):
    _root, settings = lib
    view = CatalogueView(runner)
    qtbot.addWidget(view)
    view.set_library(settings)
    with qtbot.waitSignal(view.catalogue_ready, timeout=TIMEOUT) as sig:
        view.show()
    cat = sig.args[0]
    assert view.proxy.rowCount() == len(cat.items)
    assert "variant groups" in view.counts.text() and "on unknown folders" in view.counts.text()
    view.creator.setCurrentIndex(view.creator.findData("Czepeku"))
    czepeku = [it for it in cat.items if it.creator == "Czepeku"]
    assert view.proxy.rowCount() == len(czepeku) > 0
    assert view.counts.text().startswith(f"<b>{len(czepeku):,}</b> of {len(cat.items):,} items")
    view.creator.setCurrentIndex(0)
    view.tag.setCurrentIndex(view.tag.findData("Humanoids"))
    paths = {view.proxy.index(r, 0).data() for r in range(view.proxy.rowCount())}
    assert paths == {it.path for it in cat.items if "Humanoids" in it.tags}
    view.tag.setCurrentIndex(0)
    view.asset_type.setCurrentIndex(view.asset_type.findData("Tokens"))
    assert view.proxy.rowCount() == sum(1 for it in cat.items if "Tokens" in it.asset_types)


def test_organize_view_preview_apply_undo(qtbot, lib, runner, tmp_path):
    root, settings = lib
    before = tree_digest(root)
    view = OrganizeView(runner)
    qtbot.addWidget(view)
    view.set_library(settings, str(root))
    target = tmp_path / "organized"
    view.target.setText(str(target))
    with qtbot.waitSignal(view.preview_ready, timeout=TIMEOUT) as sig:
        view.preview()
    lay = sig.args[0]
    assert view.apply_button.isEnabled()
    m_before, m_after = view.before.model(), view.after.model()
    assert m_before.index(0, 1).data() == f"{_files(root):,}" == m_after.index(0, 1).data()
    assert count_items(m_after) > 10 and "files" in view.after_title.text()
    top = {m_after.index(r, 0, m_after.index(0, 0)).data() for r in range(m_after.rowCount(m_after.index(0, 0)))}
    assert {"Forgotten Adventures", "Czepeku", "_unknown creator"} <= top
    assert view.conflicts.count() == len(lay.conflicts)
    with qtbot.waitSignal(view.applied, timeout=TIMEOUT):
        view.apply()
    assert _files(target) == _files(root) and tree_digest(root) == before
    assert view.undo_button.isEnabled()
    with qtbot.waitSignal(view.undone, timeout=TIMEOUT):
        view.undo()
    assert not target.exists() and tree_digest(root) == before


def test_organize_view_cancel_then_undo_restores_a_move(qtbot, lib, runner, tmp_path, monkeypatch):
    root, settings = lib
    before = tree_digest(root)
    total = _files(root)
    monkeypatch.setenv("FSORG_ORGANIZE_OP_DELAY", "0.05")
    view = OrganizeView(runner)
    qtbot.addWidget(view)
    view.set_library(settings, str(root))
    target = tmp_path / "moved"
    view.target.setText(str(target))
    view.mode.setCurrentIndex(view.mode.findData("move"))
    asked = []
    view.confirm = lambda mode: asked.append(mode) or True
    with qtbot.waitSignal(view.preview_ready, timeout=TIMEOUT):
        view.preview()
    job = view.apply()
    assert asked == ["move"] and view.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: target.exists() and _files(target) >= 3, timeout=TIMEOUT)
    view.cancel()
    qtbot.waitUntil(lambda: job.is_finished, timeout=TIMEOUT)
    assert "Cancelled" in view.status.text() and view.undo_button.isEnabled()
    assert 0 < _files(target) < total and _files(target) + _files(root) == total
    monkeypatch.setenv("FSORG_ORGANIZE_OP_DELAY", "")
    with qtbot.waitSignal(view.undone, timeout=TIMEOUT):
        view.undo()
    assert tree_digest(root) == before and not target.exists()


def test_main_window_has_the_tabs_and_builds_the_catalogue(qtbot, lib, tmp_path):
    _root, settings = lib
    w = MainWindow(settings, app_settings=AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)))
    w.auto_extract = False
    w.dialogs.confirm = lambda title, text: True
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.library_opened, timeout=TIMEOUT):
        w.open_storage(settings)
    tabs = [w.side_tabs.tabText(i) for i in range(w.side_tabs.count())]
    assert "Catalogue" in tabs and "Organize" in tabs
    cat_view = w.organize_tabs.catalogue
    with qtbot.waitSignal(cat_view.catalogue_ready, timeout=TIMEOUT) as sig:
        w.side_tabs.setCurrentWidget(w.organize_tabs.catalogue_page)
    assert cat_view.proxy.rowCount() == len(sig.args[0].items) > 10
    assert w.organize_tabs.organize.target.text().endswith("library (organized)")
    w.runner.cancel_all()
    w.runner.drain(20_000)
