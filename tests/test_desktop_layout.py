"""Does every view fit a small screen? The real window, on a real scanned library with labels
and an evaluation run, opened at 1024x700 (and the other sizes of issue 17): no visible widget
gets less room than its minimum size hint, no toolbar action hides behind », and the Results
tab never needs a horizontal scrollbar. Also ``--screenshot --size --tab`` end to end, at 100 %
and at 200 % scaling."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage

from engine.core.settings import StorageSettings
from fsorg_desktop.app_settings import AppSettings
from fsorg_desktop.layout_check import clipped_widgets, horizontal_scrollbars
from fsorg_desktop.main_window import MainWindow
from fsorg_desktop.screenshot import parse_size
from fsorg_desktop.views.empty_hint import empty_text
from tests.results_support import build_library, make_eval

ROOT = Path(__file__).resolve().parent.parent
SIZES = [(1024, 700), (1280, 800), (1920, 1080)]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A scanned library, every folder labelled, one evaluation run (no model needed)."""
    tmp = tmp_path_factory.mktemp("layout")
    lib = build_library(tmp)
    make_eval(lib)
    lib.dbs.dispose()
    return tmp / "data"


@pytest.fixture
def window(qtbot, tmp_path, data_dir):
    storage = StorageSettings.from_storage_arg(data_dir)
    w = MainWindow(storage, app_settings=AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)))
    w.auto_extract = False  # only looking
    w.dialogs.confirm = lambda title, text: True
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.tree_ready, timeout=20_000):
        w.open_storage(storage)
    w.explain_view.show_folder = lambda *a, **k: None  # the tab's layout, without a model process
    yield w
    w.runner.cancel_all()
    w.runner.drain(20_000)
    w.dialogs.close_all()


def _sample_rows(w) -> list[dict]:
    """A sample of every folder of the library (as the samples CSV has them)."""
    rows = []
    with w.state.dbs.index.connect() as c:
        found = c.exec_driver_sql(
            "SELECT id, rel_path, name, depth FROM folders WHERE snapshot_id = ? AND depth > 0",
            (w.state.snapshot.id,),
        ).all()
    for fid, rel, name, depth in found:
        rows.append({"folder_id": str(fid), "snapshot_id": str(w.state.snapshot.id), "path": f"library/{rel}",
                     "name": name, "parent": rel.rsplit("/", 1)[0] if "/" in rel else "library",
                     "depth": str(depth), "heuristic_prediction": "content_subject", "label": ""})
    return rows


def _show(qtbot, w, tab: str, size: tuple[int, int]) -> None:
    w.resize(*size)
    if tab == "results":
        w.side_tabs.setCurrentWidget(w.results_tab)
        qtbot.waitUntil(lambda: w.results_tab.panel is not None, timeout=20_000)
        qtbot.waitUntil(lambda: w.results_tab.panel.current_eval_run_id is not None, timeout=20_000)
    elif tab == "explain":
        w.side_tabs.setCurrentWidget(w.explain_tab)
    elif tab == "catalogue":
        w.side_tabs.setCurrentWidget(w.organize_tabs.catalogue_page)
        with qtbot.waitSignal(w.organize_tabs.catalogue.catalogue_ready, timeout=20_000):
            w.organize_tabs.catalogue.refresh()
    elif tab == "organize":
        w.side_tabs.setCurrentWidget(w.organize_tabs.organize_page)
        with qtbot.waitSignal(w.organize_tabs.organize.preview_ready, timeout=20_000):
            w.organize_tabs.organize.preview()
    else:
        w.side_tabs.setCurrentWidget(w.sample_view)
    qtbot.wait(150)  # the resize and the charts' lazy axis layout


@pytest.mark.parametrize("tab", ["sample", "results", "explain", "catalogue", "organize"])
def test_each_tab_fits_1024x700(qtbot, window, tab):
    w = window
    w.sample_model.set_rows(_sample_rows(w))
    w.tree_view.select_folder(next(iter(w.labels.labels())))
    _show(qtbot, w, tab, (1024, 700))
    assert w.width() == 1024 and w.height() == 700
    assert clipped_widgets(w) == []
    if tab in ("catalogue", "organize"):  # the page itself never scrolls sideways
        page = getattr(w.organize_tabs, f"{tab}_page")
        assert [s for s in horizontal_scrollbars(page) if s.startswith(type(page).__name__)] == []
    if tab == "results":
        assert horizontal_scrollbars(w.results_tab) == []
        # the matrix names every class (none dropped for overlapping its neighbour)
        hm = w.results_tab.panel.heatmap
        assert len(hm.column_titles()) == len(hm.labels) and all(hm.column_titles())


def test_results_fit_every_size_without_a_horizontal_scrollbar(qtbot, window):
    w = window
    for size in SIZES:
        _show(qtbot, w, "results", size)
        assert clipped_widgets(w) == [], size
        assert horizontal_scrollbars(w.results_tab) == [], size
    panel = w.results_tab.panel
    # wide: the matrix and the bars side by side; the drill-down keeps its rows
    assert panel.charts_split.orientation().name == "Horizontal"
    assert panel.drill_view.height() >= 100


def test_the_tree_name_column_gets_the_room(qtbot, window):
    w = window
    _show(qtbot, w, "sample", (1024, 700))
    header = w.tree_view.tree.header()
    others = [header.sectionSize(c) for c in range(1, header.count())]
    assert header.sectionSize(0) >= max(others)  # Name stretches, the others are content-sized
    # the Predicted column names the model its predictions come from
    assert w.tree_model.predicted_header() in ("Heuristic says", "Baseline says", "Your model says",
                                               "Baseline / heuristic", "Your model / heuristic")
    assert header.sectionSize(0) >= 180  # "…" names at 1024 px were the complaint


def test_welcome_fits_and_offers_the_last_library(qtbot, tmp_path, data_dir):
    settings = AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    from fsorg_desktop.app_settings import RecentLibrary

    settings.add_recent(RecentLibrary(str(data_dir), "/somewhere/My Maps"))
    w = MainWindow(StorageSettings.from_storage_arg(tmp_path / "empty"), app_settings=settings)
    qtbot.addWidget(w)
    w.resize(1024, 700)
    w.show()
    qtbot.wait(50)
    assert w.stack.currentIndex() == 0  # nothing was opened behind the user's back
    assert w.welcome.reopen_button.isVisible() and "My Maps" in w.welcome.reopen_button.text()
    assert clipped_widgets(w) == []
    with qtbot.waitSignal(w.library_opened, timeout=20_000):
        w.welcome.reopen_button.click()
    assert str(w.storage.data_dir) == str(data_dir)
    w.runner.cancel_all()
    w.runner.drain(20_000)


def test_empty_lists_say_why(qtbot, window):
    w = window
    _show(qtbot, w, "results", (1280, 800))
    panel = w.results_tab.panel
    assert "click a matrix cell" in empty_text(panel.drill_view)


def test_parse_size():
    assert parse_size("1280x800") == (1280, 800)
    with pytest.raises(ValueError, match="1280x800"):
        parse_size("big")


def _screenshot(data_dir: Path, out: Path, *extra: str, env_extra: dict | None = None):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **(env_extra or {}))
    return subprocess.run(
        [sys.executable, "-m", "fsorg_desktop", "--storage", str(data_dir), "--screenshot", str(out), *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )


@pytest.mark.parametrize("scale", ["1", "2"])
def test_screenshot_of_the_results_tab_at_1024x700(tmp_path, data_dir, scale):
    out = tmp_path / "results.png"
    res = _screenshot(data_dir, out, "--size", "1024x700", "--tab", "results", env_extra={"QT_SCALE_FACTOR": scale})
    assert res.returncode == 0, res.stderr
    assert "clipped:" not in res.stderr, res.stderr
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1024 * int(scale), 700 * int(scale))
    colours = {img.pixel(x, y) for x in range(0, img.width(), 9) for y in range(0, img.height(), 9)}
    assert len(colours) > 20  # the charts were drawn


def test_screenshot_rejects_a_bad_size_in_one_line(tmp_path, data_dir):
    res = _screenshot(data_dir, tmp_path / "x.png", "--size", "huge")
    assert res.returncode == 2
    assert "--size must look like 1280x800" in res.stderr
    assert not (tmp_path / "x.png").exists()
