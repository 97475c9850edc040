"""``python -m fsorg_desktop --screenshot PNG [--size WxH] [--tab TAB]``: open the window on a
data folder, wait until the chosen view has its data, save the window as a PNG, report any
clipped widget, exit.

Tabs: ``welcome`` (the drop zone and recent libraries), ``tree`` / ``sample`` (the tree with the
sample table), ``results`` (the newest evaluation run), ``explain`` (a labelled folder
explained: starts the model process, so it takes a few seconds), ``catalogue`` (built from the
labels and predictions) and ``organize`` (the proposed layout, previewed into a target beside the
data folder; nothing is written to it). A screenshot only looks: it
starts no writing job and never waits on a question.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

TIMEOUT_S = 90


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x800"`` → (1280, 800); a clear ValueError otherwise."""
    try:
        w, h = (int(v) for v in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 1280x800, not {text!r}") from None
    if not (320 <= w <= 10_000 and 240 <= h <= 10_000):
        raise ValueError(f"--size {text}: width and height must be between 320x240 and 10000x10000")
    return w, h


def _pick_folder(window) -> int | None:
    """A labelled folder a few levels down (something to select and explain), else the root's
    first child."""
    labels = window.labels.labels()
    for fid in sorted(labels)[len(labels) // 3:]:
        if window.tree_view.select_folder(fid):
            return fid
    model = window.tree_model
    root = model.index(0, 0)
    return model.folder_id(model.index(0, 0, root)) if model.rowCount(root) else None


def take(app, window, storage, out: Path, *, size: tuple[int, int] = (1280, 800), tab: str = "sample") -> int:
    """Open ``storage`` in ``window``, show ``tab``, save the window to ``out``; 0 on success."""
    from PySide6.QtCore import QEventLoop, QTimer

    from fsorg_desktop.layout_check import clipped_widgets, horizontal_scrollbars

    window.auto_extract = False  # a screenshot only looks; it never starts writing jobs
    window.dialogs.confirm = lambda title, text: True  # and never waits on a question
    window.resize(*size)
    window.show()
    loop = QEventLoop()
    state = {"ok": False}

    def settle(ms: int = 250) -> None:
        QTimer.singleShot(ms, finish)  # the last rows get laid out and painted

    def finish() -> None:
        state["ok"] = True
        loop.quit()

    def tree_ready() -> None:
        if tab == "welcome":
            window.stack.setCurrentIndex(0)
            settle()
            return
        fid = _pick_folder(window)
        if fid is not None:
            window.explain_tab.schedule(fid)  # (a program's selection does not emit folder_selected)
        if tab == "results":
            window.side_tabs.setCurrentWidget(window.results_tab)
            panel = window.results_tab.ensure_panel()
            if panel is None:  # the charts module is still importing
                QTimer.singleShot(200, tree_ready)
                return
            if panel.current_eval_run_id is not None:
                settle(600)
            else:
                panel.eval_run_shown.connect(lambda _id: settle(600))
                QTimer.singleShot(8000, lambda: settle(0))  # no run at all: the empty state
        elif tab in ("catalogue", "organize"):
            tabs = window.organize_tabs
            if tab == "catalogue":
                tabs.catalogue.catalogue_ready.connect(lambda _c: settle(400))
                window.side_tabs.setCurrentWidget(tabs.catalogue_page)
                tabs.catalogue.refresh()
            else:
                tabs.organize.preview_ready.connect(lambda _l: settle(400))
                tabs.organize.failed.connect(lambda _m: settle(400))
                window.side_tabs.setCurrentWidget(tabs.organize_page)
                tabs.organize.preview()
            QTimer.singleShot(20_000, lambda: settle(0))
        elif tab == "explain":
            window.explain_tab.view.explanation_shown.connect(lambda _ex: settle(400))
            window.explain_tab.view.message_shown.connect(lambda _m: settle(400))
            window.side_tabs.setCurrentWidget(window.explain_tab)
        else:
            window.side_tabs.setCurrentWidget(window.sample_view)
            settle(400)

    window.tree_ready.connect(tree_ready)
    window.library_opened.connect(lambda st: settle() if st.snapshot is None else None)
    QTimer.singleShot(TIMEOUT_S * 1000, loop.quit)
    t0 = time.monotonic()
    window.open_storage(storage)
    loop.exec()
    if not state["ok"]:
        print(f"error: the window did not finish loading within {TIMEOUT_S} s", file=sys.stderr)
        return 1
    app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        print(f"error: could not write {out}", file=sys.stderr)
        return 1
    print(f"saved {out} ({window.width()}x{window.height()}, tab {tab}, {time.monotonic() - t0:.2f} s after opening)")
    problems = clipped_widgets(window)
    if (window.width(), window.height()) != size:
        problems.append(f"the window grew to {window.width()}x{window.height()} (its content needs more than {size})")
    if tab == "results":
        problems += horizontal_scrollbars(window.results_tab)
    for p in problems:
        print(f"clipped: {p}", file=sys.stderr)
    window.runner.cancel_all()
    window.runner.wait(30_000)
    window.close()
    return 0
