"""Starting the app: ``fsorg-desktop`` / ``python -m fsorg_desktop [--storage DIR] [--screenshot PNG]``.

Startup stays light (the window must show in under 2 s): only Qt and the engine's small
modules are imported here; torch and sentence-transformers are imported inside the
model jobs, on a worker thread, the first time they run.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from engine import __version__
from engine.core.settings import StorageSettings
from fsorg_desktop.app_tabs import SCREENSHOT_TABS

ORG = "fsorg"
APP = "fsorg"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fsorg-desktop",
        description="fsorg desktop app: drop your library folder on the window, label folders, train a model.",
    )
    p.add_argument(
        "--storage",
        metavar="DIR",
        help="data folder holding index.db and training.db (default: the per-user data folder or "
        "$FS_ORGANIZER_BASE_PATH/data; the one used last is offered on the welcome screen)",
    )
    p.add_argument(
        "--screenshot",
        metavar="PNG",
        help="open the main window on the data folder, wait until the tree has loaded, save the "
        "window as PNG and exit",
    )
    p.add_argument("--size", metavar="WxH", default="1280x800",
                   help="window size for --screenshot (default 1280x800)")
    p.add_argument("--tab", default="sample", choices=list(SCREENSHOT_TABS),
                   help="what --screenshot shows (default: the tree with the sample table)")
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
    parser = build_parser()
    args = parser.parse_args(argv)
    size = (1280, 800)
    if args.screenshot:
        from fsorg_desktop.screenshot import parse_size

        try:
            size = parse_size(args.size)
        except ValueError as e:
            parser.error(str(e))  # one line, exit code 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    from PySide6.QtCore import QCoreApplication, Qt, QTimer
    from PySide6.QtGui import QGuiApplication, QIcon
    from PySide6.QtWidgets import QApplication

    from fsorg_desktop.app_settings import AppSettings

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
    # The data folder used last is offered on the welcome screen ("Reopen …"), not reopened
    # silently: without --storage the app opens the default data folder.
    storage = StorageSettings.from_storage_arg(args.storage) if args.storage else StorageSettings.default()

    window = MainWindow(storage, app_settings=app_settings)
    _install_excepthook(lambda: window)
    if args.screenshot:
        from fsorg_desktop.screenshot import take

        return take(app, window, storage, Path(args.screenshot), size=size, tab=args.tab)
    window.show()
    QTimer.singleShot(0, lambda: window.open_storage(storage))
    return app.exec()
