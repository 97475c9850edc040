"""Regenerate docs/screenshot-label-smarter.png: the real window with Label next 20 in the
sample table, the suspect labels (⚠) in the tree and the Explain tab.

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshot_label_smarter.py DATA_DIR [OUT.png]

``DATA_DIR``: a data folder with a scanned, featured library and some labels (for example
the one ``bench/ui_stall_active.py`` leaves under /tmp/fsorg-bench-active). It is copied
first: the screenshot never writes to it.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from engine.core.settings import StorageSettings  # noqa: E402
from fsorg_desktop.app_settings import AppSettings  # noqa: E402
from fsorg_desktop.main_window import MainWindow  # noqa: E402


def wait(app, cond, timeout: float = 600) -> None:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError
        app.processEvents()
        time.sleep(0.005)


def main() -> int:
    src = Path(sys.argv[1])
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs" / "screenshot-label-smarter.png"
    tmp = Path(tempfile.mkdtemp())
    shutil.copytree(src, tmp / "data")
    storage = StorageSettings.from_storage_arg(tmp / "data")
    app = QApplication.instance() or QApplication([])
    w = MainWindow(storage, app_settings=AppSettings(QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat)))
    w.dialogs.confirm = lambda title, text: True
    w.auto_extract = False
    w.resize(1440, 860)
    w.show()
    ready = []
    w.tree_ready.connect(lambda: ready.append(1))
    w.open_storage(storage)
    wait(app, lambda: ready)
    w.active_actions.label_next()
    wait(app, lambda: w.sample_model.rowCount() and not w.runner.running())
    w.active_actions.find_suspects()
    wait(app, lambda: len(w.suspects) and not w.runner.running())
    wait(app, lambda: w.tree_model.is_flat and w.tree_model.rowCount() > 0, 30)
    first = w.tree_model.index(0, 0)
    w.tree_view.tree.setCurrentIndex(first)
    w.side_tabs.setCurrentWidget(w.explain_stack)
    wait(app, lambda: w.explain_view.explanation is not None, 120)
    w.jobs_dock.hide()
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    w.grab().save(str(out))
    print(f"wrote {out}")
    w.explain_view.shutdown()
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
