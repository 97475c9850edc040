"""Starting the app: ``fsorg-desktop`` / ``python -m fsorg_desktop [--storage DIR] [--screenshot PNG]``.

Startup stays light (the window must show in under 2 s): only Qt and the engine's small
modules are imported here; torch and sentence-transformers are imported inside the
model jobs, on a worker thread, the first time they run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from engine import __version__
from engine.core.settings import StorageSettings

ORG = "fsorg"
APP = "fsorg"
SCREENSHOT_TIMEOUT_S = 60


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fsorg-desktop",
        description="fsorg desktop app: drop your library folder on the window, label folders, train a model.",
    )
    p.add_argument(
        "--storage",
        metavar="DIR",
        help="data folder holding index.db and training.db (default: the one opened last, "
        "else the per-user data folder or $FS_ORGANIZER_BASE_PATH/data)",
    )
    p.add_argument(
        "--screenshot",
        metavar="PNG",
        help="open the main window on the data folder, wait until the tree has loaded, save the "
        "window as PNG and exit",
    )
    p.add_argument("--version", action="version", version=f"fsorg {__version__}")
    return p


def _install_excepthook(window_getter) -> None:
    """An exception in a slot must become a dialog, not a line on a terminal nobody sees."""
    previous = sys.excepthook

    def hook(etype, value, tb) -> None:
        import traceback

        previous(etype, value, tb)
        win = window_getter()
        if win is None:
            return
        value._fsorg_traceback = "".join(traceback.format_exception(etype, value, tb))  # type: ignore[attr-defined]
        try:
            win.dialogs.error("Something went wrong", value, "An action")
        except Exception:  # noqa: BLE001 - never raise from the excepthook
            pass

    sys.excepthook = hook


def run(argv: list[str] | None = None) -> int:
    import multiprocessing

    # Model jobs run in spawned child processes; in a frozen bundle the child re-enters here.
    multiprocessing.freeze_support()
    args = build_parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    from PySide6.QtCore import QCoreApplication, Qt, QTimer
    from PySide6.QtGui import QGuiApplication, QIcon
    from PySide6.QtWidgets import QApplication

    from fsorg_desktop.app_settings import LAST_DATA_DIR, AppSettings

    QCoreApplication.setOrganizationName(ORG)
    QCoreApplication.setApplicationName(APP)
    QCoreApplication.setApplicationVersion(__version__)
    QGuiApplication.setDesktopFileName("fsorg")
    # Fractional scaling (125 %, 150 %) as the system asks, not rounded to 1x/2x.
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    icon_path = Path(__file__).resolve().parent.parent / "resources" / "icons" / "fsorg.svg"
    if icon_path.exists():
        app.setWindowIcon(QIcon(str(icon_path)))

    from fsorg_desktop.main_window import MainWindow

    if args.screenshot:
        # A screenshot run must not touch the user's window state or recent list.
        import tempfile

        from PySide6.QtCore import QSettings

        tmp = tempfile.mkdtemp(prefix="fsorg-shot-")
        import atexit
        import shutil

        atexit.register(shutil.rmtree, tmp, True)  # the throwaway settings go when the run ends
        app_settings = AppSettings(QSettings(os.path.join(tmp, "settings.ini"), QSettings.Format.IniFormat))
    else:
        app_settings = AppSettings()
    if args.storage:
        storage = StorageSettings.from_storage_arg(args.storage)
    elif args.screenshot is None and app_settings.get(LAST_DATA_DIR):
        storage = StorageSettings.from_storage_arg(app_settings.get(LAST_DATA_DIR))
    else:
        storage = StorageSettings.default()

    window = MainWindow(storage, app_settings=app_settings)
    _install_excepthook(lambda: window)
    if args.screenshot:
        return _screenshot(app, window, storage, Path(args.screenshot))
    window.show()
    QTimer.singleShot(0, lambda: window.open_storage(storage))
    return app.exec()


def _screenshot(app, window, storage: StorageSettings, out: Path) -> int:
    """Open ``storage``, wait for the tree (or the drop zone) to be drawn, save, exit 0."""
    from PySide6.QtCore import QEventLoop, QTimer

    window.auto_extract = False  # a screenshot only looks; it never starts writing jobs
    window.dialogs.confirm = lambda title, text: True  # and never waits on a question
    window.resize(1280, 800)
    window.show()
    loop = QEventLoop()
    state = {"ok": False}

    def ready() -> None:
        # Two more turns of the event loop: the expanded rows get laid out and painted.
        QTimer.singleShot(150, finish)

    def finish() -> None:
        state["ok"] = True
        loop.quit()

    window.tree_ready.connect(ready)
    window.library_opened.connect(lambda st: ready() if st.snapshot is None else None)
    QTimer.singleShot(SCREENSHOT_TIMEOUT_S * 1000, loop.quit)
    t0 = time.monotonic()
    window.open_storage(storage)
    loop.exec()
    if not state["ok"]:
        print(f"error: the window did not finish loading within {SCREENSHOT_TIMEOUT_S} s", file=sys.stderr)
        return 1
    app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        print(f"error: could not write {out}", file=sys.stderr)
        return 1
    print(f"saved {out} ({time.monotonic() - t0:.2f} s after opening)")
    window.runner.cancel_all()
    window.runner.wait(30_000)
    window.close()
    return 0
